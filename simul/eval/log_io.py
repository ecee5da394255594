"""Read and write SimulEval's ``instances.log`` (JSON lines), with simul's multi-stream extension.

Why: a run scored here must be rescorable by SimulEval 1.1.4 (``simuleval --score-only``) and a
SimulEval run must be scorable here.  A SimulEval line holds one output stream:

    {"index", "prediction", "delays", "elapsed", "prediction_length", "reference",
     "source", "source_length"}   (+ "prediction_spm" for the spm latency unit)

simul keeps that line intact for its *primary* stream, names it with a ``"stream"`` key, and puts
every other stream under ``"streams": {name: {"prediction", "delays", "elapsed", "reference"}}``.
SimulEval ignores both keys (its ``LogInstance`` just sets them as attributes), so it rescores the
primary stream; simul scores them all.  A plain SimulEval line becomes one stream called
``"main"``.

Whether the source was speech (delays in ms) or text (delays in source tokens) is not on the line:
SimulEval keeps it in ``config.yaml`` beside the log.  We read that file when present, else infer
it (a list-valued ``source`` is SimulEval's soundfile description of a wav; a text source has as many
whitespace tokens as ``source_length``), and a caller can always say it explicitly.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from simul.eval.records import DEFAULT_STREAM, InstanceOutput, SourceType, StreamOutput
from simul.io import atomic_write_text, yaml_error_message

__all__ = ["collector_paused", "find_log", "read_instances_log", "write_instances_log"]

_STREAM_FIELDS = ("prediction", "delays", "elapsed", "reference")
_SIMULEVAL_FIELDS = {
    "index",
    "prediction",
    "delays",
    "elapsed",
    "prediction_length",
    "reference",
    "source",
    "source_length",
    "prediction_spm",
    "stream",
    "streams",
}


def find_log(path: Path) -> Path:
    """Return ``path`` if it is a file, else ``path/instances.log``; raise if neither exists."""
    path = Path(path)
    if path.is_dir():
        path = path / "instances.log"
    if not path.is_file():
        raise FileNotFoundError(f"no instances.log at {path}")
    return path


_NUMBER_TYPES = frozenset({int, float})
_JSON = json.JSONDecoder()


def _number_list(value: Any, where: str, name: str) -> tuple[float, ...]:
    """``value`` as a tuple, if it is a list; its items are checked by ``_check_times``."""
    if type(value) is not list:
        _explain_number_list(value, where, name)
    return tuple(value)


def _explain_number_list(value: Any, where: str, name: str) -> None:
    """Raise the ValueError that says what is wrong with ``value`` (one list of times)."""
    if not isinstance(value, list):
        raise ValueError(f"{where}: `{name}` must be a list of numbers, but is {value!r} instead.")
    for position, item in enumerate(value):
        try:
            finite = not isinstance(item, bool) and math.isfinite(item)
        except (TypeError, OverflowError):
            finite = False
        if not finite:
            raise ValueError(
                f"{where}: `{name}[{position}]` must be a finite number, but is {item!r} instead."
            )
    for position in range(1, len(value)):
        if value[position] < value[position - 1]:
            raise ValueError(
                f"{where}: `{name}` must be non-decreasing, but {name}[{position}] = {value[position]} "
                f"< {name}[{position - 1}] = {value[position - 1]}."
            )
    if value and value[0] < 0:
        raise ValueError(f"{where}: `{name}[0]` must be >= 0, but is {value[0]} instead.")


def _check_times(lists: Sequence[tuple[str, str, tuple[Any, ...]]]) -> None:
    """Check every list of times at once: JSON numbers, finite, non-decreasing, from >= 0.

    Why at once: checking a log's million delays one by one in Python took longer than parsing
    the JSON.  Each entry is ``(where, name, values)``; the first bad list is explained by
    ``_explain_number_list``.
    """
    counts = np.fromiter((len(values) for _, _, values in lists), np.int64, len(lists))
    items = [values for _, _, values in lists]
    flat = None
    if _NUMBER_TYPES.issuperset(map(type, itertools.chain.from_iterable(items))):  # no bool, str
        try:
            flat = np.fromiter(itertools.chain.from_iterable(items), np.float64, counts.sum())
        except OverflowError:  # an integer beyond float range
            pass
    if flat is not None:
        starts = np.cumsum(counts) - counts
        bad = ~np.isfinite(flat)
        bad[1:] |= flat[1:] < flat[:-1]
        nonempty = starts[counts > 0]
        bad[nonempty] = ~np.isfinite(flat[nonempty]) | (flat[nonempty] < 0)  # a list starts anew
        if not bad.any():
            return
        first = int(np.searchsorted(starts, int(np.argmax(bad)), side="right")) - 1
        candidates = [first]
    else:
        candidates = range(len(lists))
    for position in candidates:
        _explain_number_list(list(lists[position][2]), lists[position][0], lists[position][1])


def _parse_stream(fields: Mapping[str, Any], where: str) -> StreamOutput:
    for name in ("prediction", "delays"):
        if name not in fields:
            raise ValueError(f"{where}: missing field `{name}`.")
    if not isinstance(fields["prediction"], str):
        raise ValueError(
            f"{where}: `prediction` must be a string, but is {fields['prediction']!r} instead."
        )
    delays = _number_list(fields["delays"], where, "delays")
    elapsed = _number_list(fields.get("elapsed", []), where, "elapsed")
    if elapsed and len(elapsed) != len(delays):
        raise ValueError(
            f"{where}: `elapsed` must be empty or as long as `delays` ({len(delays)}), "
            f"but has {len(elapsed)} values instead."
        )
    reference = fields.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise ValueError(f"{where}: `reference` must be a string, but is {reference!r} instead.")
    units = fields.get("prediction_spm")
    if units is not None and not (
        isinstance(units, list) and all(isinstance(u, str) for u in units)
    ):
        raise ValueError(
            f"{where}: `prediction_spm` must be a list of strings, but is {units!r} instead."
        )
    return StreamOutput(
        prediction=fields["prediction"],
        delays=delays,
        elapsed=elapsed,
        reference=reference,
        prediction_units=tuple(units) if units is not None else None,
    )


def _infer_source_type(lines: Sequence[Mapping[str, Any]]) -> SourceType:
    """Guess speech or text from the logged sources (see the module docstring)."""
    for line in lines:
        source = line.get("source")
        if isinstance(source, list):
            return "speech"
        if isinstance(source, str):
            if source.lower().endswith((".wav", ".flac", ".mp3", ".ogg")):
                return "speech"
            if len(source.split()) != line.get("source_length"):
                return "speech"
    return "text" if lines else "speech"


def _config_source_type(log_path: Path) -> SourceType | None:
    config = log_path.parent / "config.yaml"
    if not config.is_file():
        return None
    with open(config, encoding="utf-8") as f:
        try:
            values = yaml.safe_load(f) or {}
        except yaml.YAMLError as error:
            raise ValueError(yaml_error_message(config, error)) from None
    source_type = values.get("source_type") if isinstance(values, dict) else None
    if source_type in ("speech", "youtube"):
        return "speech"
    if source_type == "text":
        return "text"
    return None


def read_instances_log(
    path: Path, *, source_type: SourceType | None = None
) -> list[InstanceOutput]:
    """Read an ``instances.log`` (or a directory holding one) into ``InstanceOutput`` records.

    Args:
        path: the log file, or the output directory of a SimulEval or simul run.
        source_type: ``"speech"`` or ``"text"``; default: ``config.yaml`` beside the log, else inferred.

    Raises:
        ValueError: naming the file, the line (1-based) and the field, for any malformed line; nothing
            is returned partially.
    """
    log_path = find_log(path)
    with collector_paused():
        return _read_log(log_path, source_type)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a log is parsed or scored, then restore it.

    Why: parsing allocates a few containers per delay list and nothing cyclic; the collector
    would rescan the growing heap over and over (measured: a third of the reading time for
    20,000 lines, and a fifth of a whole ``simul score`` run).  Reference counting still frees
    everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_BOM = b"\xef\xbb\xbf"


def _parse_line(raw: bytes, where: str) -> Any:
    """One log line's JSON value, or ``None`` for a blank line.

    orjson parses the line; what it refuses goes through the standard library, so that what
    that accepts (``NaN``, integers past 64 bits, non-ASCII whitespace around the object) is
    still read the same, and what it refuses is explained with the same words as before.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{where}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})."
        ) from None
    text = text.strip()
    if not text:
        return None
    try:
        value, end = _JSON.raw_decode(text)  # json.loads without its per-call wrapping
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not a JSON object ({error.msg}).") from None
    return value


def _read_log(log_path: Path, source_type: SourceType | None) -> list[InstanceOutput]:
    raw_lines: list[tuple[int, str, dict[str, Any]]] = []
    name = str(log_path)  # formatted once: a Path in an f-string costs a microsecond a line
    data = log_path.read_bytes()
    if data.startswith(_BOM):
        raise ValueError(
            f"{name}:1: the log starts with a UTF-8 byte order mark (BOM), which JSON lines must "
            "not have; save it as UTF-8 without BOM."
        )
    # bytes.splitlines splits where text mode does (\n, \r\n, \r), so line numbers agree.
    for line_number, raw in enumerate(data.splitlines(), start=1):
        if not raw or raw.isspace():
            continue
        where = f"{name}:{line_number}"
        value = _parse_line(raw, where)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ValueError(
                f"{where}: must be a JSON object, but is {type(value).__name__} instead."
            )
        raw_lines.append((line_number, where, value))
    if not raw_lines:
        raise ValueError(f"{log_path}: the log holds no instances.")

    if source_type is None:
        source_type = _config_source_type(log_path) or _infer_source_type(
            [v for *_, v in raw_lines]
        )

    instances = []
    times: list[tuple[str, str, tuple[float, ...]]] = []  # checked all at once at the end
    seen: dict[int, int] = {}
    for line_number, where, value in raw_lines:
        for name in ("index", "source_length"):
            if name not in value:
                raise ValueError(f"{where}: missing field `{name}`.")
        index = value["index"]
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"{where}: `index` must be an integer, but is {index!r} instead.")
        if index in seen:
            raise ValueError(f"{where}: `index` {index} repeats line {seen[index]}.")
        seen[index] = line_number
        primary = value.get("stream", DEFAULT_STREAM)
        streams = {primary: _parse_stream(value, where)}
        extra_streams = value.get("streams", {})
        if not isinstance(extra_streams, dict):
            raise ValueError(
                f"{where}: `streams` must be an object, but is {extra_streams!r} instead."
            )
        for name, fields in extra_streams.items():
            if name in streams:
                raise ValueError(f"{where}: stream `{name}` is given twice.")
            if not isinstance(fields, dict):
                raise ValueError(
                    f"{where}: `streams.{name}` must be an object, but is {fields!r} instead."
                )
            streams[name] = _parse_stream(fields, f"{where} (stream {name})")
        for name, stream in streams.items():
            place = where if name == primary else f"{where} (stream {name})"
            times.append((place, "delays", stream.delays))
            times.append((place, "elapsed", stream.elapsed))
        try:
            instances.append(
                InstanceOutput(
                    index=index,
                    source_type=source_type,
                    source_length=value["source_length"],
                    streams=streams,
                    source=value.get("source"),
                    extra={k: v for k, v in value.items() if k not in _SIMULEVAL_FIELDS},
                    origin=where,
                )
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    _check_times(times)
    return instances


def _stream_fields(stream: StreamOutput) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "prediction": stream.prediction,
        "delays": list(stream.delays),
        "elapsed": list(stream.elapsed),
        "prediction_length": len(stream.delays),
        "reference": stream.reference,
    }
    if stream.prediction_units is not None:
        fields["prediction_spm"] = list(stream.prediction_units)
    return fields


def write_instances_log(
    directory: Path,
    instances: Iterable[InstanceOutput],
    *,
    primary_stream: str | None = None,
) -> Path:
    """Write ``directory/instances.log`` and ``config.yaml`` so that SimulEval can rescore them.

    Args:
        directory: created if missing.
        instances: the records to write, in order.
        primary_stream: the stream SimulEval sees (default: the first stream of each instance).

    Returns:
        The path of the log.  Both files are written atomically.
    """
    directory = Path(directory)
    lines = []
    source_types = set()
    for instance in instances:
        name = primary_stream if primary_stream is not None else next(iter(instance.streams))
        if name not in instance.streams:
            raise ValueError(
                f"instance {instance.index} has no stream `{name}`; it has {sorted(instance.streams)}."
            )
        source_types.add(instance.source_type)
        main = instance.streams[name]
        line: dict[str, Any] = {"index": instance.index, **_stream_fields(main)}
        line["source"] = instance.source
        line["source_length"] = instance.source_length
        line.update(instance.extra)
        line["stream"] = name
        others = {k: _stream_fields(v) for k, v in instance.streams.items() if k != name}
        if others:
            line["streams"] = others
        lines.append(json.dumps(line, ensure_ascii=False))
    if len(source_types) > 1:
        raise ValueError(
            f"instances mix source types {sorted(source_types)}; write them separately."
        )
    directory.mkdir(parents=True, exist_ok=True)
    source_type = source_types.pop() if source_types else "speech"
    # SimulEval reads the types back from config.yaml with --score-only.
    atomic_write_text(
        directory / "config.yaml",
        yaml.safe_dump({"source_type": source_type, "target_type": "text"}),
    )
    log_path = directory / "instances.log"
    atomic_write_text(log_path, "".join(line + "\n" for line in lines))
    return log_path

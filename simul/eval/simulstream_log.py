"""Read simulstream's metrics log (FBK's streaming server) into one record per talk.

Why: IWSLT 2026 systems served with simulstream are scored from its log, a JSON line per
processed chunk (``{"id", "total_audio_processed" (s), "computation_time" (s),
"generated_tokens", "deleted_tokens"}``) after one ``{"id", "metadata": {"wav_name"}}`` line per
talk.  A chunk may retract tokens written before (re-translation).  The final output of a talk
and the delay of each of its words are rebuilt as simulstream 1.0.0's ``LogReader`` rebuilds
them (what OmniSTEval's long form reads):

- each word's delay is the audio processed (ms) when it was first written, and its
  computation-aware delay adds that chunk's computation time;
- retracted words lose their delays; a word whose text changes (a sub-word retracted or added
  at its end) takes the delay of the chunk that changed it.

Only simulstream's ``simuleval`` detokenizer is supported (tokens joined with spaces for the
word unit, without for char; its ``LogReader`` has no spm unit); its ``hf`` and ``canary`` ones
need their models.  Each record's ``source`` is the talk's ``wav_name`` and |X| the audio processed at
its last chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simul.eval.log_io import _parse_line
from simul.eval.records import DEFAULT_STREAM, InstanceOutput, StreamOutput

__all__ = ["read_simulstream_log"]

Unit = Literal["word", "char"]


def _detokenizer(unit: Unit) -> Callable[[list[str]], str]:
    if unit == "word":
        return " ".join
    if unit == "char":
        return "".join
    raise ValueError(f"`latency_unit` must be word or char, but is {unit!r} instead.")


def _items(text: str, unit: Unit) -> list[str]:
    """The latency units of ``text``: simulstream splits words on single spaces."""
    return [word for word in text.split(" ") if word] if unit == "word" else list(text)


@dataclass
class _Talk:
    """One talk's output while its chunks are replayed (seconds, as logged)."""

    wav_name: str
    origin: str
    tokens: list[str] = field(default_factory=list)
    text: str | None = None
    delays: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    processed_s: float = 0.0


def _apply(
    talk: _Talk, line: dict, unit: Unit, detokenize: Callable[[list[str]], str], where: str
) -> None:
    """Replay one chunk on ``talk`` (the module docstring's rules)."""
    try:
        delay = float(line["total_audio_processed"])
        aware = delay + float(line["computation_time"])
        generated, deleted = list(line["generated_tokens"]), list(line["deleted_tokens"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{where}: a chunk needs total_audio_processed, computation_time, "
                         f"generated_tokens and deleted_tokens ({error!r}).") from None  # fmt: skip
    talk.processed_s = delay
    if deleted:
        if talk.text is None or talk.tokens[-len(deleted) :] != deleted:
            raise ValueError(
                f"{where}: `deleted_tokens` {deleted!r} are not the end of the output so far."
            )
        talk.tokens = talk.tokens[: -len(deleted)]
        before, text = _items(talk.text, unit), detokenize(talk.tokens)
        after = _items(text, unit)
        removed = len(before) - len(after)
        if removed > 0:
            del talk.delays[-removed:], talk.elapsed[-removed:]
        if unit == "word" and after and before[len(after) - 1] != after[-1]:
            talk.delays[-1], talk.elapsed[-1] = delay, aware
        talk.text = text
    talk.tokens.extend(generated)
    text = detokenize(talk.tokens)
    after = _items(text, unit)
    if talk.text is None:
        talk.delays, talk.elapsed = [delay] * len(after), [aware] * len(after)
    else:
        before = _items(talk.text, unit)
        added = len(after) - len(before)
        if added > 0:
            talk.delays += [delay] * added
            talk.elapsed += [aware] * added
        last = len(before) - 1
        if unit == "word" and last >= 0 and after[last] != before[-1]:
            talk.delays[last], talk.elapsed[last] = delay, aware
    talk.text = text


def read_simulstream_log(path: Path, *, latency_unit: Unit = "word") -> list[InstanceOutput]:
    """Read a simulstream metrics log: one speech record per talk, delays in ms.

    Args:
        path: the JSON-lines log the server wrote (``metrics.filename`` of its config).
        latency_unit: the eval config's ``latency_unit`` (simulstream's ``simuleval`` detokenizer).

    Raises:
        ValueError: naming the file and line: malformed JSON, a chunk of an unknown talk, a chunk
            without its fields, retracted tokens that were not written, a talk without output.
    """
    detokenize = _detokenizer(latency_unit)
    name = str(path)
    talks: dict[object, _Talk] = {}
    for line_number, raw in enumerate(Path(path).read_bytes().splitlines(), start=1):
        where = f"{name}:{line_number}"
        line = _parse_line(raw, where) if raw.strip() else None
        if not isinstance(line, dict) or "id" not in line:
            continue  # simulstream skips lines without an id too
        if "metadata" in line:
            wav_name = (
                (line["metadata"] or {}).get("wav_name")
                if isinstance(line["metadata"], dict)
                else None
            )
            if not isinstance(wav_name, str):
                raise ValueError(
                    f"{where}: `metadata.wav_name` must name the talk's audio, but is {wav_name!r}."
                )
            talks[line["id"]] = _Talk(wav_name=wav_name, origin=where)
            continue
        if line["id"] not in talks:
            raise ValueError(
                f"{where}: chunk of talk id {line['id']!r}, which no metadata line introduced."
            )
        _apply(talks[line["id"]], line, latency_unit, detokenize, where)
    records = []
    for index, talk in enumerate(talks.values()):
        if not talk.processed_s > 0:
            raise ValueError(f"{talk.origin}: talk {talk.wav_name} has no processed chunk.")
        records.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=talk.processed_s * 1000,
                streams={
                    DEFAULT_STREAM: StreamOutput(
                        prediction=talk.text or "",
                        delays=tuple(d * 1000 for d in talk.delays),
                        elapsed=tuple(e * 1000 for e in talk.elapsed),
                    )
                },  # fmt: skip
                source=talk.wav_name,
                origin=talk.origin,
            )
        )
    return records

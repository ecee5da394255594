"""What every corpus reader shares: located instances, header-only audio probes, text lines.

Why one place: the readers differ in how a corpus lists its utterances, but they fail in the
same ways (a missing wav, a corrupt header, an undecodable line), and a researcher fixing a corpus
needs the same kind of message from all of them: the file and 1-based line of the entry, the field,
what was expected and what came.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import soundfile

from simul.data.instance import Instance

__all__ = [
    "AudioInfo",
    "AudioProbe",
    "CorpusItem",
    "ReadErrors",
    "entry_error",
    "parse_seconds",
    "read_text_lines",
    "read_tsv",
    "row_fields",
    "require_line_count",
    "resolve_audio_path",
    "seconds_to_samples",
]


@dataclass(frozen=True)
class CorpusItem:
    """An instance and the corpus entry it was read from, so that later checks can name it.

    Attributes:
        instance: the utterance.
        origin: ``"path:line"`` (1-based) of the entry that listed it.
    """

    instance: Instance
    origin: str


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says (no samples are read).

    Attributes:
        path: the file.
        sample_rate: in Hz.
        num_channels: 1 for mono.
        num_samples: frames per channel.
        format: libsndfile's container name (``"WAV"``, ``"FLAC"``, ``"MP3"``, ...).
    """

    path: Path
    sample_rate: int
    num_channels: int
    num_samples: int
    format: str


def entry_error(where: str, message: str) -> ValueError:
    """A ``ValueError`` whose message starts with the entry's ``path:line``."""
    return ValueError(f"{where}: {message}")


def _decode_hint(path: Path) -> str:
    if path.suffix.lower() == ".mp3":
        return (
            f" libsndfile {soundfile.__libsndfile_version__} could not decode this mp3 (MP3 needs "
            "libsndfile >= 1.1.0, which soundfile >= 0.12 wheels bundle); convert the clips to "
            "wav or flac (e.g. `ffmpeg -i clip.mp3 -ar 16000 clip.wav`)."
        )
    return ""


class AudioProbe:
    """Reads audio headers with ``soundfile.info``, once per file.

    Why a cache: a MuST-C talk wav holds dozens of segments; its header is read once.  The probe
    never loads samples (``simul.data.check`` does that).
    """

    def __init__(self) -> None:
        self._infos: dict[Path, AudioInfo] = {}

    def info(self, path: Path, where: str, field: str) -> AudioInfo:
        """Return the header facts of ``path``.

        Args:
            path: the audio file.
            where: ``"path:line"`` of the entry naming it, for error messages.
            field: the entry's field that names the audio (``wav``, ``audio``, ``path``...).

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: the file is not decodable audio, or holds no samples.
        """
        cached = self._infos.get(path)
        if cached is not None:
            return cached
        if not path.is_file():
            raise FileNotFoundError(f"{where}: `{field}` names {path}, which does not exist.")
        try:
            raw = soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise entry_error(
                where,
                f"`{field}` names {path}, which is not readable audio ({error})."
                + _decode_hint(path),
            ) from error
        info = AudioInfo(
            path=path,
            sample_rate=int(raw.samplerate),
            num_channels=int(raw.channels),
            num_samples=int(raw.frames),
            format=str(raw.format),
        )
        if info.num_samples <= 0:
            raise entry_error(where, f"`{field}` names {path}, which holds no audio samples.")
        if info.sample_rate <= 0:
            raise entry_error(
                where,
                f"`{field}` names {path}, whose sample rate must be > 0, but is {info.sample_rate}.",
            )
        self._infos[path] = info
        return info


class ReadErrors:
    """Either raise the first bad entry (default) or collect every one and go on.

    Why: a training job wants to stop at the first broken entry with its file and line; a
    validator (``simul data check``) wants all of them.  Errors about the corpus as a whole (a
    missing file, mismatched line counts) always raise: there is nothing sensible to go on with.
    """

    def __init__(self, collect: list[str] | None) -> None:
        self._collect = collect

    def handle(self, error: ValueError | FileNotFoundError) -> None:
        """Raise ``error``, or record its message when collecting."""
        if self._collect is None:
            raise error
        self._collect.append(str(error))


def resolve_audio_path(value: str, base: Path) -> Path:
    """``value`` as a path: absolute as given, relative against ``base``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def parse_seconds(value: str, where: str, field: str, *, positive: bool) -> Decimal:
    """A decimal number of seconds from a text field (exact: no float rounding before samples)."""
    try:
        seconds = Decimal(value.strip())
    except InvalidOperation:
        seconds = None
    if seconds is None or not seconds.is_finite():
        raise entry_error(
            where, f"`{field}` must be a number of seconds, but is {value!r} instead."
        )
    if positive and seconds <= 0:
        raise entry_error(where, f"`{field}` must be > 0 seconds, but is {value!r} instead.")
    if not positive and seconds < 0:
        raise entry_error(where, f"`{field}` must be >= 0 seconds, but is {value!r} instead.")
    return seconds


def seconds_to_samples(seconds: Decimal, sample_rate: int) -> int:
    """Round ``seconds * sample_rate`` to the nearest sample (ties to even), exactly."""
    return int((seconds * sample_rate).to_integral_value())


def require_line_count(path: Path, lines: list[str], count: int, counted_in: str) -> None:
    """Raise unless ``path`` has one line per entry of ``counted_in``.

    Raises:
        ValueError: naming both files, both counts and the first line without a partner.
    """
    if len(lines) != count:
        raise ValueError(
            f"{path} must have one line per entry of {counted_in} ({count}), but has {len(lines)} "
            f"instead; line {min(len(lines), count) + 1} is the first without a partner."
        )


def read_text_lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file, stripped, one per entry (``\\n`` separates lines).

    Args:
        path: the file.
        what: what the file is, for messages (``"source transcripts"``, ``"de translations"``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line is not valid UTF-8 (the message gives its number).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist.")
    data = path.read_bytes()
    if not data:
        return []
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError as error:
            raise entry_error(
                f"{path}:{number}", f"{what} line is not valid UTF-8 ({error})."
            ) from error
    return lines


def read_tsv(
    path: Path, required: Sequence[str], what: str
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Read a fairseq-style TSV: a header, tab-separated, no quoting, backslash escapes.

    This is the dialect fairseq and CoVoST write with pandas (``quoting=csv.QUOTE_NONE``,
    ``escapechar="\\"``); blank lines are skipped, as pandas' ``read_csv`` does.

    Args:
        path: the file.
        required: column names the header must contain.
        what: what the file is, for messages (``"fairseq S2T manifest"``).

    Returns:
        The header and, per data row, ``("path:line", fields)`` (not yet checked for length).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: empty file, missing columns, no data rows, invalid UTF-8.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    rows = []
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        header: list[str] | None = None
        try:
            for row in reader:
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                if row:
                    rows.append((f"{path}:{reader.line_num}", row))
        except UnicodeDecodeError as error:
            raise entry_error(
                f"{path}:{reader.line_num + 1}", f"line is not valid UTF-8 ({error})."
            ) from error
    if header is None or not any(header):
        raise ValueError(f"{what} {path} is empty: it must start with a header row.")
    missing = [column for column in required if column not in header]
    if missing:
        raise entry_error(
            f"{path}:1",
            f"header must have the columns {', '.join(required)}, but lacks {', '.join(missing)} "
            f"(it has {', '.join(header)}).",
        )
    if not rows:
        raise ValueError(f"{what} {path} has a header but no rows.")
    return header, rows


def row_fields(row: list[str], header: list[str], where: str) -> dict[str, str]:
    """One TSV row as ``{column: value}``; raise if it has the wrong number of fields."""
    if len(row) != len(header):
        raise entry_error(
            where, f"row must have {len(header)} tab-separated fields, but has {len(row)} instead."
        )
    return dict(zip(header, row, strict=True))

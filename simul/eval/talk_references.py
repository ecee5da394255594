"""Segment references of whole talks: where each reference segment lies in its talk, and its text.

Why: StreamLAAL scores a talk-level output against the corpus's segment-level references,
which need the talk each segment belongs to, its offset and duration in the talk, and one text
per output stream.  MuST-C keeps these in ``txt/{split}.yaml`` (one ``{wav, offset, duration}``
per segment, seconds) and ``txt/{split}.{lang}`` (one line per segment, in YAML order), the
files FBK's ``stream_laal.py`` reads.  The YAML goes through the MuST-C reader's parser
(``simul.data.readers``), so the same file fails with the same messages everywhere; unlike
``read_mustc`` this needs no wavs.

Milliseconds are ``float(seconds) * 1000``, as FBK computes them from the YAML float (16.005 s
gives 16004.999999999998 ms, not 16005): the re-based delays then equal FBK's to the last bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

from simul.data.readers._common import (
    entry_error,
    parse_seconds,
    read_text_lines,
    require_line_count,
)
from simul.data.readers.mustc import _segment_nodes

__all__ = ["ReferenceSegment", "TalkReferences", "read_talk_references"]


@dataclass(frozen=True)
class ReferenceSegment:
    """One reference segment of a talk."""

    index: int
    """Its position in the segment list (0-based; the reference files' line number - 1)."""
    offset_ms: float
    """Where it starts in the talk's audio."""
    duration_ms: float
    """How long it is: |X| of its latency."""
    references: Mapping[str, str]
    """Reference text by output stream (``{"st": ..., "asr": ...}``)."""
    origin: str
    """``path:line`` of its YAML entry, for messages."""


@dataclass(frozen=True)
class TalkReferences:
    """The reference segments of one talk, in talk order."""

    talk: str
    """The talk's audio file name (no directory): how log lines are matched to talks."""
    segments: tuple[ReferenceSegment, ...]
    """(K,) its segments, by non-decreasing offset."""


def read_talk_references(
    yaml_path: Path, reference_paths: Mapping[str, Path]
) -> list[TalkReferences]:
    """Read a MuST-C segment list and one reference file per output stream, grouped by talk.

    Args:
        yaml_path: ``txt/{split}.yaml``: one ``{wav, offset, duration, ...}`` per segment.
        reference_paths: by stream name, a file of one reference per segment, in YAML order
            (``{"st": txt/{split}.de, "asr": txt/{split}.en}``).

    Returns:
        The talks in order of first appearance in the YAML, each with its segments in YAML
        order.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: naming the file, line and field: malformed YAML, a missing or negative
            ``offset``, a ``duration`` <= 0, a reference file whose line count differs from the
            YAML's, or a talk whose segments are not in offset order (re-segmentation aligns
            them in file order, so they must follow the talk).
    """
    if not reference_paths:
        raise ValueError(
            "`reference_paths` must name at least one stream's reference file, but is empty."
        )
    yaml_path = Path(yaml_path)
    nodes = _segment_nodes(yaml_path)
    texts: dict[str, list[str]] = {}
    for stream, path in reference_paths.items():
        texts[stream] = read_text_lines(Path(path), f"stream {stream} reference")
        require_line_count(Path(path), texts[stream], len(nodes), yaml_path.name)
    talks: dict[str, list[ReferenceSegment]] = {}
    for index, (line, fields) in enumerate(nodes):
        where = f"{yaml_path}:{line}"
        if fields is None:
            raise entry_error(where, "a segment must be a mapping {wav, offset, duration, ...}.")
        for key in ("wav", "offset", "duration"):
            if not fields.get(key, "").strip():
                raise entry_error(
                    where, f"segment must have a non-empty `{key}`, but it is missing."
                )
        offset = parse_seconds(fields["offset"], where, "offset", positive=False)
        duration = parse_seconds(fields["duration"], where, "duration", positive=True)
        talk = PurePath(fields["wav"].strip()).name
        segment = ReferenceSegment(
            index=index,
            offset_ms=float(offset) * 1000,
            duration_ms=float(duration) * 1000,
            references={stream: lines[index] for stream, lines in texts.items()},
            origin=where,
        )
        previous = talks.setdefault(talk, [])
        if previous and segment.offset_ms < previous[-1].offset_ms:
            raise entry_error(
                where,
                f"`offset` {fields['offset']} s of talk {talk} must not be below the previous "
                f"segment's ({previous[-1].origin}), but is: sort the talk's segments by offset.",
            )
        previous.append(segment)
    return [TalkReferences(talk=talk, segments=tuple(segments)) for talk, segments in talks.items()]

"""MuST-C reader: YAML segments into long talk wavs, parallel text files, optional gold times.

Layout (``root`` is MuST-C's ``en-XX/data`` directory, or a corpus built by ``simul data synth``)::

    root/{split}/wav/{talk}.wav          full talks
    root/{split}/txt/{split}.yaml        one item per segment: {wav, offset, duration, speaker_id}
    root/{split}/txt/{split}.{lang}      one line per segment, in YAML order, per language
    root/{split}/txt/{split}.jsonl       optional (simul's built-in corpus): one JSON object per
                                         segment, in YAML order: {"id", "words", "alignments"}

``offset`` and ``duration`` are seconds; they become samples of the talk wav by exact decimal
rounding (``start = round(offset * sr)``, ``end = round((offset + duration) * sr)``), so adjacent
segments never overlap or leave gaps through float error.  Like fairseq's ``prep_mustc_data.py``,
YAML values are read as plain strings and a segment's id is ``{talk}_{i}``, ``i`` its rank by offset
within its talk; the JSON-lines file, when present, supplies the ids instead.

JSON-lines fields: ``words`` is ``[[word, start_ms, end_ms], ...]`` with times in milliseconds from
the segment start; ``alignments`` maps a target language to ``[[source_index, target_index], ...]``
over whitespace-split words.  Word times must be in order and inside the segment, and alignment
indices in range: ``simul.data.check`` verifies that (the reader only checks the shapes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from simul.data.instance import Instance, WordSpan
from simul.data.readers._common import (
    AudioInfo,
    AudioProbe,
    CorpusItem,
    ReadErrors,
    entry_error,
    parse_seconds,
    read_text_lines,
    require_line_count,
    seconds_to_samples,
)

__all__ = ["read_mustc", "read_mustc_items"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# One MuST-C segment per line, in flow style: ``- {duration: 3.5, offset: 16.21, rW: 9, ...}``.
# Plain scalars only (no quotes, anchors, tags, comments, nested collections): anything else
# falls back to the YAML parser, which gives the same strings (``test_flow_fast_path_...``).
_FLOW_LINE = re.compile(r"- \{(?P<body>[^{}\[\]'\"#&*!|>%@`?]*)\}[ \t\r]*")
_FLOW_KEY = re.compile(r"[A-Za-z_][\w.-]*")
_FLOW_VALUE = re.compile(r"[\w.+/][^:]*")


def _flow_segments(text: str) -> list[tuple[int, dict[str, str] | None]] | None:
    """Parse a MuST-C YAML file of one flow mapping per line without the YAML parser.

    Why: PyYAML (even with libyaml) needs about 25 s for the 230k segments of MuST-C's train
    split; this takes a second.  Returns ``None`` when any line is not of the simple form.
    """
    segments: list[tuple[int, dict[str, str] | None]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        match = _FLOW_LINE.fullmatch(line)
        if match is None:
            return None
        fields: dict[str, str] = {}
        for part in match["body"].split(","):
            key, separator, value = part.partition(": ")
            key, value = key.strip(), value.strip()
            if not (separator and _FLOW_KEY.fullmatch(key) and _FLOW_VALUE.fullmatch(value)):
                return None
            if key in fields:
                return None
            fields[key] = value
        segments.append((number, fields))
    return segments or None


def _yaml_segments(data: bytes, yaml_path: Path) -> list[tuple[int, dict[str, str] | None]]:
    """Parse the segment list with PyYAML, keeping each item's line (values as plain strings)."""
    try:
        root = yaml.compose(data, Loader=_LOADER)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark is not None else 1
        raise entry_error(f"{yaml_path}:{line}", f"not valid YAML ({error.problem}).") from error
    if root is None:
        raise ValueError(f"MuST-C segment list {yaml_path} is empty.")
    if not isinstance(root, yaml.SequenceNode):
        raise entry_error(
            f"{yaml_path}:{root.start_mark.line + 1}",
            "the segment list must be a YAML list, but is something else instead.",
        )
    segments: list[tuple[int, dict[str, str] | None]] = []
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            segments.append((line, None))
            continue
        fields = {
            str(key.value): str(value.value)
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode)
        }
        segments.append((line, fields))
    return segments


def _segment_nodes(yaml_path: Path) -> list[tuple[int, dict[str, str] | None]]:
    """The YAML segment list as ``(1-based line, {key: string value})`` pairs.

    A list item that is not a mapping comes back as ``None`` so that the caller reports it with
    the other per-segment problems.
    """
    if not yaml_path.is_file():
        raise FileNotFoundError(f"MuST-C segment list {yaml_path} does not exist.")
    data = yaml_path.read_bytes()
    try:
        segments = _flow_segments(data.decode("utf-8"))
    except UnicodeDecodeError:
        segments = None
    if segments is None:
        segments = _yaml_segments(data, yaml_path)
    if not segments:
        raise ValueError(f"MuST-C segment list {yaml_path} has no segments.")
    return segments


def _talk_ranks(segments: Sequence[tuple[int, dict[str, str] | None]]) -> list[int]:
    """Each segment's rank by offset within its talk (fairseq's id scheme); ties keep file order."""
    by_talk: dict[str, list[tuple[Decimal, int]]] = {}
    for position, (_, fields) in enumerate(segments):
        if fields is None:
            continue
        try:
            offset = Decimal(fields.get("offset", "0").strip())
        except ArithmeticError:
            offset = Decimal(0)
        if not offset.is_finite():
            offset = Decimal(0)
        by_talk.setdefault(fields.get("wav", ""), []).append((offset, position))
    ranks = [0] * len(segments)
    for members in by_talk.values():
        for rank, (_, position) in enumerate(sorted(members)):
            ranks[position] = rank
    return ranks


def _parse_gold(
    line: str, where: str, sample_rate: int
) -> tuple[str, tuple[WordSpan, ...] | None, dict]:
    """Parse one JSON-lines record into ``(id, source_words, alignments)``."""
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as error:
        raise entry_error(where, f"not valid JSON ({error.msg}).") from error
    if not isinstance(record, dict):
        raise entry_error(where, f"must be a JSON object, but is {type(record).__name__} instead.")
    segment_id = record.get("id")
    if not isinstance(segment_id, str) or not segment_id:
        raise entry_error(where, f"`id` must be a non-empty string, but is {segment_id!r} instead.")
    words = None
    if record.get("words") is not None:
        raw_words = record["words"]
        if not isinstance(raw_words, list):
            raise entry_error(where, f"`words` must be a list, but is {raw_words!r} instead.")
        spans = []
        for position, entry in enumerate(raw_words):
            field = f"words[{position}]"
            if not (
                isinstance(entry, list)
                and len(entry) == 3
                and isinstance(entry[0], str)
                and all(_is_number(x) for x in entry[1:])
            ):
                raise entry_error(
                    where, f"`{field}` must be [word, start_ms, end_ms], but is {entry!r} instead."
                )
            start = round(entry[1] * sample_rate / 1000)
            end = round(entry[2] * sample_rate / 1000)
            if not 0 <= start <= end:
                raise entry_error(
                    where, f"`{field}` must have 0 <= start_ms <= end_ms, but is {entry!r} instead."
                )
            spans.append(WordSpan(entry[0], start, end))
        words = tuple(spans)
    alignments: dict[str, tuple[tuple[int, int], ...]] = {}
    raw_alignments = record.get("alignments") or {}
    if not isinstance(raw_alignments, dict):
        raise entry_error(
            where, f"`alignments` must be an object, but is {raw_alignments!r} instead."
        )
    for lang, pairs in raw_alignments.items():
        field = f"alignments.{lang}"
        if not isinstance(pairs, list):
            raise entry_error(
                where, f"`{field}` must be a list of [s, t] pairs, but is {pairs!r} instead."
            )
        for pair in pairs:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in pair)
            ):
                raise entry_error(
                    where, f"`{field}` must hold [s, t] pairs of indices >= 0, but holds {pair!r}."
                )
        alignments[lang] = tuple((s, t) for s, t in pairs)
    return segment_id, words, alignments


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_mustc_items(
    root: Path,
    split: str,
    src_lang: str = "en",
    tgt_langs: Sequence[str] = ("de",),
    *,
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read one MuST-C split, keeping each instance's YAML ``path:line``.

    Args:
        root: the directory holding ``{split}/txt`` and ``{split}/wav`` (MuST-C's ``en-XX/data``).
        split: e.g. ``"train"``, ``"dev"``, ``"tst-COMMON"``.
        src_lang: language code of the transcripts (``{split}.{src_lang}``).
        tgt_langs: language codes of the translations to read (``{split}.{lang}`` each).
        problems: when given, a bad segment is described here and skipped instead of raising.

    Returns:
        One item per segment, in YAML order.

    Raises:
        FileNotFoundError: a listed file (YAML, text, wav) does not exist.
        ValueError: malformed YAML or JSON line, line counts that differ, a segment outside its
            wav, an undecodable wav; each message names the file, the 1-based line and the field.
    """
    txt_dir = Path(root) / split / "txt"
    wav_dir = Path(root) / split / "wav"
    yaml_path = txt_dir / f"{split}.yaml"
    segments = _segment_nodes(yaml_path)
    texts: dict[str, list[str]] = {}
    for lang in (src_lang, *tgt_langs):
        path = txt_dir / f"{split}.{lang}"
        texts[lang] = read_text_lines(path, f"{lang} text")
        require_line_count(path, texts[lang], len(segments), yaml_path.name)
    jsonl_path = txt_dir / f"{split}.jsonl"
    gold_lines = read_text_lines(jsonl_path, "gold times") if jsonl_path.is_file() else None
    if gold_lines is not None:
        require_line_count(jsonl_path, gold_lines, len(segments), yaml_path.name)

    ranks = _talk_ranks(segments)
    probe = AudioProbe()
    talk_infos: dict[str, AudioInfo] = {}
    errors = ReadErrors(problems)
    items = []
    for position, (line, fields) in enumerate(segments):
        where = f"{yaml_path}:{line}"
        try:
            if fields is None:
                raise entry_error(
                    where, "a segment must be a mapping {wav, offset, duration, speaker_id}."
                )
            for key in ("wav", "offset", "duration"):
                if not fields.get(key, "").strip():
                    raise entry_error(
                        where, f"segment must have a non-empty `{key}`, but it is missing."
                    )
            wav = fields["wav"].strip()
            info = talk_infos.get(wav)
            if info is None:  # one header read (and one Path) per talk, not per segment
                info = talk_infos[wav] = probe.info(wav_dir / wav, where, "wav")
            offset = parse_seconds(fields["offset"], where, "offset", positive=False)
            duration = parse_seconds(fields["duration"], where, "duration", positive=True)
            start = seconds_to_samples(offset, info.sample_rate)
            end = seconds_to_samples(offset + duration, info.sample_rate)
            if end > info.num_samples:
                raise entry_error(
                    where,
                    f"`offset` + `duration` ({offset} + {duration} s) must end inside {info.path} "
                    f"({info.num_samples / info.sample_rate:.6f} s = {info.num_samples} samples at "
                    f"{info.sample_rate} Hz), but ends at sample {end} instead.",
                )
            if end <= start:
                raise entry_error(where, f"`duration` {duration} s is shorter than one sample.")
            segment_id = f"{Path(wav).stem}_{ranks[position]}"
            words = None
            alignments = None
            if gold_lines is not None:
                segment_id, words, all_alignments = _parse_gold(
                    gold_lines[position], f"{jsonl_path}:{position + 1}", info.sample_rate
                )
                alignments = {
                    lang: pairs for lang, pairs in all_alignments.items() if lang in tgt_langs
                } or None
            speaker = fields.get("speaker_id")
            items.append(
                CorpusItem(
                    instance=Instance(
                        id=segment_id,
                        audio_path=info.path,
                        offset_samples=start,
                        num_samples=end - start,
                        sample_rate=info.sample_rate,
                        source_text=texts[src_lang][position],
                        target_texts={lang: texts[lang][position] for lang in tgt_langs},
                        source_lang=src_lang,
                        speaker_id=speaker.strip() if speaker else None,
                        source_words=words,
                        alignments=alignments,
                    ),
                    origin=where,
                )
            )
        except (ValueError, FileNotFoundError) as error:
            errors.handle(error)
    return items


def read_mustc(
    root: Path,
    split: str,
    src_lang: str = "en",
    tgt_langs: Sequence[str] = ("de",),
    *,
    problems: list[str] | None = None,
) -> list[Instance]:
    """Read one MuST-C split into instances (see ``read_mustc_items`` for the arguments).

    Examples:
        >>> instances = read_mustc(Path("MUSTC_v1.0/en-de/data"), "tst-COMMON", tgt_langs=("de",))
    """
    items = read_mustc_items(root, split, src_lang, tgt_langs, problems=problems)
    return [item.instance for item in items]

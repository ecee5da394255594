"""Write a synthetic speech translation corpus in MuST-C layout, with gold word times.

Layout (``DIR`` is what ``simul.data.readers.read_mustc`` takes as ``root``)::

    DIR/{split}/wav/{talk}.wav          16-bit PCM, 16 kHz, mono: one talk of several segments
    DIR/{split}/txt/{split}.yaml        one item per segment: duration, offset, rW, uW, speaker_id, wav
    DIR/{split}/txt/{split}.{lang}      one line per segment, YAML order (source and each target)
    DIR/{split}/txt/{split}.jsonl       one JSON object per segment, YAML order (see below)
    DIR/{split}/manifest.json           counts, hours and file sizes; written last

Why talks: MuST-C segments are spans of long TED talk recordings, so a reader must honour
``offset``.  Consecutive segments are grouped into talks of ``segments_per_talk``, all spoken by one
voice, separated by a random silence of ``min_gap_ms``-``max_gap_ms`` and framed by
``edge_silence_ms``; offsets are therefore real and segments never touch.  Optional white noise
covers the whole talk, silences included, at ``noise_snr_db`` relative to the talk's speech power.

YAML values follow MuST-C: seconds as exact decimals (a sample count over 16,000 always ends), ``rW``
the number of source words, ``uW`` (MuST-C's count of unintelligible words) always 0.  JSON-lines
fields: ``id`` (``{talk}_{i}``), ``speaker_id``, ``words`` = ``[[word, start_ms, end_ms], ...]`` in
milliseconds from the segment start (exact: multiples of 1/16 ms), ``alignments`` = ``{lang:
[[source_index, target_index], ...]}`` over whitespace words, and ``phenomena`` (grammar labels,
may be empty).  Every file is written atomically; the same inputs give byte-identical files.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from simul.data.instance import Instance, samples_to_ms
from simul.data.tts import (
    SAMPLE_RATE,
    SynthesisFailure,
    Utterance,
    Voice,
    add_noise,
    synthesize_many,
)
from simul.io import atomic_write_bytes, atomic_write_text
from simul.logs import progress_bar_disabled

__all__ = [
    "SegmentText",
    "SkippedSegment",
    "SplitManifest",
    "TalkConfig",
    "write_instances",
    "write_split",
]

logger = logging.getLogger(__name__)

_PLAIN_SCALAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.\-]*$")  # safe unquoted in YAML flow style


@dataclass(frozen=True)
class SegmentText:
    """One sentence pair to speak and write."""

    source_text: str
    """The English sentence, whitespace-separated words as written."""
    target_texts: Mapping[str, str]
    """Its translations by language code (``{"de": "...", "es": "..."}``)."""
    alignments: Mapping[str, tuple[tuple[int, int], ...]] | None = None
    """Gold ``(source_index, target_index)`` pairs by language, if known."""
    phenomena: frozenset[str] = frozenset()
    """Grammar labels of the sentence (``"subordinate"``, ...), if any."""


@dataclass(frozen=True, kw_only=True)
class TalkConfig:
    """How segments become talk recordings."""

    segments_per_talk: int = 8
    """Segments per talk wav, all spoken by one voice."""
    min_gap_ms: int = 300
    """Shortest silence between two segments of a talk, in ms."""
    max_gap_ms: int = 900
    """Longest silence between two segments of a talk, in ms."""
    edge_silence_ms: int = 250
    """Silence before the first and after the last segment of a talk, in ms."""
    noise_snr_db: float | None = None
    """White noise over each whole talk at this speech-to-noise ratio in dB; None for none."""
    jobs: int = 1
    """Synthesis worker processes (the output does not depend on it)."""

    def __post_init__(self) -> None:
        if self.segments_per_talk < 1:
            raise ValueError(
                f"`segments_per_talk` must be >= 1, but is {self.segments_per_talk} instead."
            )
        if not 0 <= self.min_gap_ms <= self.max_gap_ms:
            raise ValueError(
                f"`min_gap_ms` and `max_gap_ms` must satisfy 0 <= min <= max, but are "
                f"{self.min_gap_ms} and {self.max_gap_ms} instead."
            )
        if self.edge_silence_ms < 0:
            raise ValueError(
                f"`edge_silence_ms` must be >= 0, but is {self.edge_silence_ms} instead."
            )
        if self.noise_snr_db is not None and not np.isfinite(self.noise_snr_db):
            raise ValueError(
                f"`noise_snr_db` must be finite or None, but is {self.noise_snr_db} instead."
            )
        if self.jobs < 1:
            raise ValueError(f"`jobs` must be >= 1, but is {self.jobs} instead.")


@dataclass(frozen=True)
class SkippedSegment:
    """A segment left out because its words could not be timed."""

    index: int
    """Its 0-based position in the segments given to ``write_split``."""
    text: str
    """Its source text."""
    reason: str
    """Why (the message of ``synthesize``)."""


@dataclass(frozen=True)
class SplitManifest:
    """What ``write_split`` wrote, as recorded in ``{split}/manifest.json``."""

    split: str
    """The split name."""
    num_segments: int
    """Segments written (skipped ones not counted)."""
    num_talks: int
    """Talk wavs written."""
    speakers: tuple[str, ...]
    """Speaker ids of the voices that speak in the split, sorted."""
    target_langs: tuple[str, ...]
    """Languages of the translation files."""
    audio_samples: int
    """Samples of all talk wavs together (silences included), at 16 kHz."""
    speech_samples: int
    """Samples of all segments together, at 16 kHz."""
    num_source_words: int
    """Whitespace words of all source texts."""
    skipped: tuple[SkippedSegment, ...]
    """Segments left out, in order."""
    file_bytes: Mapping[str, int] = field(default_factory=dict)
    """Size of every written file, by path relative to the split directory."""

    @property
    def audio_hours(self) -> float:
        """Hours of talk audio."""
        return self.audio_samples / SAMPLE_RATE / 3600

    def to_json(self) -> str:
        """The manifest as stable, indented JSON (sorted keys; no timestamps)."""
        record = {
            "split": self.split,
            "sample_rate": SAMPLE_RATE,
            "num_segments": self.num_segments,
            "num_talks": self.num_talks,
            "speakers": list(self.speakers),
            "target_langs": list(self.target_langs),
            "audio_samples": self.audio_samples,
            "audio_hours": round(self.audio_hours, 6),
            "speech_samples": self.speech_samples,
            "num_source_words": self.num_source_words,
            "skipped": [vars(skip) for skip in self.skipped],
            "file_bytes": dict(sorted(self.file_bytes.items())),
            "total_bytes": sum(self.file_bytes.values()),
        }
        return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _seconds(num_samples: int) -> str:
    """Exact decimal seconds of a 16 kHz sample count, without exponent (``"2.5375"``)."""
    return format((Decimal(num_samples) / SAMPLE_RATE).normalize(), "f")


def _plain(value: str, what: str) -> str:
    if not _PLAIN_SCALAR.match(value):
        raise ValueError(f"{what} must be a plain YAML scalar ([A-Za-z0-9_+.-]), but is {value!r}.")
    return value


def _one_line(text: str, what: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be one line, but is {text!r}.")
    return text


def write_instances(
    split_dir: Path,
    split: str,
    instances: Sequence[Instance],
    target_langs: Sequence[str],
    *,
    phenomena: Sequence[frozenset[str]] | None = None,
) -> dict[str, int]:
    """Write the YAML, text and JSON-lines files of a split from its instances.

    Args:
        split_dir: ``DIR/{split}``; the wavs the instances name must lie in ``split_dir/wav``.
        split: the split name (file names ``{split}.yaml`` ...).
        instances: the segments, in the order to write; all at 16 kHz.
        target_langs: which ``target_texts`` to write, one file each.
        phenomena: grammar labels per instance, parallel to ``instances`` (default: none).

    Returns:
        Bytes written per file, by path relative to ``split_dir``.
    """
    if phenomena is not None and len(phenomena) != len(instances):
        raise ValueError(
            f"`phenomena` must have one entry per instance ({len(instances)}), "
            f"but has {len(phenomena)} instead."
        )
    yaml_lines, jsonl_lines = [], []
    texts: dict[str, list[str]] = {}
    source_lang = instances[0].source_lang if instances else "en"
    for position, instance in enumerate(instances):
        if instance.sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"instance {instance.id!r} must be at {SAMPLE_RATE} Hz, but is at "
                f"{instance.sample_rate} Hz instead."
            )
        wav = _plain(instance.audio_path.name, f"wav name of {instance.id!r}")
        speaker = _plain(instance.speaker_id or "unknown", f"speaker_id of {instance.id!r}")
        num_words = len(instance.source_text.split())
        yaml_lines.append(
            f"- {{duration: {_seconds(instance.num_samples)}, offset: {_seconds(instance.offset_samples)}, "
            f"rW: {num_words}, uW: 0, speaker_id: {speaker}, wav: {wav}}}\n"
        )
        texts.setdefault(instance.source_lang, []).append(
            _one_line(instance.source_text, f"source text of {instance.id!r}")
        )
        for lang in target_langs:
            if lang not in instance.target_texts:
                raise ValueError(
                    f"instance {instance.id!r} must have a {lang!r} translation, but has none."
                )
            texts.setdefault(lang, []).append(
                _one_line(instance.target_texts[lang], f"{lang} text of {instance.id!r}")
            )
        words = instance.source_words or ()
        record = {
            "id": instance.id,
            "speaker_id": instance.speaker_id,
            "words": [
                [
                    w.word,
                    samples_to_ms(w.start_sample, SAMPLE_RATE),
                    samples_to_ms(w.end_sample, SAMPLE_RATE),
                ]
                for w in words
            ],
            "alignments": {
                lang: [list(pair) for pair in pairs]
                for lang, pairs in sorted((instance.alignments or {}).items())
                if lang in target_langs
            },
            "phenomena": sorted(phenomena[position]) if phenomena is not None else [],
        }
        jsonl_lines.append(json.dumps(record, ensure_ascii=False) + "\n")

    txt_dir = Path(split_dir) / "txt"
    contents = {
        f"txt/{split}.yaml": "".join(yaml_lines),
        f"txt/{split}.jsonl": "".join(jsonl_lines),
    }
    for lang in (source_lang, *target_langs):
        contents[f"txt/{split}.{lang}"] = "".join(line + "\n" for line in texts.get(lang, []))
    txt_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for relative, text in contents.items():
        data = text.encode("utf-8")
        atomic_write_bytes(Path(split_dir) / relative, data)
        sizes[relative] = len(data)
    return sizes


def _check_segment(index: int, segment: SegmentText, target_langs: Sequence[str]) -> None:
    """Raise unless the segment has every target language and in-range alignment indices."""
    num_source = len(segment.source_text.split())
    if num_source == 0:
        raise ValueError(f"segment {index}: `source_text` must have words, but is empty.")
    for lang in target_langs:
        if not segment.target_texts.get(lang, "").strip():
            raise ValueError(
                f"segment {index} ({segment.source_text!r}) must have a {lang!r} text."
            )
    for lang, pairs in (segment.alignments or {}).items():
        num_target = len(segment.target_texts.get(lang, "").split())
        bad = [
            pair for pair in pairs if not (0 <= pair[0] < num_source and 0 <= pair[1] < num_target)
        ]
        if bad:
            raise ValueError(
                f"segment {index}: `alignments[{lang!r}]` must index {num_source} source and "
                f"{num_target} target words, but holds {bad[0]} ({segment.source_text!r})."
            )


def _clear_split(split_dir: Path, split: str, overwrite: bool) -> None:
    """Refuse to write into an existing split, or remove its previous files when overwriting."""
    manifest = split_dir / "manifest.json"
    previous = [manifest] if manifest.exists() else []  # first: a half-removed split is incomplete
    previous += sorted((split_dir / "wav").glob("*.wav")) + sorted(
        (split_dir / "txt").glob(f"{split}.*")
    )
    if previous and not overwrite:
        raise ValueError(
            f"{split_dir} already holds a corpus split ({len(previous)} files, e.g. {previous[0]}); "
            "choose another directory or pass overwrite (--overwrite)."
        )
    for path in previous:
        path.unlink()


def _talk_rng(seed: int, split: str, talk_index: int) -> np.random.Generator:
    """The generator of one talk's gaps and noise (``talk_index`` -1: the split's voice order)."""
    return np.random.default_rng([seed, zlib.crc32(split.encode("utf-8")), talk_index + 1])


def _wav_bytes(samples: np.ndarray) -> bytes:
    """16-bit PCM wav bytes of (T,) float32 samples at 16 kHz."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


@dataclass
class _Talk:
    """One talk being assembled: its plan, and its utterances as they arrive."""

    name: str
    voice: Voice
    gaps_samples: list[int]
    rng: np.random.Generator
    members: list[tuple[int, Utterance]] = field(default_factory=list)


def _ms_to_samples(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000


def _assemble(
    talk: _Talk,
    split_dir: Path,
    segments: Sequence[SegmentText],
    config: TalkConfig,
    source_lang: str,
) -> tuple[list[Instance], int]:
    """Write one talk wav; return its instances and its length in samples."""
    edge = np.zeros(_ms_to_samples(config.edge_silence_ms), np.float32)
    pieces, instances = [edge], []
    cursor = edge.shape[0]
    wav_path = split_dir / "wav" / f"{talk.name}.wav"
    for rank, (index, utterance) in enumerate(talk.members):
        if rank > 0:
            gap = talk.gaps_samples[rank - 1]
            pieces.append(np.zeros(gap, np.float32))
            cursor += gap
        segment = segments[index]
        instances.append(
            Instance(
                id=f"{talk.name}_{rank}",
                audio_path=wav_path,
                offset_samples=cursor,
                num_samples=utterance.num_samples,
                sample_rate=SAMPLE_RATE,
                source_text=" ".join(segment.source_text.split()),
                target_texts=dict(segment.target_texts),
                source_lang=source_lang,
                speaker_id=talk.voice.speaker_id,
                source_words=utterance.words,
                alignments=dict(segment.alignments) if segment.alignments is not None else None,
            )
        )
        pieces.append(utterance.samples)
        cursor += utterance.num_samples
    pieces.append(edge)
    audio = np.concatenate(pieces)
    if config.noise_snr_db is not None:
        speech = np.concatenate([utterance.samples for _, utterance in talk.members])
        power = float(np.mean(np.square(speech, dtype=np.float64)))
        audio = add_noise(audio, config.noise_snr_db, talk.rng, signal_power=power)
    atomic_write_bytes(wav_path, _wav_bytes(audio))
    return instances, int(audio.shape[0])


def write_split(
    out_dir: Path,
    split: str,
    segments: Sequence[SegmentText],
    voices: Sequence[Voice],
    *,
    seed: int,
    target_langs: Sequence[str],
    config: TalkConfig | None = None,
    source_lang: str = "en",
    progress: bool = True,
    overwrite: bool = False,
) -> SplitManifest:
    """Synthesise ``segments`` into talks and write split ``split`` of a MuST-C layout corpus.

    Args:
        out_dir: the corpus root ``DIR``; ``DIR/{split}`` is created.
        split: the split name (``"train"``, ``"dev"``, ``"tst-COMMON"``).
        segments: the sentence pairs, in order; consecutive ones share a talk.
        voices: the speakers this split draws from (one per talk, drawn with ``seed``).
        seed: seeds every random choice (speakers, gaps, noise); same inputs, same bytes.
        target_langs: languages to write (each segment must have them).
        config: talk layout, noise and parallelism.
        source_lang: language code of the source text file.
        progress: show a tqdm bar over segments.
        overwrite: replace an existing split (its ``wav/*.wav``, ``txt/{split}.*`` and manifest)
            instead of refusing to write into it.

    Returns:
        The manifest, also written to ``DIR/{split}/manifest.json`` after everything else.

    Raises:
        ValueError: no segments or voices, a bad split name, text or alignment, an existing
            split without ``overwrite``, or every segment skipped.
    """
    config = config or TalkConfig()
    _plain(split, "`split`")
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0, but is {seed} instead.")
    if not segments:
        raise ValueError(f"split {split!r} must have at least one segment, but has none.")
    if not voices:
        raise ValueError(f"split {split!r} must have at least one voice, but has none.")
    for index, segment in enumerate(segments):
        _check_segment(index, segment, target_langs)
    split_dir = Path(out_dir) / split
    _clear_split(split_dir, split, overwrite)
    talks = []
    # Voices take turns in a seeded order, so that every voice speaks once there are enough talks.
    voice_order = _talk_rng(seed, split, -1).permutation(len(voices))
    for talk_index, start in enumerate(range(0, len(segments), config.segments_per_talk)):
        rng = _talk_rng(seed, split, talk_index)
        voice = voices[int(voice_order[talk_index % len(voices)])]
        count = min(config.segments_per_talk, len(segments) - start)
        gaps = rng.integers(config.min_gap_ms, config.max_gap_ms + 1, size=max(count - 1, 0))
        talks.append(
            _Talk(
                f"{split}_talk{talk_index:05d}", voice, [_ms_to_samples(int(g)) for g in gaps], rng
            )
        )
    requests = [
        (segment.source_text, talks[index // config.segments_per_talk].voice)
        for index, segment in enumerate(segments)
    ]
    instances: list[Instance] = []
    phenomena: list[frozenset[str]] = []
    skipped: list[SkippedSegment] = []
    sizes: dict[str, int] = {}
    audio_samples = 0
    results = synthesize_many(requests, jobs=config.jobs)
    bar = tqdm(
        total=len(segments),
        desc=f"{split}: speech",
        unit="seg",
        disable=progress_bar_disabled(progress),
    )
    with bar:
        for index, result in enumerate(results):
            talk = talks[index // config.segments_per_talk]
            if isinstance(result, SynthesisFailure):
                logger.warning("split %s: skipping segment %d: %s", split, index, result.reason)
                skipped.append(SkippedSegment(index, result.text, result.reason))
            else:
                talk.members.append((index, result))
            talk_done = (index + 1) % config.segments_per_talk == 0 or index + 1 == len(segments)
            if talk_done and talk.members:
                talk_instances, num_samples = _assemble(
                    talk, split_dir, segments, config, source_lang
                )
                instances.extend(talk_instances)
                phenomena.extend(segments[i].phenomena for i, _ in talk.members)
                sizes[f"wav/{talk.name}.wav"] = (
                    (split_dir / "wav" / f"{talk.name}.wav").stat().st_size
                )
                audio_samples += num_samples
                talk.members.clear()
            bar.update(1)
    if not instances:
        raise ValueError(
            f"split {split!r}: every segment was skipped; first reason: {skipped[0].reason}"
        )
    sizes.update(write_instances(split_dir, split, instances, target_langs, phenomena=phenomena))
    manifest = SplitManifest(
        split=split,
        num_segments=len(instances),
        num_talks=sum(1 for name in sizes if name.startswith("wav/")),
        speakers=tuple(sorted({instance.speaker_id or "" for instance in instances})),
        target_langs=tuple(target_langs),
        audio_samples=audio_samples,
        speech_samples=sum(instance.num_samples for instance in instances),
        num_source_words=sum(len(instance.source_text.split()) for instance in instances),
        skipped=tuple(skipped),
        file_bytes=sizes,
    )
    atomic_write_text(split_dir / "manifest.json", manifest.to_json())
    return manifest

"""Validate a corpus by reopening every audio file and reading every segment's samples.

Why a separate pass: readers look at headers only (fast, so training starts at once), but a
corpus can still be broken inside: a truncated wav whose header promises more samples, NaNs in a
float wav, a segment of pure digital silence, word times that run past their segment, alignment
indices beyond the sentence.  ``check_items`` finds all of these, never stops at the first, and
names each problem's corpus entry (``path:line``) or audio file.

Audio format: the models take 16 kHz mono.  A file at another rate, or with several channels,
is a problem unless ``allow_resample`` says the feature pipeline will resample it to 16 kHz and
mix it down to mono; then it is only counted in ``CheckReport.resample_files``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from simul.data.instance import Instance
from simul.data.readers import CorpusItem
from simul.logs import progress_bar_disabled

__all__ = [
    "CheckConfig",
    "CheckReport",
    "Problem",
    "check_items",
    "format_report",
    "problems_from_messages",
]


@dataclass(frozen=True, kw_only=True)
class CheckConfig:
    """What a valid corpus must satisfy."""

    #: sample rate the models take, in Hz.
    sample_rate: int = 16_000
    #: accept other sample rates and several channels (the feature pipeline resamples/mixes down).
    allow_resample: bool = False
    #: every instance must have a non-empty transcript (off for SimulEval lists without one).
    require_source_text: bool = True
    #: languages every instance must have a non-empty translation in (None: those it has, >= 1).
    target_langs: tuple[str, ...] | None = None
    #: show a progress bar on stderr.
    progress: bool = True


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a corpus.

    Attributes:
        kind: a short category (``"sample_rate"``, ``"segment_outside"``, ``"word_times"``, ...).
        where: ``path:line`` of the corpus entry, or the audio file.
        message: what is wrong, with the expected and the found values.
    """

    kind: str
    where: str
    message: str


@dataclass(frozen=True)
class CheckReport:
    """The outcome of a check.

    Attributes:
        num_instances: instances checked.
        num_audio_files: distinct audio files opened.
        audio_ms: total duration of the instances, in ms.
        problems: everything found, in corpus order.
        resample_files: audio files that are not 16 kHz mono but were accepted
            (``allow_resample``).
    """

    num_instances: int
    num_audio_files: int
    audio_ms: float
    problems: tuple[Problem, ...] = ()
    resample_files: tuple[Path, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def problems_from_messages(messages: Sequence[str], kind: str = "entry") -> list[Problem]:
    """Turn a reader's collected messages (``"path:line: what"``) into problems."""
    problems = []
    for message in messages:
        where, separator, rest = message.partition(": ")
        problems.append(Problem(kind, where, rest) if separator else Problem(kind, "", message))
    return problems


def _check_text(item: CorpusItem, config: CheckConfig) -> list[Problem]:
    instance = item.instance
    problems = []
    if config.require_source_text and not instance.source_text.strip():
        problems.append(
            Problem("missing_text", item.origin, f"{instance.id}: the transcript is empty.")
        )
    langs = config.target_langs if config.target_langs is not None else tuple(instance.target_texts)
    if not langs:
        problems.append(
            Problem("missing_text", item.origin, f"{instance.id}: no translation at all.")
        )
    for lang in langs:
        if not instance.target_texts.get(lang, "").strip():
            problems.append(
                Problem(
                    "missing_text", item.origin, f"{instance.id}: the {lang} translation is empty."
                )
            )
    return problems


def _check_words(item: CorpusItem) -> list[Problem]:
    instance = item.instance
    words = instance.source_words
    if words is None:
        return []
    problems = []
    num_text_words = len(instance.source_text.split())
    if len(words) != num_text_words:
        problems.append(
            Problem(
                "word_times",
                item.origin,
                f"{instance.id}: there must be one word time per transcript word ({num_text_words}), "
                f"but there are {len(words)} instead.",
            )
        )
    for position, word in enumerate(words):
        if word.end_sample > instance.num_samples:
            problems.append(
                Problem(
                    "word_times",
                    item.origin,
                    f"{instance.id}: word {position} ({word.word!r}) must end inside the segment "
                    f"({instance.num_samples} samples), but ends at sample {word.end_sample} instead.",
                )
            )
        if position > 0:
            previous = words[position - 1]
            if word.start_sample < previous.start_sample or word.end_sample < previous.end_sample:
                problems.append(
                    Problem(
                        "word_times",
                        item.origin,
                        f"{instance.id}: word times must increase, but word {position} ({word.word!r}, "
                        f"samples {word.start_sample}-{word.end_sample}) comes before word "
                        f"{position - 1} ({previous.word!r}, {previous.start_sample}-{previous.end_sample}).",
                    )
                )
    return problems


def _check_alignments(item: CorpusItem) -> list[Problem]:
    instance = item.instance
    if not instance.alignments:
        return []
    problems = []
    num_source = (
        len(instance.source_words)
        if instance.source_words is not None
        else len(instance.source_text.split())
    )
    for lang, pairs in instance.alignments.items():
        if lang not in instance.target_texts:
            problems.append(
                Problem(
                    "alignment",
                    item.origin,
                    f"{instance.id}: alignments for {lang}, which has no translation.",
                )
            )
            continue
        num_target = len(instance.target_texts[lang].split())
        bad = [(s, t) for s, t in pairs if not (0 <= s < num_source and 0 <= t < num_target)]
        if bad:
            problems.append(
                Problem(
                    "alignment",
                    item.origin,
                    f"{instance.id}: {lang} alignment pairs must index {num_source} source and "
                    f"{num_target} target words, but {len(bad)} do not (first: {bad[0]}).",
                )
            )
    return problems


def _check_segment(item: CorpusItem, audio: soundfile.SoundFile) -> list[Problem]:
    """Read one instance's samples from the open file and check them."""
    instance: Instance = item.instance
    if instance.sample_rate != audio.samplerate:
        return [
            Problem(
                "sample_rate",
                item.origin,
                f"{instance.id}: the corpus says {instance.sample_rate} Hz, but {instance.audio_path} "
                f"is {audio.samplerate} Hz.",
            )
        ]
    end = instance.offset_samples + instance.num_samples
    if end > audio.frames:
        return [
            Problem(
                "segment_outside",
                item.origin,
                f"{instance.id}: samples {instance.offset_samples}-{end} must lie inside "
                f"{instance.audio_path} ({audio.frames} samples), but do not.",
            )
        ]
    try:
        audio.seek(instance.offset_samples)
        samples = audio.read(instance.num_samples, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        return [
            Problem("audio_unreadable", item.origin, f"{instance.id}: reading failed ({error}).")
        ]
    problems = []
    if samples.shape[0] < instance.num_samples:
        problems.append(
            Problem(
                "segment_outside",
                item.origin,
                f"{instance.id}: {instance.num_samples} samples expected from sample "
                f"{instance.offset_samples} of {instance.audio_path}, but only {samples.shape[0]} "
                "could be read (truncated file?).",
            )
        )
    if not np.isfinite(samples).all():
        problems.append(
            Problem(
                "non_finite",
                item.origin,
                f"{instance.id}: {int((~np.isfinite(samples)).sum())} samples are NaN or infinite.",
            )
        )
    elif samples.size and not np.any(samples):
        problems.append(
            Problem("silent", item.origin, f"{instance.id}: every sample is exactly 0.")
        )
    return problems


def _check_file(
    path: Path, items: list[CorpusItem], config: CheckConfig, progress: tqdm
) -> tuple[list[Problem], bool]:
    """Check one audio file and every instance in it; return problems and 'needs resampling'."""
    try:
        audio = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        progress.update(len(items))
        first = items[0].origin
        return [
            Problem(
                "audio_unreadable",
                str(path),
                f"cannot open ({error}); used by {first} and {len(items) - 1} other entries.",
            )
        ], False
    problems = []
    with audio:
        needs_resampling = audio.samplerate != config.sample_rate or audio.channels != 1
        if audio.frames == 0:
            problems.append(Problem("empty_audio", str(path), "the file holds no samples."))
        if audio.samplerate != config.sample_rate and not config.allow_resample:
            problems.append(
                Problem(
                    "sample_rate",
                    str(path),
                    f"must be {config.sample_rate} Hz, but is {audio.samplerate} Hz (pass "
                    "--allow-resample if the feature pipeline should resample it).",
                )
            )
        if audio.channels != 1 and not config.allow_resample:
            problems.append(
                Problem(
                    "channels",
                    str(path),
                    f"must be mono, but has {audio.channels} channels (pass --allow-resample if the "
                    "feature pipeline should mix it down).",
                )
            )
        for item in sorted(items, key=lambda i: i.instance.offset_samples):
            problems.extend(_check_segment(item, audio))
            progress.update(1)
    return problems, needs_resampling


def check_items(items: Sequence[CorpusItem], config: CheckConfig | None = None) -> CheckReport:
    """Reopen every audio file, read every instance's samples, and check text, times, alignments.

    Args:
        items: the corpus, as a reader's ``*_items`` function returns it.
        config: what to require (default: 16 kHz mono, transcripts and translations present).

    Returns:
        A report with every problem found (an empty ``problems`` means the corpus is valid).
    """
    config = config if config is not None else CheckConfig()
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    by_file: dict[Path, list[CorpusItem]] = {}
    for item in items:
        previous = seen_ids.setdefault(item.instance.id, item.origin)
        if previous != item.origin:
            problems.append(
                Problem(
                    "duplicate_id",
                    item.origin,
                    f"id {item.instance.id!r} is already used by {previous}.",
                )
            )
        problems.extend(_check_text(item, config))
        problems.extend(_check_words(item))
        problems.extend(_check_alignments(item))
        by_file.setdefault(item.instance.audio_path, []).append(item)
    resample_files = []
    with tqdm(
        total=len(items), unit="seg", desc="check", disable=progress_bar_disabled(config.progress)
    ) as progress:
        for path, file_items in by_file.items():
            file_problems, needs_resampling = _check_file(path, file_items, config, progress)
            problems.extend(file_problems)
            if needs_resampling and config.allow_resample:
                resample_files.append(path)
    return CheckReport(
        num_instances=len(items),
        num_audio_files=len(by_file),
        audio_ms=sum(item.instance.duration_ms for item in items),
        problems=tuple(problems),
        resample_files=tuple(resample_files),
    )


def _duration(ms: float) -> str:
    """``8.0 s``, ``3.2 min`` or ``1.25 h``: readable at every corpus size."""
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.2f} h"


def format_report(report: CheckReport, *, max_per_kind: int = 10) -> str:
    """A human summary: totals, problem counts by kind, and the first few of each kind."""
    lines = [
        f"checked {report.num_instances} instances ({_duration(report.audio_ms)} of audio) in "
        f"{report.num_audio_files} audio files: {len(report.problems)} problems"
    ]
    if report.resample_files:
        lines.append(
            f"{len(report.resample_files)} audio files are not 16 kHz mono; accepted "
            "(--allow-resample): the feature pipeline resamples them"
        )
    counts = Counter(problem.kind for problem in report.problems)
    for kind, count in counts.most_common():
        lines.append(f"  {kind}: {count}")
        shown = [p for p in report.problems if p.kind == kind][:max_per_kind]
        for problem in shown:
            lines.append(
                f"    {problem.where}: {problem.message}"
                if problem.where
                else f"    {problem.message}"
            )
        if count > len(shown):
            lines.append(f"    ... and {count - len(shown)} more")
    return "\n".join(lines)

"""The one record every corpus reader and writer speaks: a speech translation instance.

Why one type: MuST-C, CoVoST 2, fairseq S2T manifests, SimulEval lists and the built-in
corpus all describe the same thing (a span of audio, its transcript, its translations).
Readers yield ``Instance``; the feature pipeline, the simultaneous loop and the oracle
latency consume it.  Time is kept in integer samples (``offset_samples``,
``num_samples``) and converted to milliseconds only at the edges, so that long talks never
accumulate float error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Instance", "WordSpan", "samples_to_ms"]


def samples_to_ms(num_samples: int, sample_rate: int) -> float:
    """Convert a sample count to milliseconds (SimulEval's ``len * 1000 / sample_rate``)."""
    return num_samples * 1000 / sample_rate


@dataclass(frozen=True)
class WordSpan:
    """One source word and where it is spoken, in samples relative to the instance start."""

    word: str
    start_sample: int
    end_sample: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_sample <= self.end_sample:
            raise ValueError(
                f"`WordSpan` of {self.word!r} must have 0 <= start_sample <= end_sample, "
                f"but is ({self.start_sample}, {self.end_sample}) instead."
            )


@dataclass(frozen=True)
class Instance:
    """One utterance (or one talk): audio span, source text and target texts by language.

    Attributes:
        id: unique within its corpus split, e.g. ``"ted_1_3"``.
        audio_path: the wav (or flac) file holding the audio.
        offset_samples: where the utterance starts in ``audio_path``.
        num_samples: the utterance length in samples (``-1`` never: readers resolve it).
        sample_rate: of ``audio_path``, in Hz.
        source_text: the transcript in the source language.
        target_texts: translations, by language code (``{"de": "...", "es": "..."}``).
        source_lang: language code of ``source_text``.
        speaker_id: as given by the corpus, if any.
        source_words: gold source word times, if known (the built-in corpus has them).
        alignments: gold word alignments by target language: pairs
            ``(source_word_index, target_word_index)`` over whitespace-split words.
        segments: a talk's gold segmentation (``simul.data.talks``): its sentences, in talk
            order, each an instance of the same wav whose offset is from the wav's start (a talk
            starts at sample 0); kept so that talk-level output can be re-segmented and scored
            against them.  ``None`` for a sentence.
    """

    id: str
    audio_path: Path
    offset_samples: int
    num_samples: int
    sample_rate: int
    source_text: str
    target_texts: Mapping[str, str] = field(default_factory=dict)
    source_lang: str = "en"
    speaker_id: str | None = None
    source_words: tuple[WordSpan, ...] | None = None
    alignments: Mapping[str, tuple[tuple[int, int], ...]] | None = None
    segments: tuple[Instance, ...] | None = None

    def __post_init__(self) -> None:
        if self.offset_samples < 0:
            raise ValueError(
                f"`offset_samples` of instance {self.id!r} must be >= 0, but is {self.offset_samples} instead."
            )
        if self.num_samples <= 0:
            raise ValueError(
                f"`num_samples` of instance {self.id!r} must be > 0, but is {self.num_samples} instead."
            )
        if self.sample_rate <= 0:
            raise ValueError(
                f"`sample_rate` of instance {self.id!r} must be > 0, but is {self.sample_rate} instead."
            )

    @property
    def duration_ms(self) -> float:
        """The utterance length in milliseconds."""
        return samples_to_ms(self.num_samples, self.sample_rate)

    def with_audio(self, audio_path: Path, offset_samples: int = 0) -> Instance:
        """Return a copy pointing at another audio file (e.g. after resampling or cutting)."""
        return replace(self, audio_path=audio_path, offset_samples=offset_samples)

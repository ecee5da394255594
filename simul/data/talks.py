"""Whole talks as instances: a split's sentences joined back into the recordings they were cut from.

Why: real speech is not cut into sentences, and IWSLT scores whole talks (StreamLAAL, LongYAAL).
MuST-C and the built-in corpus store talks already: each segment of ``txt/SPLIT.yaml`` is a span
of a talk wav.  :func:`talks_from_segments` turns a split's segment instances into one instance
per wav:

- the audio is the whole wav, from sample 0 to its end (the silence before, between and after
  the sentences included, as a live stream would have it);
- the transcript and each translation are the sentences' texts joined by one space, in talk order;
- every gold word time is shifted by its sentence's offset into talk time (samples from the
  wav's start), and every alignment pair is re-indexed by the words of the sentences before it;
- the sentences themselves are kept in :attr:`~simul.data.instance.Instance.segments`, so
  that talk-level output can be re-segmented against them (``simul.eval.stream_latency``).

A talk keeps word times (alignments) only when every one of its sentences has them (for that
language).  Sentences of one talk must not overlap: a talk is one stream of audio.

Example:
    >>> talks = talks_from_segments(read_mustc(root, "tst-COMMON", tgt_langs=("de",)))
    >>> talks[0].id, len(talks[0].segments), talks[0].duration_ms
"""

from __future__ import annotations

from collections.abc import Sequence

from simul.data.instance import Instance, WordSpan
from simul.data.readers._common import AudioProbe

__all__ = ["talks_from_segments"]


def _shifted_words(segments: Sequence[Instance]) -> tuple[WordSpan, ...] | None:
    """Every sentence's word times, in talk time; ``None`` unless every sentence has them."""
    if any(segment.source_words is None for segment in segments):
        return None
    return tuple(
        WordSpan(word.word, word.start_sample + segment.offset_samples,
                 word.end_sample + segment.offset_samples)
        for segment in segments
        for word in segment.source_words or ()
    )  # fmt: skip


def _reindexed_alignments(
    segments: Sequence[Instance], langs: Sequence[str]
) -> dict[str, tuple[tuple[int, int], ...]] | None:
    """Each language's alignment pairs over the talk's words (languages every sentence has)."""
    alignments: dict[str, tuple[tuple[int, int], ...]] = {}
    for lang in langs:
        if any(lang not in (segment.alignments or {}) for segment in segments):
            continue
        pairs: list[tuple[int, int]] = []
        source_before = target_before = 0
        for segment in segments:
            own = (segment.alignments or {})[lang]
            pairs += [(s + source_before, t + target_before) for s, t in own]
            source_before += len(segment.source_text.split())
            target_before += len(segment.target_texts[lang].split())
        alignments[lang] = tuple(pairs)
    return alignments or None


def _talk(name: str, segments: list[Instance], num_samples: int) -> Instance:
    first = segments[0]
    for previous, segment in zip(segments, segments[1:], strict=False):
        if segment.offset_samples < previous.offset_samples + previous.num_samples:
            raise ValueError(
                f"segment {segment.id!r} of talk {name!r} must start after segment "
                f"{previous.id!r} ends (sample {previous.offset_samples + previous.num_samples}), "
                f"but starts at sample {segment.offset_samples} instead."
            )
        if segment.sample_rate != first.sample_rate or segment.source_lang != first.source_lang:
            raise ValueError(
                f"segment {segment.id!r} of talk {name!r} must have the sample rate and source "
                f"language of {first.id!r} ({first.sample_rate} Hz, {first.source_lang}), but has "
                f"{segment.sample_rate} Hz, {segment.source_lang} instead."
            )
    langs = [lang for lang in first.target_texts if all(lang in s.target_texts for s in segments)]
    speakers = {segment.speaker_id for segment in segments}
    return Instance(
        id=name,
        audio_path=first.audio_path,
        offset_samples=0,
        num_samples=num_samples,
        sample_rate=first.sample_rate,
        source_text=" ".join(s.source_text for s in segments if s.source_text),
        target_texts={
            lang: " ".join(s.target_texts[lang] for s in segments if s.target_texts[lang])
            for lang in langs
        },
        source_lang=first.source_lang,
        speaker_id=first.speaker_id if len(speakers) == 1 else None,
        source_words=_shifted_words(segments),
        alignments=_reindexed_alignments(segments, langs),
        segments=tuple(segments),
    )


def talks_from_segments(
    segments: Sequence[Instance], *, probe: AudioProbe | None = None
) -> list[Instance]:
    """One instance per talk wav of ``segments`` (see the module doc).

    Args:
        segments: a split's sentences (any reader's), each a span of a talk wav.
        probe: reads the wavs' lengths from their headers (a fresh one by default).

    Returns:
        The talks in order of their first sentence in ``segments``, each named by its wav's file
        stem (``test_talk00003``), with its sentences by offset in ``segments``.

    Raises:
        ValueError: ``segments`` is empty, two sentences of a talk overlap, or differ in sample
            rate or language; a wav's header does not match the sentences' sample rate.
    """
    if not segments:
        raise ValueError("`segments` must hold at least one sentence, but is empty.")
    probe = probe or AudioProbe()
    by_wav: dict[str, list[Instance]] = {}
    for segment in segments:
        by_wav.setdefault(str(segment.audio_path), []).append(segment)
    names = [segments_of[0].audio_path.stem for segments_of in by_wav.values()]
    if len(set(names)) != len(names):
        raise ValueError(
            "talk wavs must have distinct file names (talks are matched to their references by "
            f"name), but {sorted(n for n in names if names.count(n) > 1)[0]!r} is used twice."
        )
    talks = []
    for members in by_wav.values():
        members = sorted(members, key=lambda s: s.offset_samples)
        info = probe.info(members[0].audio_path, f"segment {members[0].id!r}", "audio_path")
        if info.sample_rate != members[0].sample_rate:
            raise ValueError(
                f"talk wav {info.path} must be at the sentences' {members[0].sample_rate} Hz, "
                f"but is at {info.sample_rate} Hz instead."
            )
        talks.append(_talk(members[0].audio_path.stem, members, info.num_samples))
    return talks

"""Token-level serialized output: interleave source and target words in one tagged sequence.

Why: one Transformer-Transducer decoder writes the transcript and the translation(s) together
(Papi et al., "Token-Level Serialized Output Training for Joint Streaming ASR and ST Leveraging
Textual Alignments", ASRU 2023; "Leveraging Timestamp Information for Serialized Joint Streaming
Recognition and Translation", ICASSP 2024).  Each target word should come soon after the source
words it translates, so the model can write it without waiting for the end of the utterance.

The rules (ours; the papers' exact ones are not public):

- **Anchor.** A target word's anchor is the *last* source word it is aligned to (the largest
  source index).  An unaligned target word takes the anchor of the previous target word.
  Unaligned target words at the start take the anchor of the first aligned target word (they are
  placed right before it: nothing can be translated before any source word is heard).  When no
  target word is aligned at all (an empty alignment), every target word is anchored to the last
  source word: the transcript, then the translation.  With no source words, the anchor is -1 and
  the target words come first.
- **Order within a stream is kept.**  Anchors are made non-decreasing along the target (a running
  maximum), so a target word never comes before the words that precede it in its own language:
  German "weil der Hund die Katze sieht" for "because the dog sees the cat" puts "sieht" after
  "Katze", i.e. after "cat", although it translates "sees".
- **Alignment-based order.**  Each source word, then the target words anchored to it; with
  several target languages, those of the first language in ``StreamLayout.target_langs`` first.
- **Timestamp-based order.**  A source word's time is its end time (the word is complete then);
  a target word's time is the end time of its anchor (0 when it has none) plus
  ``target_lag_ms``.  All words are merged by time.  Ties: source words come before target words
  (both are known by then, the transcript is written first), then the target languages in layout
  order; within one stream the original order is kept.  With ``target_lag_ms = 0`` this is the
  alignment-based order except where consecutive source words end at the same time; a lag moves
  every translation later by the same amount of audio, past the source words that end meanwhile.
- **Tags.**  A stream's tag (``<asr>``, ``<st>``, ``<de>``...) is written before the first word and
  at every change of stream; words are separated by single spaces.

Words are whitespace-free strings (punctuation stays attached, as in the corpora), and must not
contain a tag: the tokenizer would split the word there and de-serialization would switch stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from simul.serialize.streams import ASR_STREAM, StreamLayout

__all__ = [
    "Alignment",
    "SerialWord",
    "TargetWords",
    "TimedTargetWords",
    "merge_by_time",
    "order_by_alignment",
    "order_by_time",
    "serialized_text",
    "target_anchors",
]

#: ``(source_index, target_index)`` pairs over whitespace words, 0-based.
Alignment = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SerialWord:
    """One word of a serialized sequence and the stream it belongs to."""

    stream: str
    """``asr``, ``st`` or a target language code (see ``StreamLayout``)."""
    word: str
    """The word as written, punctuation attached."""


@dataclass(frozen=True)
class TargetWords:
    """One target language's words and their alignment to the source words."""

    lang: str
    """The language code, one of the layout's ``target_langs``."""
    words: tuple[str, ...]
    """The translation's whitespace words."""
    alignment: Alignment
    """``(source_index, target_index)`` pairs; may be empty."""


@dataclass(frozen=True)
class TimedTargetWords:
    """One target language's words, each with the source time after which it may be written."""

    lang: str
    """The language code, one of the layout's ``target_langs``."""
    words: tuple[str, ...]
    """The translation's whitespace words."""
    times_ms: tuple[float, ...]
    """One per word, non-decreasing, in ms of source audio."""


def _check_words(words: Sequence[str], what: str, layout: StreamLayout) -> None:
    for position, word in enumerate(words):
        if not isinstance(word, str) or not word or any(c.isspace() for c in word):
            raise ValueError(
                f"`{what}[{position}]` must be a non-empty word without whitespace, "
                f"but is {word!r} instead."
            )
        for tag in layout.tags:
            if tag in word:
                raise ValueError(
                    f"`{what}[{position}]` must not contain the stream tag {tag!r}, but is "
                    f"{word!r}: the tokenizer would split it there and de-serialization would "
                    "switch stream."
                )


def _check_times(times_ms: Sequence[float], what: str) -> None:
    previous = -math.inf
    for position, time_ms in enumerate(times_ms):
        if not (isinstance(time_ms, (int, float)) and math.isfinite(time_ms) and time_ms >= 0):
            raise ValueError(
                f"`{what}[{position}]` must be a finite time >= 0 ms, but is {time_ms!r} instead."
            )
        if time_ms < previous:
            raise ValueError(
                f"`{what}` must not decrease, but goes from {previous} to {time_ms} ms at "
                f"position {position}."
            )
        previous = time_ms


def _check_source_times(source_words: Sequence[str], source_end_ms: Sequence[float]) -> None:
    if len(source_end_ms) != len(source_words):
        raise ValueError(
            f"`source_end_ms` must have one time per source word ({len(source_words)}), but has "
            f"{len(source_end_ms)} instead."
        )
    _check_times(source_end_ms, "source_end_ms")


def _check_layout_lang(lang: str, layout: StreamLayout, seen: set[str]) -> None:
    if lang not in layout.target_langs:
        raise ValueError(
            f"target language {lang!r} must be one of the layout's {layout.target_langs}."
        )
    if lang in seen:
        raise ValueError(f"target language {lang!r} is given twice.")
    seen.add(lang)


def target_anchors(alignment: Alignment, num_source: int, num_target: int) -> list[int]:
    """The source word each target word is placed after (see the module doc), in [-1, S).

    Args:
        alignment: ``(source_index, target_index)`` pairs, in any order, duplicates allowed.
        num_source: S, the number of source words.
        num_target: T, the number of target words.

    Returns:
        T non-decreasing anchors; -1 only when S = 0.

    Raises:
        ValueError: a pair that is not two integers, or an index out of range.
    """
    last: list[int | None] = [None] * num_target
    for pair in alignment:
        if not (
            isinstance(pair, (tuple, list))
            and len(pair) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
        ):
            raise ValueError(
                f"alignment pairs must be (source_index, target_index) integers, but hold {pair!r}."
            )
        source_index, target_index = pair
        if not (0 <= source_index < num_source and 0 <= target_index < num_target):
            raise ValueError(
                f"alignment pair {tuple(pair)} must index {num_source} source and {num_target} "
                "target words (0-based), but is out of range."
            )
        current = last[target_index]
        last[target_index] = source_index if current is None else max(current, source_index)
    first_aligned = next((anchor for anchor in last if anchor is not None), num_source - 1)
    anchors, running = [], first_aligned
    for anchor in last:
        running = running if anchor is None else max(running, anchor)
        anchors.append(running)
    return anchors


def order_by_alignment(
    source_words: Sequence[str], targets: Sequence[TargetWords], layout: StreamLayout
) -> tuple[SerialWord, ...]:
    """Interleave ``source_words`` and ``targets`` by alignment (see the module doc).

    Raises:
        ValueError: an empty or whitespace-holding word, a word containing a tag, an alignment
            index out of range, or a target language outside ``layout`` (or given twice).
    """
    _check_words(source_words, "source_words", layout)
    seen: set[str] = set()
    for target in targets:
        _check_layout_lang(target.lang, layout, seen)
    anchored: list[list[SerialWord]] = [[] for _ in range(len(source_words) + 1)]
    for target in sorted(targets, key=lambda t: layout.target_langs.index(t.lang)):
        _check_words(target.words, f"{target.lang} words", layout)
        stream = layout.target_stream(target.lang)
        anchors = target_anchors(target.alignment, len(source_words), len(target.words))
        for word, anchor in zip(target.words, anchors, strict=True):
            anchored[anchor + 1].append(SerialWord(stream, word))
    ordered = list(anchored[0])
    for source_word, after in zip(source_words, anchored[1:], strict=True):
        ordered.append(SerialWord(ASR_STREAM, source_word))
        ordered.extend(after)
    return tuple(ordered)


def merge_by_time(
    source_words: Sequence[str],
    source_end_ms: Sequence[float],
    targets: Sequence[TimedTargetWords],
    layout: StreamLayout,
) -> tuple[SerialWord, ...]:
    """Merge source words (at their end times) and timed target words in time order.

    Ties: source words first, then the target languages in layout order, each stream in its
    own order.  This is the general form of the timestamp-based order: target times may come
    from alignments (:func:`order_by_time`) or from anywhere else.

    Raises:
        ValueError: bad words (see :func:`order_by_alignment`), lengths that differ, or times
            that are negative, not finite, or decrease within a stream.
    """
    _check_words(source_words, "source_words", layout)
    _check_source_times(source_words, source_end_ms)
    keyed = [
        ((time_ms, 0, position), SerialWord(ASR_STREAM, word))
        for position, (word, time_ms) in enumerate(zip(source_words, source_end_ms, strict=True))
    ]
    seen: set[str] = set()
    for target in targets:
        _check_layout_lang(target.lang, layout, seen)
        _check_words(target.words, f"{target.lang} words", layout)
        if len(target.times_ms) != len(target.words):
            raise ValueError(
                f"`{target.lang} times_ms` must have one time per word ({len(target.words)}), but "
                f"has {len(target.times_ms)} instead."
            )
        _check_times(target.times_ms, f"{target.lang} times_ms")
        rank = 1 + layout.target_langs.index(target.lang)
        stream = layout.target_stream(target.lang)
        keyed.extend(
            ((time_ms, rank, position), SerialWord(stream, word))
            for position, (word, time_ms) in enumerate(
                zip(target.words, target.times_ms, strict=True)
            )
        )
    keyed.sort(key=lambda item: item[0])
    return tuple(word for _, word in keyed)


def order_by_time(
    source_words: Sequence[str],
    source_end_ms: Sequence[float],
    targets: Sequence[TargetWords],
    layout: StreamLayout,
    *,
    target_lag_ms: float = 0.0,
) -> tuple[SerialWord, ...]:
    """Interleave by time: each target word at its anchor's end time plus ``target_lag_ms``.

    Args:
        source_words: S source words.
        source_end_ms: (S,) their end times in ms, non-decreasing.
        targets: the target languages' words and alignments.
        layout: the streams and tags.
        target_lag_ms: added to every target word's time, >= 0 (Default: 0).

    Raises:
        ValueError: as :func:`order_by_alignment` and :func:`merge_by_time`, or a negative lag.
    """
    if not (isinstance(target_lag_ms, (int, float)) and math.isfinite(target_lag_ms)
            and target_lag_ms >= 0):  # fmt: skip
        raise ValueError(
            f"`target_lag_ms` must be a finite number >= 0, but is {target_lag_ms!r} instead."
        )
    _check_source_times(source_words, source_end_ms)
    timed = []
    for target in targets:
        anchors = target_anchors(target.alignment, len(source_words), len(target.words))
        times = tuple(
            (source_end_ms[anchor] if anchor >= 0 else 0.0) + target_lag_ms for anchor in anchors
        )
        timed.append(TimedTargetWords(lang=target.lang, words=target.words, times_ms=times))
    return merge_by_time(source_words, source_end_ms, timed, layout)


def serialized_text(words: Sequence[SerialWord], layout: StreamLayout) -> str:
    """The words as one string, with a stream's tag before its first word and at every change.

    Examples:
        >>> layout = StreamLayout(("de",))
        >>> serialized_text([SerialWord("asr", "yes"), SerialWord("st", "ja")], layout)
        '<asr> yes <st> ja'
    """
    parts, current = [], None
    for serial_word in words:
        if serial_word.stream != current:
            parts.append(layout.tag(serial_word.stream))
            current = serial_word.stream
        parts.append(serial_word.word)
    return " ".join(parts)

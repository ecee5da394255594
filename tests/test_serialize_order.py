"""Serialization order: hand-made examples, the round trip, and clear errors on bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.serialize import (
    EmittedToken,
    SerialWord,
    StreamLayout,
    TargetWords,
    TimedTargetWords,
    merge_by_time,
    order_by_alignment,
    order_by_time,
    serialized_text,
    split_streams,
    target_anchors,
)

DE = StreamLayout(("de",))
DE_ES = StreamLayout(("de", "es"))

# German verb-final subordinate clause: "sieht" translates "sees" but comes last.
SOURCE = tuple("because the dog sees the cat".split())
GERMAN = TargetWords(
    lang="de",
    words=tuple("weil der Hund die Katze sieht".split()),
    alignment=((0, 0), (1, 1), (2, 2), (3, 5), (4, 3), (5, 4)),
)
SPANISH = TargetWords(
    lang="es",
    words=tuple("porque el perro ve al gato".split()),
    alignment=((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)),
)
SOURCE_END_MS = (300.0, 400.0, 700.0, 1000.0, 1100.0, 1500.0)


def _text(words: tuple[SerialWord, ...], layout: StreamLayout) -> str:
    return serialized_text(words, layout)


def test_crossing_alignment_keeps_german_order_after_the_last_needed_source_word() -> None:
    text = _text(order_by_alignment(SOURCE, [GERMAN], DE), DE)
    assert text == (
        "<asr> because <st> weil <asr> the <st> der <asr> dog <st> Hund "
        "<asr> sees the <st> die <asr> cat <st> Katze sieht"
    )


def test_anchors_are_the_last_aligned_source_word_made_non_decreasing() -> None:
    assert target_anchors(GERMAN.alignment, 6, 6) == [0, 1, 2, 4, 5, 5]
    # one target word aligned to two source words goes after the later one
    assert target_anchors(((0, 0), (2, 0), (1, 1)), 3, 2) == [2, 2]


def test_empty_alignment_puts_the_translation_after_the_transcript() -> None:
    target = TargetWords(lang="de", words=GERMAN.words, alignment=())
    text = _text(order_by_alignment(SOURCE, [target], DE), DE)
    assert text == "<asr> because the dog sees the cat <st> weil der Hund die Katze sieht"


def test_unaligned_words_follow_the_previous_target_word_or_precede_the_first_aligned_one() -> None:
    source = ("the", "dog", "sleeps.")
    target = TargetWords(
        lang="de",
        words=("also", "der", "Hund", ",", "schläft", "."),
        alignment=((0, 1), (1, 2), (2, 4)),
    )
    text = _text(order_by_alignment(source, [target], DE), DE)
    assert text == "<asr> the <st> also der <asr> dog <st> Hund , <asr> sleeps. <st> schläft ."


def test_repeated_words_are_placed_by_their_own_indices() -> None:
    source = ("the", "the", "the")
    target = TargetWords(lang="de", words=("die", "die"), alignment=((2, 0), (0, 1)))
    # "die" #0 needs the third "the"; "die" #1 must follow it.
    text = _text(order_by_alignment(source, [target], DE), DE)
    assert text == "<asr> the the the <st> die die"


def test_no_source_words_puts_the_target_first() -> None:
    target = TargetWords(lang="de", words=("ja",), alignment=())
    assert _text(order_by_alignment((), [target], DE), DE) == "<st> ja"
    assert _text(order_by_alignment((), [], DE), DE) == ""


def test_two_target_languages_interleave_in_layout_order_with_one_tag_each() -> None:
    text = _text(order_by_alignment(SOURCE, [SPANISH, GERMAN], DE_ES), DE_ES)
    assert text == (
        "<asr> because <de> weil <es> porque <asr> the <de> der <es> el <asr> dog <de> Hund "
        "<es> perro <asr> sees <es> ve <asr> the <de> die <es> al <asr> cat <de> Katze sieht "
        "<es> gato"
    )


def test_timestamp_order_merges_by_end_time_with_a_lag() -> None:
    words = order_by_time(SOURCE, SOURCE_END_MS, [GERMAN], DE, target_lag_ms=350)
    assert _text(words, DE) == (
        "<asr> because the <st> weil <asr> dog <st> der <asr> sees <st> Hund <asr> the "
        "<st> die <asr> cat <st> Katze sieht"
    )
    unlagged = order_by_time(SOURCE, SOURCE_END_MS, [GERMAN], DE)
    assert unlagged == order_by_alignment(SOURCE, [GERMAN], DE)


def test_timestamp_ties_put_source_words_first_then_languages_in_layout_order() -> None:
    source, ends = ("a", "b"), (500.0, 500.0)
    german = TargetWords(lang="de", words=("x",), alignment=((0, 0),))
    spanish = TargetWords(lang="es", words=("y",), alignment=((0, 0),))
    by_time = order_by_time(source, ends, [spanish, german], DE_ES)
    assert _text(by_time, DE_ES) == "<asr> a b <de> x <es> y"
    # the alignment order differs exactly here: x follows "a", its aligned word
    assert _text(order_by_alignment(source, [german], DE), DE) == "<asr> a <st> x <asr> b"


def test_merge_by_time_takes_target_times_from_anywhere() -> None:
    target = TimedTargetWords(lang="de", words=("ja", "gut"), times_ms=(0.0, 450.0))
    words = merge_by_time(("yes", "good"), (300.0, 450.0), [target], DE)
    assert _text(words, DE) == "<st> ja <asr> yes good <st> gut"


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (SOURCE, TargetWords(lang="de", words=GERMAN.words, alignment=((6, 0),)), "out of range"),
        (SOURCE, TargetWords(lang="de", words=GERMAN.words, alignment=((0, 6),)), "out of range"),
        (SOURCE, TargetWords(lang="de", words=GERMAN.words, alignment=((-1, 0),)), "out of range"),
        (SOURCE, TargetWords(lang="de", words=GERMAN.words, alignment=((0, 1.0),)), "integers"),  # type: ignore[arg-type]
        (SOURCE, TargetWords(lang="de", words=GERMAN.words, alignment=((0,),)), "integers"),  # type: ignore[arg-type]
        (("the<st>", "dog"), TargetWords(lang="de", words=(), alignment=()), "stream tag '<st>'"),
        (SOURCE, TargetWords(lang="de", words=("<asr>x",), alignment=()), "stream tag '<asr>'"),
        (("two words",), TargetWords(lang="de", words=(), alignment=()), "without whitespace"),
        (("",), TargetWords(lang="de", words=(), alignment=()), "non-empty word"),
        (SOURCE, TargetWords(lang="fr", words=(), alignment=()), "one of the layout's"),
    ],
)
def test_unserializable_input_is_a_clear_error(
    source: tuple[str, ...], target: TargetWords, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        order_by_alignment(source, [target], DE)
    with pytest.raises(ValueError, match=message):
        order_by_time(source, [100.0 * (i + 1) for i in range(len(source))], [target], DE)


def test_a_language_given_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="given twice"):
        order_by_alignment(SOURCE, [GERMAN, GERMAN], DE)


@pytest.mark.parametrize(
    ("ends", "message"),
    [
        ((300.0, 200.0, 700.0, 1000.0, 1100.0, 1500.0), "must not decrease"),
        ((300.0, math.nan, 700.0, 1000.0, 1100.0, 1500.0), "finite time"),
        ((-1.0, 400.0, 700.0, 1000.0, 1100.0, 1500.0), "finite time"),
        ((300.0, 400.0), "one time per source word"),
    ],
)
def test_bad_timestamps_are_a_clear_error(ends: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        order_by_time(SOURCE, ends, [GERMAN], DE)


def test_bad_target_times_and_lags_are_errors() -> None:
    with pytest.raises(ValueError, match="must not decrease"):
        merge_by_time(
            ("a",), (1.0,), [TimedTargetWords(lang="de", words=("x", "y"), times_ms=(5, 4))], DE
        )
    with pytest.raises(ValueError, match="one time per word"):
        merge_by_time(("a",), (1.0,), [TimedTargetWords(lang="de", words=("x",), times_ms=())], DE)
    with pytest.raises(ValueError, match="target_lag_ms"):
        order_by_time(SOURCE, SOURCE_END_MS, [GERMAN], DE, target_lag_ms=-1)


@pytest.mark.parametrize(
    ("langs", "message"),
    [((), "non-empty tuple"), (("asr",), "stream names"), (("st",), "stream names"),
     (("de", "de"), "distinct"), (("d e",), "language codes"), (("<de>",), "language codes")],
)  # fmt: skip
def test_bad_layouts_are_errors(langs: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamLayout(langs)


def test_layout_names_and_tags() -> None:
    assert DE.streams == ("asr", "st") and DE.tags == ("<asr>", "<st>")
    assert DE_ES.streams == ("asr", "de", "es") and DE_ES.tags == ("<asr>", "<de>", "<es>")
    assert DE.stream_of_tag("<st>") == "st" and DE.stream_of_tag("<de>") is None
    with pytest.raises(ValueError, match="one of"):
        DE.tag("de")


# --- the round trip: serialize, then de-serialize, gives back every text exactly ----------------

_WORDS = st.sampled_from(
    ["the", "dog", "cat", "sees", "a", "Hund", "Katze", "sieht", "weil", "größer", "el", "niño",
     "¿qué?", ",", ".", "key.", "don't", "x-ray", "the"]
)  # fmt: skip


@st.composite
def _bitext(draw: st.DrawFn, langs: tuple[str, ...]) -> tuple[list[str], list[TargetWords]]:
    source = draw(st.lists(_WORDS, max_size=10))
    targets = []
    for lang in langs:
        words = draw(st.lists(_WORDS, max_size=10))
        pairs = st.tuples(
            st.integers(0, max(len(source) - 1, 0)), st.integers(0, max(len(words) - 1, 0))
        )
        alignment = draw(st.lists(pairs, max_size=15)) if source and words else []
        targets.append(TargetWords(lang=lang, words=tuple(words), alignment=tuple(alignment)))
    return source, draw(st.permutations(targets))


@st.composite
def _end_times(draw: st.DrawFn, count: int) -> list[float]:
    steps = draw(
        st.lists(st.sampled_from([0.0, 10.0, 62.5, 300.0]), min_size=count, max_size=count)
    )
    return [sum(steps[: i + 1]) for i in range(count)]


def _check_round_trip(
    source: list[str],
    targets: list[TargetWords],
    layout: StreamLayout,
    words: tuple[SerialWord, ...],
) -> None:
    text = serialized_text(words, layout)
    tokens = [EmittedToken(token, 10.0 * i) for i, token in enumerate(text.split())]
    streams = split_streams(tokens, layout, unit="word")
    assert streams["asr"].words == tuple(source)
    for target in targets:
        assert streams[layout.target_stream(target.lang)].words == target.words
    # a tag opens the sequence and marks every change of stream, and only then
    tags = [i for i, token in enumerate(text.split()) if layout.stream_of_tag(token)]
    changes = [0] + [i for i in range(1, len(words)) if words[i].stream != words[i - 1].stream]
    assert len(tags) == (len(changes) if words else 0)


@pytest.mark.parametrize("layout", [DE, DE_ES], ids=["one-target", "two-targets"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_alignment_round_trip_and_placement(layout: StreamLayout, data: st.DataObject) -> None:
    source, targets = data.draw(_bitext(layout.target_langs))
    words = order_by_alignment(source, targets, layout)
    _check_round_trip(source, targets, layout, words)
    positions = {}
    counters: dict[str, int] = {}
    for position, word in enumerate(words):
        index = counters.get(word.stream, 0)
        counters[word.stream] = index + 1
        positions[(word.stream, index)] = position
    for target in targets:
        stream = layout.target_stream(target.lang)
        for source_index, target_index in target.alignment:
            # every target word comes after every source word it is aligned to
            assert positions[(stream, target_index)] > positions[("asr", source_index)]


@pytest.mark.parametrize("layout", [DE, DE_ES], ids=["one-target", "two-targets"])
@settings(max_examples=150, deadline=None)
@given(data=st.data(), lag_ms=st.sampled_from([0.0, 50.0, 400.0]))
def test_timestamp_round_trip(layout: StreamLayout, data: st.DataObject, lag_ms: float) -> None:
    source, targets = data.draw(_bitext(layout.target_langs))
    ends = data.draw(_end_times(len(source)))
    words = order_by_time(source, ends, targets, layout, target_lag_ms=lag_ms)
    _check_round_trip(source, targets, layout, words)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_timestamp_order_equals_alignment_order_for_strictly_increasing_times(
    data: st.DataObject,
) -> None:
    source, targets = data.draw(_bitext(DE_ES.target_langs))
    ends = [100.0 * (i + 1) for i in range(len(source))]
    assert order_by_time(source, ends, targets, DE_ES) == order_by_alignment(source, targets, DE_ES)

"""De-serialization: per-stream words with delays, pieces, errors, and per-stream scores."""

from __future__ import annotations

import math

import pytest

from simul.eval.scoring import ScoringConfig, score
from simul.serialize import EmittedToken, StreamLayout, joint_instance_output, split_streams

DE = StreamLayout(("de",))
DE_ES = StreamLayout(("de", "es"))


def _tokens(
    spec: list[tuple[str, float]], elapsed_offset_ms: float | None = None
) -> list[EmittedToken]:
    return [
        EmittedToken(text, ms, None if elapsed_offset_ms is None else ms + elapsed_offset_ms)
        for text, ms in spec
    ]


# "because the dog sees the cat" -> "weil der Hund die Katze sieht", serialized by alignment,
# with the source time (ms) at which each token was written; tags are written with the next word.
HAND = [
    ("<asr>", 400), ("because", 400), ("<st>", 500), ("weil", 500), ("<asr>", 600), ("the", 600),
    ("<st>", 700), ("der", 700), ("<asr>", 900), ("dog", 900), ("<st>", 1000), ("Hund", 1000),
    ("<asr>", 1200), ("sees", 1200), ("the", 1300), ("<st>", 1400), ("die", 1400),
    ("<asr>", 1600), ("cat", 1600), ("<st>", 1800), ("Katze", 1800), ("sieht", 2000),
]  # fmt: skip


def test_words_are_split_by_stream_with_their_delays() -> None:
    streams = split_streams(_tokens(HAND), DE, unit="word")
    assert list(streams) == ["asr", "st"]
    assert streams["asr"].text == "because the dog sees the cat"
    assert streams["asr"].delays_ms == (400, 600, 900, 1200, 1300, 1600)
    assert streams["st"].text == "weil der Hund die Katze sieht"
    assert streams["st"].delays_ms == (500, 700, 1000, 1400, 1800, 2000)
    assert streams["st"].elapsed_ms == ()


def test_a_word_made_of_pieces_is_delayed_until_its_last_piece() -> None:
    pieces = [
        ("▁", 0), ("<asr>", 0), ("▁be", 100), ("c", 150), ("ause", 420), ("▁", 430), ("<st>", 430),
        ("▁wei", 500), ("l", 640), ("<asr>", 700), ("▁the", 800), ("▁", 900), ("d", 950),
        ("og", 990), ("<st>", 1000), ("▁der", 1100), ("▁Hu", 1200), ("nd", 1300), ("</s>", 1400),
    ]  # fmt: skip
    streams = split_streams(_tokens(pieces, elapsed_offset_ms=7), DE, unit="piece")
    assert streams["asr"].words == ("because", "the", "dog")
    assert streams["asr"].delays_ms == (420, 800, 990)
    assert streams["asr"].elapsed_ms == (427, 807, 997)
    assert streams["st"].words == ("weil", "der", "Hund")
    assert streams["st"].delays_ms == (640, 1100, 1300)


def test_pieces_special_cases() -> None:
    pieces = [
        ("<s>", 0), ("abc", 10), ("<unk>", 20), ("d", 30), ("<st>", 40), ("x", 50),
        ("▁", 60), ("<pad>", 70), ("▁y", 80), ("a▁b", 90),
    ]  # fmt: skip
    streams = split_streams(_tokens(pieces), DE, unit="piece")
    # no tag yet: asr; <unk> stays inside its word; a tag ends a word and a piece after it starts one
    assert streams["asr"].words == ("abc\u2047d",)
    assert streams["asr"].delays_ms == (30,)
    assert streams["st"].words == ("x", "ya", "b")
    assert streams["st"].delays_ms == (50, 90, 90)


def test_every_stream_is_present_even_when_empty() -> None:
    streams = split_streams(_tokens([("<asr>", 0), ("hello", 10)]), DE_ES, unit="word")
    assert list(streams) == ["asr", "de", "es"]
    assert streams["de"].words == () and streams["es"].delays_ms == ()
    assert split_streams([], DE, unit="piece")["asr"].words == ()


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([EmittedToken("a", 10), EmittedToken("b", 5)], "must not decrease"),
        ([EmittedToken("a", math.inf)], "finite time"),
        ([EmittedToken("a", -1)], "finite time"),
        ([EmittedToken("a", 1, 5), EmittedToken("b", 2)], "every token or for none"),
        ([EmittedToken("a", 1, 5), EmittedToken("b", 2, 4)], "must not decrease"),
        ([EmittedToken("a b", 1)], "without whitespace"),
        ([EmittedToken("", 1)], "non-empty word"),
    ],
)
def test_bad_token_streams_are_clear_errors(tokens: list[EmittedToken], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_streams(tokens, DE, unit="word")


def test_unit_must_be_word_or_piece() -> None:
    with pytest.raises(ValueError, match="`unit`"):
        split_streams([], DE, unit="char")  # type: ignore[arg-type]


def test_references_must_name_layout_streams() -> None:
    with pytest.raises(ValueError, match="keyed by the streams"):
        joint_instance_output(0, [], DE, unit="word", source_length_ms=1000, references={"de": "x"})


def test_per_stream_latency_and_quality_of_a_hand_computed_example() -> None:
    """|X| = 2000 ms, |Y*| = 6 words in both streams, so 1/gamma = 2000/6 ms.

    asr delays 400 600 900 1200 1300 1600: no delay reaches |X|, tau = 6,
        AL = (6000 - (0+1+2+3+4+5) * 2000/6) / 6 = (6000 - 5000) / 6 = 166.67 ms;
        AP = 6000 / (2000 * 6) = 0.5.
    st delays 500 700 1000 1400 1800 2000: tau = 6 (2000 >= |X|),
        AL = (7400 - 5000) / 6 = 400 ms; AP = 7400 / 12000 = 0.61667.
    LAAL = AL (|Y| = |Y*|); computation-aware with elapsed = delay + 50 ms adds 50 ms to AL.
    """
    output = joint_instance_output(
        0,
        _tokens(HAND, elapsed_offset_ms=50),
        DE,
        unit="word",
        source_length_ms=2000,
        references={"asr": "because the dog sees the cat", "st": "weil der Hund die Katze sieht"},
    )
    scores = score([output], ScoringConfig(computation_aware=True))
    corpus = scores.corpus
    assert list(corpus.index) == ["asr", "st"]
    assert corpus.loc["asr", "AL"] == pytest.approx(1000 / 6)
    assert corpus.loc["asr", "LAAL"] == pytest.approx(1000 / 6)
    assert corpus.loc["asr", "AP"] == pytest.approx(0.5)
    assert corpus.loc["asr", "AL_CA"] == pytest.approx(1000 / 6 + 50)
    assert corpus.loc["asr", "WER"] == pytest.approx(0.0)
    assert corpus.loc["st", "AL"] == pytest.approx(400)
    assert corpus.loc["st", "LAAL"] == pytest.approx(400)
    assert corpus.loc["st", "AP"] == pytest.approx(7400 / 12000)
    assert corpus.loc["st", "AL_CA"] == pytest.approx(450)
    assert corpus.loc["st", "BLEU"] == pytest.approx(100.0)
    assert "WER" not in corpus.columns or math.isnan(corpus.loc["st", "WER"])

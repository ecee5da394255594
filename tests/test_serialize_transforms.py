"""Named target transforms: names, instances of the built-in grammar, alignment tables, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from simul.data.instance import Instance, WordSpan
from simul.data.synth import GrammarConfig, SynthSentence, generate_sentences
from simul.serialize import (
    TARGET_TRANSFORMS,
    EmittedToken,
    JointTarget,
    SourceText,
    TargetText,
    get_target_transform,
    split_streams,
)

SENTENCES = generate_sentences(GrammarConfig(), 40, seed=3)


def _instance(
    sentence: SynthSentence, *, index: int = 0, timed: bool = True, aligned: bool = True
) -> Instance:
    """An instance of ``sentence`` whose word k ends at (k + 1) * 4000 samples (250 ms at 16 kHz)."""
    words = tuple(
        WordSpan(word, k * 4000, (k + 1) * 4000) for k, word in enumerate(sentence.source_words)
    )
    return Instance(
        id=f"synth_{index}",
        audio_path=Path("unused.wav"),
        offset_samples=0,
        num_samples=16000 * 10,
        sample_rate=16000,
        source_text=sentence.source_text,
        target_texts={lang: sentence.target_text(lang) for lang in ("de", "es")},
        source_words=words if timed else None,
        alignments=dict(sentence.alignments) if aligned else None,
    )


INSTANCES = [_instance(sentence, index=i) for i, sentence in enumerate(SENTENCES)]
HAND = Instance(
    id="hand",
    audio_path=Path("unused.wav"),
    offset_samples=0,
    num_samples=32000,
    sample_rate=16000,
    source_text="because the dog sees the cat",
    target_texts={"de": "weil der Hund die Katze sieht"},
    source_words=tuple(
        WordSpan(word, start, end)
        for word, start, end in [
            ("because", 0, 4800),
            ("the", 4800, 6400),
            ("dog", 6400, 11200),
            ("sees", 11200, 16000),
            ("the", 16000, 17600),
            ("cat", 17600, 24000),
        ]
    ),  # fmt: skip
    alignments={"de": ((0, 0), (1, 1), (2, 2), (3, 5), (4, 3), (5, 4))},
)


def test_names_select_the_transforms() -> None:
    assert isinstance(get_target_transform("asr"), SourceText)
    assert get_target_transform("st:de") == TargetText("de")
    joint = get_target_transform("joint_alignment:de")
    assert isinstance(joint, JointTarget) and joint.mode == "alignment"
    assert joint.layout.tags == ("<asr>", "<st>")
    many = get_target_transform("joint_timestamp:de+es")
    assert isinstance(many, JointTarget) and many.mode == "timestamp"
    assert many.layout.tags == ("<asr>", "<de>", "<es>")
    lagged = get_target_transform("joint_timestamp:de:lag_ms=300")
    assert isinstance(lagged, JointTarget) and lagged.target_lag_ms == 300.0


@pytest.mark.parametrize(
    "name",
    ["", "mt", "asr:de", "st:", "st:de+es", "joint_alignment", "joint_alignment:",
     "joint_alignment:de+", "joint_alignment:de:lag_ms=3", "joint_timestamp:de:lag=3",
     "joint_timestamp:de:lag_ms=-3", "joint_alignment:asr"],
)  # fmt: skip
def test_bad_names_are_errors(name: str) -> None:
    with pytest.raises(ValueError) as error:
        get_target_transform(name)
    if name in ("", "mt"):
        assert all(family in str(error.value) for family in TARGET_TRANSFORMS)


def test_hand_example_in_both_modes() -> None:
    assert get_target_transform("asr")(HAND) == "because the dog sees the cat"
    assert get_target_transform("st:de")(HAND) == "weil der Hund die Katze sieht"
    assert get_target_transform("joint_alignment:de")(HAND) == (
        "<asr> because <st> weil <asr> the <st> der <asr> dog <st> Hund "
        "<asr> sees the <st> die <asr> cat <st> Katze sieht"
    )
    # word ends: 300 400 700 1000 1100 1500 ms; a 350 ms lag lets "the" and "dog" pass first
    assert get_target_transform("joint_timestamp:de:lag_ms=350")(HAND) == (
        "<asr> because the <st> weil <asr> dog <st> der <asr> sees <st> Hund <asr> the "
        "<st> die <asr> cat <st> Katze sieht"
    )


@pytest.mark.parametrize(
    "name", ["joint_alignment:de", "joint_alignment:es+de", "joint_timestamp:de+es",
             "joint_timestamp:es:lag_ms=500"],
)  # fmt: skip
def test_grammar_instances_round_trip(name: str) -> None:
    transform = get_target_transform(name)
    assert isinstance(transform, JointTarget)
    layout = transform.layout
    for instance in INSTANCES:
        text = transform(instance)
        tokens = [EmittedToken(token, float(i)) for i, token in enumerate(text.split())]
        streams = split_streams(tokens, layout, unit="word")
        assert {name: words.text for name, words in streams.items()} == dict(
            layout.references(instance)
        )


def test_alignment_table_replaces_the_instance_alignments() -> None:
    unaligned = _instance(SENTENCES[0], aligned=False)
    with pytest.raises(ValueError, match="simul data align"):
        get_target_transform("joint_alignment:de")(unaligned)
    table = {"de": {unaligned.id: ()}}  # an empty alignment: transcript, then translation
    text = get_target_transform("joint_alignment:de", alignments=table)(unaligned)
    assert text == f"<asr> {unaligned.source_text} <st> {unaligned.target_texts['de']}"
    other = _instance(SENTENCES[1], index=1)
    with pytest.raises(ValueError, match="no 'de' alignment in the given alignment table"):
        get_target_transform("joint_alignment:de", alignments=table)(other)


def test_instance_errors_name_the_instance() -> None:
    untimed = _instance(SENTENCES[0], timed=False)
    with pytest.raises(ValueError, match="'synth_0'.*source word times"):
        get_target_transform("joint_timestamp:de")(untimed)
    with pytest.raises(ValueError, match="'hand'.*translations into de, fr"):
        get_target_transform("joint_alignment:de+fr")(HAND)
    with pytest.raises(ValueError, match="must have a translation into 'fr'"):
        get_target_transform("st:fr")(HAND)
    bad = Instance(
        id="bad", audio_path=Path("unused.wav"), offset_samples=0, num_samples=16000,
        sample_rate=16000, source_text="the dog", target_texts={"de": "der Hund"},
        source_words=(WordSpan("the", 0, 10), WordSpan("cat", 10, 20)),
        alignments={"de": ((0, 0), (2, 1))},
    )  # fmt: skip
    with pytest.raises(ValueError, match="'bad'.*out of range"):
        get_target_transform("joint_alignment:de")(bad)
    with pytest.raises(ValueError, match="'bad'.*whitespace words of `source_text`"):
        get_target_transform("joint_timestamp:de")(bad)


def test_lag_is_for_the_timestamp_mode_only() -> None:
    with pytest.raises(ValueError, match="timestamp mode only"):
        JointTarget(mode="alignment", target_langs=("de",), target_lag_ms=100)
    with pytest.raises(ValueError, match="`mode`"):
        JointTarget(mode="time", target_langs=("de",))  # type: ignore[arg-type]

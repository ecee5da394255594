"""From decoded tokens with times to the scorer's records: words, delays, streams, metric names."""

from __future__ import annotations

from pathlib import Path

import pytest

from simul.data.instance import Instance
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.base import Decoded
from simul.families.registry import family_names, get_family
from simul.registry import Registry
from simul.serialize import get_target_transform
from simul.train.evaluate import instance_output, metric_name, output_streams, words_with_delays

INSTANCE = Instance(
    id="talk_0",
    audio_path=Path("talk.wav"),
    offset_samples=0,
    num_samples=32_000,
    sample_rate=16_000,
    source_text="the dog runs",
    target_texts={"de": "der Hund rennt"},
    alignments={"de": ((0, 0), (1, 1), (2, 2))},
)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    texts = ["the dog runs", "der Hund rennt", "a cat sleeps", "eine Katze schläft"] * 10
    return train_sentencepiece(
        tmp_path_factory.mktemp("spm") / "spm",
        SpmConfig(vocab_size=40, model_type="char", tags=("<asr>", "<st>")),
        texts=texts,
    )


def test_a_word_is_delayed_until_its_last_piece(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode("the dog runs")
    pieces = [tokenizer.id_to_piece(i) for i in ids]
    times = list(range(100, 100 + 10 * len(ids), 10))
    text, delays = words_with_delays(tokenizer, ids, times)
    assert text == "the dog runs"
    ends = [
        k
        for k, piece in enumerate(pieces)
        if k + 1 == len(pieces) or pieces[k + 1].startswith("\u2581")
    ]
    assert delays == tuple(float(times[k]) for k in ends)
    assert words_with_delays(tokenizer, ids, None) == ("the dog runs", ())
    assert words_with_delays(tokenizer, [], []) == ("", ())
    with pytest.raises(ValueError, match="one time per token"):
        words_with_delays(tokenizer, ids, times[:-1])


def test_single_stream_records_are_named_by_the_target(tokenizer: Tokenizer) -> None:
    ids = tuple(tokenizer.encode("der Hund"))
    decoded = Decoded(token_ids=ids, source_ms=tuple(range(10, 10 * len(ids) + 10, 10)))
    record = instance_output(3, INSTANCE, decoded, tokenizer=tokenizer,
                             target=get_target_transform("st:de"))  # fmt: skip
    assert list(record.streams) == ["st"]
    stream = record.streams["st"]
    assert (stream.prediction, stream.reference) == ("der Hund", "der Hund rennt")
    assert len(stream.delays) == 2 and record.source_length == 2000.0
    assert record.extra == {"id": "talk_0"}


def test_joint_output_is_split_into_streams(tokenizer: Tokenizer) -> None:
    target = get_target_transform("joint_alignment:de")
    asr, st = tokenizer.tags["<asr>"], tokenizer.tags["<st>"]
    ids = (asr, *tokenizer.encode("the"), st, *tokenizer.encode("der"), asr,
           *tokenizer.encode("dog"))  # fmt: skip
    decoded = Decoded(token_ids=ids, source_ms=tuple(range(0, 40 * len(ids), 40)))
    record = instance_output(0, INSTANCE, decoded, tokenizer=tokenizer, target=target)
    assert output_streams(target) == ("asr", "st")
    assert record.streams["asr"].prediction == "the dog"
    assert record.streams["st"].prediction == "der"
    assert record.streams["st"].reference == "der Hund rennt"
    assert record.streams["asr"].delays[-1] == 40.0 * (len(ids) - 1)
    untimed = instance_output(
        0, INSTANCE, Decoded(token_ids=ids), tokenizer=tokenizer, target=target
    )
    assert untimed.streams["asr"].delays == ()


def test_metric_names_pick_a_stream() -> None:
    joint = get_target_transform("joint_alignment:de")
    assert metric_name("WER", get_target_transform("asr")) == ("asr", "WER")
    assert metric_name("st/BLEU", joint) == ("st", "BLEU")
    assert metric_name("BLEU", get_target_transform("st:de")) == ("st", "BLEU")
    with pytest.raises(ValueError, match="streams"):
        metric_name("de/BLEU", joint)
    with pytest.raises(ValueError, match="end in one of"):
        metric_name("wer", joint)


def test_registries_list_the_known_names() -> None:
    assert "transducer" in family_names()
    with pytest.raises(ValueError, match=r"\[.*'transducer'.*\].*'no-such-family'"):
        get_family("no-such-family")
    registry: Registry[int] = Registry("thing")
    registry.add("one", 1)
    assert registry.get("one") == 1 and "one" in registry and len(registry) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.add("one", 2)

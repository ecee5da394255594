"""Word-final vocabularies (``hel lo▁``): a word is complete with its last piece, everywhere.

With the usual word-initial pieces (``▁hel lo``) a streaming system learns that a word is complete
only when the next word begins, so whole-word output waits for it (up to a segment or more for
a transducer: issue 14).  With SentencePiece's ``treat_whitespace_as_suffix`` the last piece says
so itself.  These tests check that every place that turns pieces into words (the loop's word
assembler and commit rule, the offline de-serializer, the trainer's word delays, wait-k's word
count) reads both conventions the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from policies import TransducerEmission, WaitK
from policies.waitk import TargetUnit
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.serialize import EmittedToken, StreamLayout, split_streams
from simul.streaming import Token, ToyConfig, ToyMode, ToyModel, simulate_waveform
from simul.streaming.session import complete_prefix_length
from simul.streaming.words import WordAssembler
from simul.train.evaluate import words_with_delays

# "hello world ok": word-final pieces, each aligned to an encoder frame of 40 ms
SUFFIX = ("hel", "lo▁", "wor", "ld▁", "ok▁")
PREFIX = ("▁hel", "lo", "▁wor", "ld", "▁ok")
FRAMES = (1, 3, 12, 14, 20)  # "hello" is done by 160 ms, "world" by 600 ms, "ok" by 840 ms


def _tokens(pieces: tuple[str, ...]) -> list[Token]:
    return [Token(id=10 + i, piece=piece) for i, piece in enumerate(pieces)]


def test_a_word_final_piece_ends_its_word() -> None:
    hel, lo, wor = _tokens(SUFFIX)[:3]
    assert lo.ends_word and not hel.ends_word and not lo.starts_word
    assert complete_prefix_length([hel, lo, wor], None) == 2  # "hello" is complete, "wor" is not
    assert complete_prefix_length([hel], None) == 0
    prefix = _tokens(PREFIX)
    assert not any(t.ends_word for t in prefix)
    assert complete_prefix_length(prefix[:3], None) == 2  # only once "▁wor" began


def test_the_word_assembler_emits_a_word_with_its_last_piece() -> None:
    words = WordAssembler(streams=("st",))
    emitted = []
    for time_ms, token in zip((100, 200, 300, 400, 500), _tokens(SUFFIX), strict=True):
        new = words.add(token, float(time_ms), float(time_ms))
        emitted.append([w.text for w in new])
    assert emitted == [[], ["hello"], [], ["world"], ["ok"]]
    assert not words.has_open_word


def _toy(pieces: tuple[str, ...]) -> ToyModel:
    return ToyModel(
        ToyConfig(mode=ToyMode.TRANSDUCER, pieces=pieces, frames=FRAMES, streams=("asr",))
    )


def test_whole_words_wait_for_the_next_word_only_with_word_initial_pieces() -> None:
    waveform = torch.zeros(16 * 1_000)  # 1 s, 25 frames
    policy = TransducerEmission(segment_ms=160, whole_words=True)
    suffix = simulate_waveform(_toy(SUFFIX), policy, waveform)
    prefix = simulate_waveform(_toy(PREFIX), policy, waveform)
    assert [w.text for w in suffix.words("asr")] == [w.text for w in prefix.words("asr")] == [
        "hello", "world", "ok",
    ]  # fmt: skip
    # word-final: each word at the segment that brings its last piece's frame
    assert [w.source_ms for w in suffix.words("asr")] == [160.0, 640.0, 960.0]
    # word-initial: "hello" waits for "▁wor" (frame 12, 520 ms: the 640 ms segment), "world"
    # for "▁ok" (frame 20, 840 ms: the 960 ms segment), "ok" for the end of the source
    assert [w.source_ms for w in prefix.words("asr")] == [640.0, 960.0, 1000.0]


def test_the_deserializer_and_the_trainer_group_word_final_pieces_alike(tmp_path: Path) -> None:
    layout = StreamLayout(("de",))
    timed = [EmittedToken(text=p, source_ms=float(100 * i)) for i, p in enumerate(SUFFIX)]
    asr = split_streams(timed, layout, unit="piece")["asr"]
    assert asr.words == ("hello", "world", "ok") and asr.delays_ms == (100.0, 300.0, 400.0)

    texts = ["the cat sat on the mat", "a dog ran to the park", "birds sing in the trees"] * 10
    tokenizer = train_sentencepiece(
        tmp_path / "spm", SpmConfig(vocab_size=40, model_type="bpe", whitespace_as_suffix=True),
        texts=texts,
    )  # fmt: skip
    ids = tokenizer.encode("the cat sat on the mat")
    pieces = [tokenizer.id_to_piece(i) for i in ids]
    assert all(p.endswith("▁") for p in pieces if p.startswith("▁")) and pieces[-1].endswith("▁")
    assert tokenizer.decode(ids) == "the cat sat on the mat"  # no trailing space
    times = list(range(0, 10 * len(ids), 10))
    text, delays = words_with_delays(tokenizer, ids, times)
    assert text == "the cat sat on the mat"
    ends = [times[i] for i, p in enumerate(pieces) if p.endswith("▁")]
    assert list(delays) == [float(t) for t in ends]  # each word at its last piece


@pytest.mark.parametrize("pieces", [SUFFIX, PREFIX])
def test_wait_k_counts_the_same_words_in_both_conventions(pieces: tuple[str, ...]) -> None:
    waveform = torch.zeros(16 * 1_000)
    policy = WaitK(k=1, target_unit=TargetUnit.WORD, segment_ms=160, whole_words=False)
    result = simulate_waveform(_toy(pieces), policy, waveform)
    # one word per segment after the first: hello at 320, world at 640 (its frames arrived), ok
    by_word = [w.source_ms for w in result.words("asr")]
    assert len(by_word) == 3
    assert by_word == sorted(by_word)

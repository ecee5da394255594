"""The transducer behind the streaming protocol: the loop keeps its output, from a checkpoint too."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from policies import AlignAtt, TransducerEmission, WaitK
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.base import target_streams
from simul.families.checkpoint import Checkpoint, save_checkpoint
from simul.families.loading import load_streaming_model, toy_model
from simul.families.transducer import model as transducer_presets
from simul.families.transducer.model import Transducer
from simul.families.transducer.search import SearchConfig, TransducerSearch
from simul.families.transducer.streaming import TransducerStreamingModel
from simul.streaming import simulate_waveform
from simul.streaming.tokens import Token
from simul.streaming.words import WordAssembler

_TEXTS = ["the cat sat on the mat", "a dog ran to the park", "birds sing in the trees"] * 4


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    root = tmp_path_factory.mktemp("spm")
    return train_sentencepiece(root / "spm", SpmConfig(vocab_size=24), texts=_TEXTS)


@pytest.fixture(scope="module")
def transducer(tokenizer: Tokenizer) -> Transducer:
    torch.manual_seed(0)
    config = dataclasses.replace(
        transducer_presets.tiny(), vocab_size=tokenizer.vocab_size, blank_id=tokenizer.blank_id
    )
    return Transducer(config).eval()


def _waveform(seconds: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return 0.1 * torch.randn(int(seconds * 16_000), generator=generator)


def _model(
    transducer: Transducer, tokenizer: Tokenizer, max_symbols_per_frame: int = 2
) -> TransducerStreamingModel:
    search = SearchConfig(max_symbols_per_frame=max_symbols_per_frame)
    return TransducerStreamingModel(
        transducer, tokenizer, fbank=FbankConfig(), cmvn=None, search=search, streams=("asr",)
    )


@pytest.mark.parametrize("segment_ms", [200, 700])
def test_the_loop_writes_exactly_what_the_offline_search_decodes(
    transducer: Transducer, tokenizer: Tokenizer, segment_ms: int
) -> None:
    waveform = _waveform()
    offline = TransducerSearch(transducer, SearchConfig(max_symbols_per_frame=2)).decode(
        FbankExtractor(FbankConfig())(waveform)
    )
    assert offline, "the random model must emit something for this test to mean anything"
    model = _model(transducer, tokenizer)
    for whole_words in (False, True):
        policy = TransducerEmission(segment_ms=segment_ms, whole_words=whole_words)
        result = simulate_waveform(model, policy, waveform)
        assert [c.token.id for c in result.tokens] == [t.token_id for t in offline]
        # A token is written no earlier than the audio its frame needs.
        for committed, emitted in zip(result.tokens, offline, strict=True):
            assert committed.source_ms >= min(emitted.source_ms, result.source_ms)


def test_the_transducer_runs_under_waitk_but_not_under_attention_policies(
    transducer: Transducer, tokenizer: Tokenizer
) -> None:
    model = _model(transducer, tokenizer)
    result = simulate_waveform(model, WaitK(k=2, whole_words=False), _waveform())
    assert result.tokens and all(c.source_ms >= 640.0 for c in result.tokens)
    with pytest.raises(ValueError, match="AlignAtt needs cross_attention"):
        simulate_waveform(model, AlignAtt(), _waveform())


def test_a_checkpoint_becomes_the_same_streaming_model(
    tmp_path: Path, transducer: Transducer, tokenizer: Tokenizer
) -> None:
    path = tmp_path / "tt.pt"
    save_checkpoint(
        path,
        Checkpoint(
            family="transducer",
            model_config=dataclasses.asdict(transducer.config),
            state_dict=transducer.state_dict(),
            tokenizer_model=tokenizer.model_path.read_bytes(),
            fbank_config=FbankConfig().to_dict(),
            cmvn=None,
            train_config={"data": {"target": "asr"}},
            step=7,
            epoch=0,
        ),
    )
    loaded = load_streaming_model(path, options={"max_symbols_per_frame": 1})
    assert loaded.model.output_streams == ("asr",) and loaded.target_lang is None
    assert loaded.description["search"]["max_symbols_per_frame"] == 1
    assert loaded.description["checkpoint"] == str(path)
    direct = _model(transducer, tokenizer, max_symbols_per_frame=1)
    policy = TransducerEmission()
    ours = simulate_waveform(loaded.model, policy, _waveform())
    assert [c.token.id for c in ours.tokens] == [
        c.token.id for c in simulate_waveform(direct, policy, _waveform()).tokens
    ]
    with pytest.raises(ValueError, match="beam"):
        load_streaming_model(path, options={"beam": 2})


def test_target_streams_and_the_toy_builder() -> None:
    assert target_streams("asr") == (("asr",), None)
    assert target_streams("st:es") == (("st",), "es")
    assert target_streams("joint_timestamp:de+es") == (("asr", "de", "es"), None)
    assert toy_model({"ms_per_word": 200}).model.config.ms_per_word == 200
    with pytest.raises(ValueError, match="toy model options"):
        toy_model({"ms_per_wrd": 200})


# --- streamed = emitted: the framing adds no delay (issue 14) --------------------------------


def _chunk_ms(transducer: Transducer) -> int:
    """A chunk's duration: chunk_size_frames encoder frames of 4 fbank frames of 10 ms."""
    return transducer.config.encoder.chunk_size_frames * 4 * 10


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    duration_ms=st.integers(300, 2_400),
    seed=st.integers(0, 2**16),
    segments_per_chunk=st.sampled_from([None, 1.0, 2.0, 0.5, 0.625, 1.5]),
)
@example(duration_ms=1_201, seed=0, segments_per_chunk=0.5)  # a last, partial chunk of 8 frames
@example(duration_ms=361, seed=0, segments_per_chunk=None)
def test_streamed_tokens_come_at_the_end_of_the_first_segment_that_covers_their_chunk(
    transducer: Transducer,
    tokenizer: Tokenizer,
    duration_ms: int,
    seed: int,
    segments_per_chunk: float | None,
) -> None:
    """The native policy writes each token when the segment that completes its chunk arrives.

    With the segment as long as the chunk, a token's streamed delay is exactly its emission time
    (the audio its chunk needs); with other segment sizes S it is the end of the first segment
    that covers that audio, ``min(S * ceil(emitted / S), |X|)``; never later (no framing delay).
    The one exception is the utterance's last, partial chunk: its frames exist ``|X| mod 10`` ms
    (under one fbank shift) before the source ends, but the chunk is encoded when it ends.
    """
    chunk_ms = _chunk_ms(transducer)
    segment_ms = chunk_ms if segments_per_chunk is None else int(chunk_ms * segments_per_chunk)
    generator = torch.Generator().manual_seed(seed)
    waveform = 0.1 * torch.randn(duration_ms * 16, generator=generator)
    offline = TransducerSearch(transducer, SearchConfig(max_symbols_per_frame=2)).decode(
        FbankExtractor(FbankConfig())(waveform)
    )
    result = simulate_waveform(
        _model(transducer, tokenizer), TransducerEmission(segment_ms=segment_ms, whole_words=False),
        waveform,
    )  # fmt: skip
    assert [c.token.id for c in result.tokens] == [t.token_id for t in offline]
    for committed, emitted in zip(result.tokens, offline, strict=True):
        if emitted.source_ms % chunk_ms == 0:  # a complete chunk: the segment that completes it
            expected = min(segment_ms * math.ceil(emitted.source_ms / segment_ms), duration_ms)
            assert committed.source_ms == expected
            if segment_ms == chunk_ms:
                assert committed.source_ms == emitted.source_ms
        else:  # the last, partial chunk: encoded once the source ends, under 10 ms after its frames
            assert committed.source_ms == duration_ms and duration_ms - emitted.source_ms < 10


def test_streamed_words_equal_their_emission_times_at_the_chunk_size(
    transducer: Transducer, tokenizer: Tokenizer
) -> None:
    """Word delays (the scorer's unit) too: each word at its last piece's emission time."""
    chunk_ms = _chunk_ms(transducer)
    transducer = copy.deepcopy(transducer)  # biased to emit blank or one of a few word pieces
    pieces = [i for i in range(tokenizer.vocab_size) if tokenizer.id_to_piece(i).startswith("▁")]
    with torch.no_grad():
        transducer.joiner.output.bias.fill_(-20.0)
        transducer.joiner.output.bias[[tokenizer.blank_id, *pieces[:3]]] = 0.0
    waveform = _waveform(seconds=2.0)  # 12.5 chunks: the last, partial one ends with the source
    offline = TransducerSearch(transducer, SearchConfig(max_symbols_per_frame=2)).decode(
        FbankExtractor(FbankConfig())(waveform)
    )
    words = WordAssembler(streams=("asr",))  # the loop's word rules, at emission times
    emitted = []
    for token in offline:
        piece = Token(id=token.token_id, piece=tokenizer.id_to_piece(token.token_id),
                      ends_sentence=token.token_id == tokenizer.eos_id)  # fmt: skip
        emitted += words.add(piece, float(token.source_ms), 0.0)
    emitted += words.close()
    assert len(emitted) > 3, "the random model must write words for this test to mean anything"
    result = simulate_waveform(
        _model(transducer, tokenizer), TransducerEmission(segment_ms=chunk_ms, whole_words=False),
        waveform,
    )  # fmt: skip
    assert [(w.text, w.source_ms) for w in result.words("asr")] == [
        (w.text, w.source_ms) for w in emitted
    ]

"""Streaming greedy/beam search: streaming == offline over random chunkings, time stamps, API."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simul.data.features.fbank import FbankConfig
from simul.families.transducer.model import Transducer, tiny
from simul.families.transducer.search import SearchConfig, SearchToken, TransducerSearch

VOCAB = 9
BLANK = 1


def _model(seed: int = 0, **encoder_changes: object) -> Transducer:
    """A random tiny model whose blank is rarely the argmax, so that it emits plenty."""
    torch.manual_seed(seed)
    config = dataclasses.replace(tiny(), vocab_size=VOCAB)
    config.encoder = dataclasses.replace(config.encoder, **encoder_changes)
    model = Transducer(config).eval()
    with torch.no_grad():
        model.joiner.output.bias[BLANK] -= 1.0
    return model


MODEL = _model()


def _streamed(
    search: TransducerSearch, features: torch.Tensor, cuts: list[int]
) -> list[SearchToken]:
    state = search.init()
    tokens: list[SearchToken] = []
    bounds = [0, *sorted(cuts), features.shape[0]]
    for start, end in zip(bounds, bounds[1:], strict=False):
        state, new = search.advance(state, features[start:end])
        tokens.extend(new)
    state, new = search.finish(state)
    assert state.finished
    return tokens + list(new)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    num_frames=st.integers(min_value=0, max_value=48),
    cuts=st.lists(st.integers(min_value=0, max_value=48), max_size=5),
    seed=st.integers(min_value=0, max_value=2**16),
    beam_size=st.sampled_from([1, 1, 3]),
)
def test_streaming_search_equals_offline_search_over_random_chunkings(
    num_frames: int, cuts: list[int], seed: int, beam_size: int
) -> None:
    features = torch.randn(num_frames, 80, generator=torch.Generator().manual_seed(seed))
    search = TransducerSearch(MODEL, SearchConfig(beam_size=beam_size, max_symbols_per_frame=2))
    offline = list(search.decode(features))
    assert _streamed(search, features, [c for c in cuts if c <= num_frames]) == offline
    if beam_size == 1 and num_frames >= 4:  # the batched training path, the same search
        frames, _ = MODEL.transcribe(features[None], torch.tensor([num_frames]))
        assert list(search.decode_encoded(frames[0].detach(), num_frames)) == offline


@pytest.mark.parametrize("causal", [True, False])
def test_tokens_are_stamped_with_the_end_of_their_chunk(causal: bool) -> None:
    fbank_config = FbankConfig(causal_framing=causal)
    search = TransducerSearch(
        MODEL, SearchConfig(max_symbols_per_frame=2), fbank_config=fbank_config
    )
    tokens = search.decode(torch.randn(150, 80, generator=torch.Generator().manual_seed(1)))
    assert len(tokens) > 10
    chunk = MODEL.config.encoder.chunk_size_frames  # 4 encoder frames = 16 fbank frames
    for token in tokens:
        needed = min(4 * chunk * (token.frame_index // chunk + 1), 150)
        # causal framing: a chunk of n fbank frames is complete at n * 10 ms, its own end;
        # Kaldi's framing: its last 25 ms window ends 15 ms later
        assert token.source_ms == (needed * 10 if causal else (needed - 1) * 10 + 25)
    frames = [token.frame_index for token in tokens]
    assert frames == sorted(frames)
    assert max(frames.count(frame) for frame in set(frames)) <= 2  # max_symbols_per_frame
    assert all(token.token_id != BLANK for token in tokens)


def test_a_full_context_model_emits_everything_at_the_end_of_the_utterance() -> None:
    model = _model(chunk_size_frames=None)
    search = TransducerSearch(model)
    features = torch.randn(61, 80, generator=torch.Generator().manual_seed(2))
    state = search.init()
    state, tokens = search.advance(state, features)
    assert tokens == ()  # nothing can be encoded before the utterance ends
    state, tokens = search.finish(state)
    assert tokens and {token.source_ms for token in tokens} == {61 * 10}  # all 61 frames


def test_beam_search_commits_only_what_every_hypothesis_agrees_on() -> None:
    search = TransducerSearch(MODEL, SearchConfig(beam_size=4))
    features = torch.randn(120, 80, generator=torch.Generator().manual_seed(3))
    state = search.init()
    committed: list[SearchToken] = []
    for start in range(0, 120, 16):
        state, new = search.advance(state, features[start : start + 16])
        committed.extend(new)
        assert len(state.hypotheses) <= 4
        assert [h.log_prob for h in state.hypotheses] == sorted(
            (h.log_prob for h in state.hypotheses), reverse=True
        )
        for hypothesis in state.hypotheses:
            assert hypothesis.timed_tokens()[: len(committed)] == tuple(committed)
    state, rest = search.finish(state)
    assert tuple(committed) + rest == state.best.timed_tokens()
    assert state.size_bytes() > 0


def test_search_rejects_bad_input_and_a_finished_stream() -> None:
    search = TransducerSearch(MODEL)
    state = search.init()
    with pytest.raises(ValueError, match=r"\(N, 80\)"):
        search.advance(state, torch.zeros(3, 40))
    state, _ = search.finish(state)
    with pytest.raises(ValueError, match="already ended"):
        search.advance(state, torch.zeros(3, 80))
    with pytest.raises(ValueError, match="encoder frames"):
        search.decode_encoded(torch.zeros(5, 32), 30)
    with pytest.raises(ValueError, match="beam_size"):
        SearchConfig(beam_size=0)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_the_predictor_starts_over_after_a_sentence_end(beam_size: int) -> None:
    """On a talk, a sentence-trained model must not see the previous sentence's end as its context."""
    torch.manual_seed(3)
    features = torch.randn(120, MODEL.config.encoder.num_mel_bins)
    every_token = frozenset(range(VOCAB)) - {BLANK}
    results = {}
    for restart in (False, True):
        config = SearchConfig(beam_size=beam_size, restart_after_sentence_end=restart)
        search = TransducerSearch(MODEL, config, sentence_end_ids=every_token)
        state, _ = search.advance(search.init(), features)
        assert state.best.tokens  # the random model emits
        results[restart] = state.best.predictor_out
        start = search.init().best.predictor_out
    # every token ends a "sentence": with the restart, the predictor is back at its start
    assert torch.equal(results[True], start)
    assert not torch.equal(results[False], start)
    with pytest.raises(ValueError, match="restart_after_sentence_end"):
        SearchConfig(restart_after_sentence_end=1)  # type: ignore[arg-type]

"""The candidate_scores signal and the confidence policy that needs it: hand-made views, the toy's
delays computed by hand, the search's token scores == its hypothesis score, the AED in the loop."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from policies import TokenConfidence, build_policy
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.families.aed.model import AttentionEncoderDecoder, tiny
from simul.families.aed.search import AedStepDecoder
from simul.families.aed.streaming import AedOptions, aed_streaming_model
from simul.models.beam_search import beam_search
from simul.streaming import (
    CandidateScores,
    CandidateScoresValue,
    DecisionView,
    Read,
    Requirements,
    Signals,
    Token,
    ToyConfig,
    ToyModel,
    Write,
    check_compatible,
    simulate_waveform,
)
from simul.streaming.attention_decoder import DecodingConfig

_A, _B, _EOS = (
    Token(id=5, piece="▁a"),
    Token(id=6, piece="▁b"),
    Token(id=2, piece="</s>", ends_sentence=True),
)


def _view(
    probabilities: list[float], entropies: list[float] | None = None, candidates=(_A, _B)
) -> DecisionView:
    scores = CandidateScoresValue(
        log_prob=torch.tensor(probabilities).log(),
        entropy=torch.tensor(entropies if entropies is not None else [0.1] * len(probabilities)),
    )
    signals = Signals(candidates=tuple(candidates), num_frames=4, candidate_scores=scores)
    return DecisionView(
        signals=signals, written=(), num_written_in_segment=0, hypotheses=(), num_segments=1,
        source_samples=16_000, sample_rate=16_000, source_finished=False,
    )  # fmt: skip


def test_it_writes_the_prefix_the_model_is_sure_of() -> None:
    policy = TokenConfidence(min_probability=0.6)
    assert policy.requires == Requirements(CandidateScores())
    assert policy.decide(_view([0.9, 0.7])) == Write((_A, _B))
    assert policy.decide(_view([0.9, 0.5])) == Write((_A,))
    assert policy.decide(_view([0.5, 0.9])) == Read()
    assert policy.decide(_view([0.9, 0.9], candidates=(_A, _EOS))) == Write(
        (_A,)
    )  # EOS: the loop's
    bounded = TokenConfidence(min_probability=0.1, max_entropy=1.0)
    assert bounded.decide(_view([0.9, 0.9], [0.5, 1.5])) == Write((_A,))
    with pytest.raises(ValueError, match="min_probability"):
        TokenConfidence(min_probability=0.0)
    with pytest.raises(ValueError, match="max_entropy"):
        build_policy("token_confidence", {"max_entropy": -1.0})


def test_the_toy_writes_a_token_once_it_is_sure_of_it() -> None:
    # 40 ms frames, 320 ms segments: T = 8 frames per segment.  A token aligned to frame f has
    # probability sigmoid(T - f - 1/2): >= 0.6 from T = f + 1 on, >= 0.8 from T = f + 2 on.
    toy = ToyModel(ToyConfig(pieces=("▁a", "▁b", "▁c"), frames=(3, 8, 15)))
    waveform = torch.zeros(int(1.2 * 16_000))  # 30 frames: segments end at 320, 640, 960, 1200 ms

    def delays(threshold: float) -> list[tuple[str, float]]:
        policy = TokenConfidence(min_probability=threshold, whole_words=False)
        result = simulate_waveform(toy, policy, waveform)
        return [(c.token.piece, c.source_ms) for c in result.tokens]

    assert delays(0.6) == [("▁a", 320.0), ("▁b", 640.0), ("▁c", 640.0), ("</s>", 1200.0)]
    assert delays(0.8) == [("▁a", 320.0), ("▁b", 640.0), ("▁c", 960.0), ("</s>", 1200.0)]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    texts = ["die katze schläft", "der hund läuft schnell", "ein großes haus", "wir sehen den baum"]
    directory = Path(tmp_path_factory.mktemp("spm"))
    return train_sentencepiece(
        directory / "spm", SpmConfig(vocab_size=30, model_type="char"), texts=texts
    )


def _model(tokenizer) -> AttentionEncoderDecoder:
    torch.manual_seed(0)
    return AttentionEncoderDecoder(
        dataclasses.replace(tiny(), vocab_size=tokenizer.vocab_size)
    ).eval()


def test_the_search_scores_each_token_as_its_hypothesis_score_adds_up(tokenizer) -> None:
    model = _model(tokenizer)
    features = torch.randn(1, 120, 80)
    with torch.no_grad():
        frames, lengths = model.encode(features, torch.tensor([120]))
        decoder = AedStepDecoder(model, model.memory(frames, lengths), with_attention=False)
        (hypothesis,) = beam_search(
            decoder, [[]], eos_id=model.config.eos_id, max_new_tokens=[50], beam_size=3,
            length_penalty=0.0,
        )  # fmt: skip
    scores = hypothesis.token_scores
    assert scores.shape == (len(hypothesis.tokens), 2)
    assert math.isclose(float(scores[:, 0].sum()), hypothesis.score, rel_tol=1e-4, abs_tol=1e-4)
    assert (scores[:, 1] >= 0).all() and (
        scores[:, 1] <= math.log(tokenizer.vocab_size) + 1e-4
    ).all()


def test_the_aed_serves_candidate_scores_when_asked_and_runs_the_policy(tokenizer) -> None:
    model = _model(tokenizer)
    waveform = torch.from_numpy(
        (0.1 * np.random.default_rng(0).standard_normal(24_000)).astype(np.float32)
    )
    policy = TokenConfidence(min_probability=0.05)
    for mode in ("hypothesis", "step"):
        plain = aed_streaming_model(
            model, tokenizer, fbank=FbankConfig(), cmvn=None,
            options=AedOptions(decoding=DecodingConfig(mode=mode, max_len_a=0.1, max_len_b=4)),
        )  # fmt: skip
        with pytest.raises(ValueError, match="candidate_scores"):
            check_compatible(plain, policy)
        decoding = DecodingConfig(mode=mode, max_len_a=0.1, max_len_b=4, candidate_scores=True)
        streaming = aed_streaming_model(
            model, tokenizer, fbank=FbankConfig(), cmvn=None, options=AedOptions(decoding=decoding)
        )
        result = simulate_waveform(streaming, policy, waveform)
        assert result.tokens and result.tokens[-1].token.ends_sentence


def test_requirements_are_typed_requests_and_the_keywords_spell_the_same() -> None:
    from simul.streaming import Capability, CrossAttention, Hypothesis, PChoose

    typed = Requirements(CrossAttention(layer=2), Hypothesis(), PChoose(threshold=0.3))
    keywords = Requirements(
        capabilities={Capability.CROSS_ATTENTION, Capability.HYPOTHESIS, Capability.P_CHOOSE},
        attention_layer=2, p_choose_threshold=0.3,
    )  # fmt: skip
    assert typed == keywords and typed.get(CrossAttention) == CrossAttention(layer=2)
    assert typed.capabilities == {CrossAttention, Hypothesis, PChoose}
    assert Requirements().get(CandidateScores) is None and Requirements().p_choose == PChoose()
    with pytest.raises(ValueError, match="each signal once"):
        Requirements(CrossAttention(layer=0), CrossAttention(layer=1))
    with pytest.raises(ValueError, match="model m's signals: `cross_attention` is required"):
        CrossAttention(layer=0).check(Signals(candidates=(_A,), num_frames=3), "model m's signals")

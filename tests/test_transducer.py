"""The transducer's parts: predictors (step == sequence, state stack/unstack), joiner, CTC, loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from simul.families.transducer.model import Transducer, TransducerConfig, small, tiny
from simul.models.ctc import CtcHead, ctc_loss
from simul.models.joiner import Joiner
from simul.models.predictor import (
    LstmState,
    PredictorConfig,
    StatelessState,
    build_predictor,
)
from simul.models.rnnt_loss import rnnt_loss

VOCAB = 11
BLANK = 1


def _tensors(state: object) -> list[torch.Tensor]:
    """The tensor fields of a state dataclass, in order (``astuple`` would deep-copy them)."""
    return [getattr(state, field.name) for field in dataclasses.fields(state)]


def _model(**changes: object) -> Transducer:
    torch.manual_seed(0)
    return Transducer(dataclasses.replace(tiny(), vocab_size=VOCAB, **changes))


@pytest.mark.parametrize(
    "config",
    [
        PredictorConfig(kind="lstm", embedding_dim=8, hidden_dim=12, num_layers=2),
        PredictorConfig(kind="stateless", embedding_dim=8, context_size=3),
        PredictorConfig(kind="stateless", embedding_dim=8, context_size=1),
    ],
    ids=["lstm", "stateless3", "stateless1"],
)
def test_predictor_one_token_at_a_time_equals_the_whole_sequence(config: PredictorConfig) -> None:
    torch.manual_seed(0)
    predictor = build_predictor(vocab_size=VOCAB, blank_id=BLANK, config=config).eval()
    tokens = torch.tensor([[BLANK, 4, 5, 5, 9], [BLANK, 3, 2, 7, 7]])
    whole, whole_state = predictor(tokens, predictor.init_state(2))
    assert whole.shape == (2, 5, config.output_dim)
    state = predictor.init_state(2)
    steps = []
    for position in range(tokens.shape[1]):
        out, state = predictor(tokens[:, position : position + 1], state)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, atol=1e-6, rtol=1e-6)
    for a, b in zip(_tensors(state), _tensors(whole_state), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["lstm", "stateless"])
def test_predictor_states_stack_unstack_and_reorder(kind: str) -> None:
    config = PredictorConfig(kind=kind, embedding_dim=8, hidden_dim=6, context_size=3)
    predictor = build_predictor(vocab_size=VOCAB, blank_id=BLANK, config=config).eval()
    _, state = predictor(torch.tensor([[1, 4], [1, 5], [1, 6]]), predictor.init_state(3))
    rows = state.unstack()
    assert [row.batch_size for row in rows] == [1, 1, 1]
    restacked = type(state).stack(rows)
    for a, b in zip(_tensors(restacked), _tensors(state), strict=True):
        assert torch.equal(a, b)
    reordered = state.reorder(torch.tensor([2, 0]))
    expected = type(state).stack([rows[2], rows[0]])
    for a, b in zip(_tensors(reordered), _tensors(expected), strict=True):
        assert torch.equal(a, b)
    assert state.size_bytes() > 0
    assert isinstance(state, LstmState if kind == "lstm" else StatelessState)


def test_predictor_rejects_bad_tokens_and_states() -> None:
    lstm = build_predictor(vocab_size=VOCAB, blank_id=BLANK, config=PredictorConfig(kind="lstm"))
    stateless = build_predictor(
        vocab_size=VOCAB, blank_id=BLANK, config=PredictorConfig(kind="stateless")
    )
    with pytest.raises(ValueError, match="int64"):
        lstm(torch.tensor([[1.0]]), lstm.init_state(1))
    with pytest.raises(ValueError, match="batch size 2"):
        lstm(torch.tensor([[1]]), lstm.init_state(2))
    with pytest.raises(ValueError, match="LstmState"):
        lstm(torch.tensor([[1]]), stateless.init_state(1))
    with pytest.raises(ValueError, match="kind"):
        PredictorConfig(kind="gru")  # type: ignore[arg-type]


def test_joiner_is_the_sum_of_projections_through_tanh() -> None:
    torch.manual_seed(0)
    joiner = Joiner(encoder_dim=4, predictor_dim=3, joiner_dim=5, vocab_size=VOCAB)
    encoder, predictor = torch.randn(2, 6, 4), torch.randn(2, 3, 3)
    logits = joiner(encoder, predictor)
    assert logits.shape == (2, 6, 3, VOCAB)
    hidden = torch.tanh(joiner.encoder_proj(encoder[1, 4]) + joiner.predictor_proj(predictor[1, 2]))
    torch.testing.assert_close(logits[1, 4, 2], joiner.output(hidden))


def test_ctc_loss_matches_torch_and_is_zero_for_impossible_targets() -> None:
    torch.manual_seed(0)
    head = CtcHead(encoder_dim=4, vocab_size=VOCAB)
    log_probs = head(torch.randn(2, 5, 4))
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 5))
    targets = torch.tensor([[4, 5, 6], [4, 4, 4]])
    costs = ctc_loss(log_probs, torch.tensor([5, 4]), targets, torch.tensor([2, 3]), blank=BLANK)
    expected = torch.nn.functional.ctc_loss(
        log_probs[:1].transpose(0, 1), targets[:1, :2], [5], [2], blank=BLANK, reduction="none"
    )
    torch.testing.assert_close(costs[:1], expected)
    assert costs[1] == 0  # "4 4 4" needs 5 frames (repeats need blanks between), 4 are given


def test_transducer_loss_is_rnnt_plus_weighted_ctc_and_ignores_target_padding() -> None:
    model = _model(ctc_weight=0.5).eval()
    features = torch.randn(2, 70, 80)
    lengths = torch.tensor([70, 45])
    targets = torch.tensor([[4, 5, 6], [7, 8, 99]])  # 99: padding, any value
    target_lengths = torch.tensor([3, 2])
    out = model(features, lengths, targets, target_lengths)
    frames, frame_lengths = model.transcribe(features, lengths)
    padded = torch.tensor([[4, 5, 6], [7, 8, BLANK]])
    predictor_out, _ = model.predict(
        torch.cat([torch.full((2, 1), BLANK), padded], dim=1), model.init_predictor_state(2)
    )
    rnnt = rnnt_loss(
        model.join(frames, predictor_out), padded.int(), frame_lengths.int(),
        target_lengths.int(), blank=BLANK, reduction="none",
    )  # fmt: skip
    ctc = ctc_loss(model.ctc_log_probs(frames), frame_lengths, padded, target_lengths, blank=BLANK)
    torch.testing.assert_close(out.loss, (rnnt + 0.5 * ctc).mean())
    torch.testing.assert_close(out.rnnt_sum, rnnt.sum())
    torch.testing.assert_close(out.ctc_sum, ctc.sum())
    assert (out.num_utterances, out.num_tokens) == (2, 5)


def test_transducer_trains_without_ctc_head_and_every_parameter_gets_a_gradient() -> None:
    model = _model(ctc_weight=0.0).train()
    assert model.ctc_head is None
    out = model(
        torch.randn(2, 40, 80),
        torch.tensor([40, 2]),
        torch.tensor([[4, 5], [6, 0]]),
        torch.tensor([2, 0]),
    )  # fmt: skip  (an utterance shorter than one encoder frame and an empty target)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    with pytest.raises(ValueError, match="no CTC head"):
        model.ctc_log_probs(torch.zeros(1, 2, 32))


def test_transducer_streaming_transcription_equals_the_batch_path() -> None:
    model = _model().eval()
    features = torch.randn(1, 93, 80)
    whole, _ = model.transcribe(features, torch.tensor([93]))
    state = model.init_encoder_state(1)
    pieces = []
    for start, end in ((0, 20), (20, 21), (21, 60)):
        out, state = model.transcribe_streaming(features[:, start:end], state)
        pieces.append(out)
    out, state = model.transcribe_streaming(features[:, 60:], state, final=True)
    pieces.append(out)
    assert state.finished
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-5, rtol=1e-5)


def test_transducer_config_checks_and_presets() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        Transducer(tiny())
    with pytest.raises(ValueError, match="blank_id"):
        TransducerConfig(vocab_size=4, blank_id=4)
    with pytest.raises(ValueError, match="ctc_weight"):
        TransducerConfig(ctc_weight=-1.0)
    parameters = sum(
        p.numel() for p in Transducer(dataclasses.replace(small(), vocab_size=512)).parameters()
    )
    assert 2e6 < parameters < 6e6  # "a few million"

"""The transducer trained with the pruned RNN-T loss: config, old checkpoints, loss == full on a full band."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from simul.families.transducer.family import TransducerFamily
from simul.families.transducer.model import PrunedLossConfig, Transducer, tiny

VOCAB = 11
BLANK = 1


def _model(**changes: object) -> Transducer:
    torch.manual_seed(0)
    return Transducer(dataclasses.replace(tiny(), vocab_size=VOCAB, blank_id=BLANK, **changes))


def _batch() -> tuple[torch.Tensor, ...]:
    torch.manual_seed(1)
    features = torch.randn(3, 70, 80)
    lengths = torch.tensor([70, 45, 2])  # the last one: shorter than one encoder frame
    targets = torch.tensor([[4, 5, 6, 7], [7, 8, 99, 99], [2, 3, 4, 5]])  # 99: padding
    target_lengths = torch.tensor([4, 2, 4])
    return features, lengths, targets, target_lengths


def test_a_band_covering_everything_gives_the_full_rnnt_cost_and_every_weight_learns() -> None:
    full = _model(ctc_weight=0.5).eval()
    pruned = _model(ctc_weight=0.5, pruned_loss=PrunedLossConfig(prune_range=5)).eval()
    missing, unexpected = pruned.load_state_dict(full.state_dict(), strict=False)
    assert sorted(missing) == [
        "simple_encoder_proj.bias", "simple_encoder_proj.weight",
        "simple_predictor_proj.bias", "simple_predictor_proj.weight",
    ] and not unexpected  # fmt: skip
    full_out, pruned_out = full(*_batch()), pruned(*_batch())
    assert full_out.simple_sum is None and pruned_out.simple_sum is not None
    # U + 1 = 5 = S: nothing is pruned.
    torch.testing.assert_close(pruned_out.rnnt_sum, full_out.rnnt_sum)
    torch.testing.assert_close(pruned_out.ctc_sum, full_out.ctc_sum)
    expected = (full_out.loss * 3 + 0.5 * pruned_out.simple_sum) / 3
    torch.testing.assert_close(pruned_out.loss, expected)
    pruned.train()
    pruned(*_batch()).loss.backward()
    for name, parameter in pruned.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_a_narrow_band_costs_at_least_the_full_loss_and_stays_finite() -> None:
    full = _model().eval()
    pruned = _model(pruned_loss=PrunedLossConfig(prune_range=2)).eval()
    pruned.load_state_dict(full.state_dict(), strict=False)
    two = [x[:2] for x in _batch()]  # 17 and 11 encoder frames, 4 and 2 tokens
    full_out, pruned_out = full(*two), pruned(*two)
    assert full_out.rnnt_sum < pruned_out.rnnt_sum < full_out.rnnt_sum + 100
    # The third utterance has 4 tokens on 1 frame: the band is widened to 5, never infeasible.
    assert pruned(*_batch()).rnnt_sum < 1e6


def test_pruned_loss_config_from_overrides_and_old_checkpoints() -> None:
    family = TransducerFamily()
    config = family.resolve_config(
        "tiny", {"pruned_loss": {"prune_range": 3}}, vocab_size=VOCAB, blank_id=BLANK
    )
    assert config.pruned_loss == PrunedLossConfig(prune_range=3, simple_loss_scale=0.5)
    assert family.config_from_dict(dataclasses.asdict(config)) == config
    # A checkpoint saved before the field existed: the full loss, and its weights load strictly.
    old = dataclasses.asdict(dataclasses.replace(tiny(), vocab_size=VOCAB, blank_id=BLANK))
    del old["pruned_loss"]
    rebuilt = family.config_from_dict(old)
    assert rebuilt.pruned_loss is None
    family.build(rebuilt).load_state_dict(_model().state_dict())
    with pytest.raises(ValueError, match="prune_range"):
        PrunedLossConfig(prune_range=1)
    with pytest.raises(ValueError, match="simple_loss_scale"):
        PrunedLossConfig(simple_loss_scale=0.0)

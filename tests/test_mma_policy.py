"""The monotonic threshold policy on hand-made p_choose: MMA's every-head-stopped rule and EMMA's
last-step rule with min / mean / median over the heads of the layers from a start layer."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import MonotonicThreshold, build_policy
from simul.streaming import DecisionView, Read, Requirements, Signals, Token, Write

_A, _B, _EOS = (
    Token(id=5, piece="▁a"),
    Token(id=6, piece="▁b"),
    Token(id=2, piece="</s>", ends_sentence=True),
)


def _view(p_choose: list, candidates=(_A,)) -> DecisionView:
    tensor = torch.tensor(p_choose, dtype=torch.float32)  # (C, H, T)
    signals = Signals(candidates=tuple(candidates), num_frames=tensor.shape[2], p_choose=tensor)
    return DecisionView(
        signals=signals, written=(), num_written_in_segment=0, hypotheses=(), num_segments=1,
        source_samples=16_000, sample_rate=16_000, source_finished=False,
    )  # fmt: skip


# Three heads over four received frames; the last frame's values are 0.7, 0.4, 0.55.
_HEADS = [[[0.0, 0.9, 0.1, 0.7], [0.0, 0.2, 0.3, 0.4], [0.6, 0.0, 0.0, 0.55]]]


def test_mma_writes_once_every_head_has_stopped() -> None:
    # Head 1 never reaches 0.5: READ; with threshold 0.4 every head has a step >= 0.4: WRITE.
    assert isinstance(MonotonicThreshold().decide(_view(_HEADS)), Read)
    assert MonotonicThreshold(threshold=0.4).decide(_view(_HEADS)) == Write((_A,))


@pytest.mark.parametrize(
    ("aggregation", "threshold", "writes"),
    [
        ("min", 0.5, False),  # min(0.7, 0.4, 0.55) = 0.4
        ("min", 0.4, True),
        ("mean", 0.54, True),  # mean = 0.55
        ("mean", 0.56, False),
        ("median", 0.55, True),  # median = 0.55
        ("median", 0.6, False),
    ],
)
def test_emma_aggregates_the_last_steps_p_choose(
    aggregation: str, threshold: float, writes: bool
) -> None:
    policy = MonotonicThreshold(source_step="last", aggregation=aggregation, threshold=threshold)
    decision = policy.decide(_view(_HEADS))
    assert decision == (Write((_A,)) if writes else Read())


def test_emma_ignores_earlier_steps_and_mma_does_not() -> None:
    early = [[[0.9, 0.1], [0.8, 0.2]]]  # both heads stopped on frame 0, nothing on the last frame
    assert MonotonicThreshold().decide(_view(early)) == Write((_A,))
    assert MonotonicThreshold(source_step="last").decide(_view(early)) == Read()


def test_the_median_of_an_even_number_of_heads_is_the_lower_middle_value() -> None:
    # SeamlessStreaming calls torch.median: values 0.3, 0.45, 0.6, 0.9 -> 0.45.
    heads = [[[0.3], [0.9], [0.45], [0.6]]]
    assert MonotonicThreshold(source_step="last", aggregation="median", threshold=0.45).decide(
        _view(heads)
    ) == Write((_A,))
    assert (
        MonotonicThreshold(source_step="last", aggregation="median", threshold=0.46).decide(
            _view(heads)
        )
        == Read()
    )


def test_candidates_are_written_up_to_the_first_that_fails_and_never_the_end_of_sentence() -> None:
    rows = [[[0.8, 0.9]], [[0.2, 0.3]], [[0.9, 0.9]]]
    assert MonotonicThreshold().decide(_view(rows, (_A, _B, _EOS))) == Write((_A,))
    assert MonotonicThreshold().decide(_view([[[0.9]]], (_EOS,))) == Read()
    assert MonotonicThreshold().decide(_view([[[]]])) == Read()  # nothing received yet


def test_the_start_layer_and_threshold_reach_the_model_and_bad_values_are_named() -> None:
    policy = build_policy("monotonic", {"source_step": "last", "start_layer": 2, "threshold": 0.3})
    assert policy.requires == Requirements(
        capabilities=policy.requires.capabilities, p_choose_threshold=0.3, p_choose_start_layer=2
    )
    with pytest.raises(ValueError, match="aggregation"):
        build_policy("monotonic", {"aggregation": "max"})
    with pytest.raises(ValueError, match="start_layer"):
        MonotonicThreshold(start_layer=-1)
    with pytest.raises(ValueError, match="threshold"):
        MonotonicThreshold(threshold=0.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), min_size=1, max_size=4),
    st.sampled_from(["min", "mean", "median"]),
    st.sampled_from(["any", "last"]),
    st.floats(0.05, 1.0),
)
def test_the_decision_is_the_rule_written_out(
    heads: list, aggregation: str, source_step: str, threshold: float
) -> None:
    """Per head: its largest value (any) or its last one (last); then min/mean/median >= threshold."""
    values = [max(h) if source_step == "any" else h[-1] for h in heads]
    ordered = sorted(values)
    combined = {
        "min": ordered[0],
        "mean": float(torch.tensor(values, dtype=torch.float32).mean()),
        "median": ordered[(len(ordered) - 1) // 2],
    }[aggregation]
    policy = MonotonicThreshold(
        source_step=source_step, aggregation=aggregation, threshold=threshold
    )
    decision = policy.decide(_view([heads]))
    expected = (
        Write((_A,)) if combined >= float(torch.tensor(threshold, dtype=torch.float32)) else Read()
    )
    if abs(combined - threshold) > 1e-6:  # float32 ties aside
        assert decision == expected

"""Tests of the differentiable latency terms: expected delays and batched DAL."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.eval.latency import differentiable_average_lagging as simuleval_dal
from simul.ops import differentiable_average_lagging, expected_delays, monotonic_alignment


def test_expected_delays_of_hard_alignments_are_positions_from_one() -> None:
    alpha = torch.zeros(2, 3, 5)
    positions = torch.tensor([[0, 2, 4], [1, 1, 3]])
    alpha.scatter_(-1, positions[..., None], 1.0)
    torch.testing.assert_close(expected_delays(alpha), positions.float() + 1)


def test_expected_delays_are_within_the_source_and_differentiable() -> None:
    p = torch.rand(4, 6, 20, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([20, 9, 1, 5])
    delays = expected_delays(monotonic_alignment(p, lengths))
    assert delays.shape == (4, 6)
    assert bool((delays >= 1).all()) and bool((delays <= lengths[:, None]).all())
    (grad,) = torch.autograd.grad(delays.sum(), p)
    assert bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.floats(0.0, 50.0, allow_nan=False), min_size=1, max_size=12),
            st.integers(1, 60),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_dal_equals_simulevals_on_each_sequence(rows: list[tuple[list[float], int]]) -> None:
    num_targets = max(len(delays) for delays, _ in rows)
    delays = torch.zeros(len(rows), num_targets, dtype=torch.float64)
    for index, (row, _) in enumerate(rows):
        delays[index, : len(row)] = torch.tensor(row, dtype=torch.float64)
        delays[index, len(row) :] = 1e9  # padding must not leak in
    source_lengths = torch.tensor([source for _, source in rows])
    target_lengths = torch.tensor([len(row) for row, _ in rows])
    dal = differentiable_average_lagging(delays, source_lengths, target_lengths)
    expected = torch.tensor(
        [simuleval_dal(row, source) for row, source in rows], dtype=torch.float64
    )
    torch.testing.assert_close(dal, expected, rtol=1e-12, atol=1e-9)


def test_dal_per_head_and_its_gradient() -> None:
    delays = torch.rand(2, 3, 5, dtype=torch.float64) * 10
    source_lengths = torch.tensor([12, 7])
    target_lengths = torch.tensor([5, 3])
    dal = differentiable_average_lagging(delays, source_lengths, target_lengths)
    assert dal.shape == (2, 3)
    for batch in range(2):
        for head in range(3):
            row = delays[batch, head, : target_lengths[batch]].tolist()
            assert dal[batch, head].item() == pytest.approx(
                simuleval_dal(row, int(source_lengths[batch]))
            )
    leaf = delays.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda d: differentiable_average_lagging(d, source_lengths, target_lengths), (leaf,)
    )


@pytest.mark.parametrize(
    ("delays", "source", "target", "field"),
    [
        (torch.rand(5), torch.tensor([3]), torch.tensor([5]), "delays"),
        (torch.rand(2, 5), torch.tensor([3]), torch.tensor([5, 5]), "source_lengths"),
        (torch.rand(2, 5), torch.tensor([3, 0]), torch.tensor([5, 5]), "source_lengths"),
        (torch.rand(2, 5), torch.tensor([3, 3]), torch.tensor([5, 6]), "target_lengths"),
    ],
)
def test_dal_rejects_bad_inputs(
    delays: torch.Tensor, source: torch.Tensor, target: torch.Tensor, field: str
) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        differentiable_average_lagging(delays, source, target)

"""Pruned RNN-T loss (Kuang et al., 2022): the full joiner runs only on a band of S symbols per frame.

Kuang, Guo, Kong, Lin, Povey, Tang, Wang and Ding, 2022, "Pruned RNN-T for fast,
memory-efficient ASR training" (Interspeech; k2's ``rnnt_loss_pruned``).

Why: the RNN-T loss needs joiner logits at every lattice node, a (B, T, U+1, V) tensor, plus its
gradient; on the small recipe that tensor, not the encoder, bounds the batch size. Most of the
lattice carries almost no probability: for each frame t only a few symbol positions u lie near
the alignment. The pruned loss therefore works in three steps:

1. :func:`simple_rnnt_loss`, a "trivial joiner" whose logits are the sum of an encoder-side
   projection ``am`` (B, T, V) and a predictor-side projection ``lm`` (B, U+1, V). Its log-softmax
   normaliser ``logsumexp_v(am[t, v] + lm[u, v])`` is a matrix product (B, T, V) x (B, V, U+1),
   and the lattice's blank/next-target terms are gathers from ``am`` and ``lm``, so no
   (B, T, U+1, V) tensor is ever built. Its DP also gives the edge occupancies (posteriors).
2. :func:`prune_ranges` picks, from those occupancies, the start s_t of a window of S
   consecutive symbol positions for each frame t: the window that keeps the most posterior
   mass, then adjusted so that the band holds complete paths (s_0 = 0, the last frame's window
   reaches U_b, s_t non-decreasing, s_{t+1} - s_t <= S - 1).
3. :func:`pruned_rnnt_loss`: the real joiner on (B, T, S, V) logits of the band only
   (:meth:`simul.models.joiner.Joiner.join_at` on the band's positions), and the RNN-T DP on
   the lattice in which every node outside the band has probability zero. It restricts the
   paths, so its cost is >= the full RNN-T cost, and equal to it when the band covers
   everything (S >= U+1).

Both DPs are :func:`simul.models.rnnt_loss.rnnt_loss` itself, called on a two-class "vocabulary"
of per-node log-probabilities (class 0: blank, class 1: the next target; every target is 1) with
``fused_log_softmax=False``: its gradient then is minus the edge occupancies, written by hand,
and autograd carries it back through the gathers to the logits.

Differences from k2: no ``lm_only_scale``/``am_only_scale`` smoothing of the simple loss (icefall
uses 0.25 / 0.0; it is an extra regulariser, not needed for exactness), and only the regular
RNN-T topology (any number of symbols per frame).

Letters used in shapes: B batch size, T frames, U maximum target length, V vocabulary size
including blank, S the band width (``prune_range``), D a feature size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor

from simul.models.rnnt_loss import rnnt_loss

__all__ = [
    "SimpleLoss",
    "prune_ranges",
    "pruned_rnnt_loss",
    "simple_rnnt_loss",
]

# Log-probability of impossible events (rnnt_loss's _LOG_ZERO): finite, so exp() gives 0, not NaN.
_LOG_ZERO = -1e30


def _check_targets(targets: Tensor, target_lengths: Tensor, num_classes: int, blank: int) -> None:
    """Raise ``ValueError`` if a target within its length is blank or outside [0, V)."""
    if targets.dim() != 2 or target_lengths.shape != (targets.shape[0],):
        raise ValueError(
            f"`targets` must be (B, U) and `target_lengths` (B,), but are "
            f"{tuple(targets.shape)} and {tuple(target_lengths.shape)} instead."
        )
    positions = torch.arange(targets.shape[1], device=targets.device)
    in_target = positions < target_lengths[:, None]
    bad = in_target & ((targets < 0) | (targets >= num_classes) | (targets == blank))
    if bool(bad.any()):
        b, u = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"`targets` must hold class indices in [0, {num_classes}) other than blank ({blank}) "
            f"within `target_lengths`, but targets[{b}, {u}] is {int(targets[b, u])} instead."
        )


def _next_targets(targets: Tensor, target_lengths: Tensor, blank: int) -> Tensor:
    """(B, U) targets -> (B, U+1) int64: the class of the label edge leaving each position u.

    Position u emits target u (0-based); positions at or beyond ``target_lengths`` (padding and
    the last node) get blank, whose label edge the DP masks anyway.
    """
    positions = torch.arange(targets.shape[1], device=targets.device)
    next_class = torch.where(positions < target_lengths[:, None], targets, blank).long()
    return torch.nn.functional.pad(next_class, (0, 1), value=blank)


def _lattice_costs(node_log_probs: Tensor, logit_lengths: Tensor, target_lengths: Tensor) -> Tensor:
    """RNN-T costs of a lattice given per node: (B, T, U+1, 2) [blank, next target] -> (B,).

    This is ``rnnt_loss`` on a two-class vocabulary (blank 0, every target 1) of
    log-probabilities, so both losses here share its DP and its hand-written gradient.
    """
    batch_size, _, max_nodes_u, _ = node_log_probs.shape
    ones = torch.ones(batch_size, max_nodes_u - 1, dtype=torch.int32, device=node_log_probs.device)
    return rnnt_loss(
        node_log_probs,
        ones,
        logit_lengths.int(),
        target_lengths.int(),
        blank=0,
        reduction="none",
        fused_log_softmax=False,
    )


class _CostsAndOccupancy(torch.autograd.Function):
    """``_lattice_costs`` that also returns the edge occupancies, from one run of the DP.

    The occupancies (minus the gradient of the summed costs) choose the pruning bounds and, scaled
    by the incoming gradient, are the backward pass, so the backward DP runs once, not twice.
    """

    @staticmethod
    def forward(
        ctx, node_log_probs: Tensor, logit_lengths: Tensor, target_lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            leaf = node_log_probs.detach().requires_grad_()
            costs = _lattice_costs(leaf, logit_lengths, target_lengths)
            (grad,) = torch.autograd.grad(costs.sum(), leaf)
        ctx.save_for_backward(grad)
        occupancy = -grad
        ctx.mark_non_differentiable(occupancy)
        return costs.detach(), occupancy

    @staticmethod
    def backward(ctx, grad_costs: Tensor, _grad_occupancy: Tensor) -> tuple[Tensor | None, ...]:
        (grad,) = ctx.saved_tensors
        # Sequence b's nodes feed only cost b: scaling its rows by grad_costs[b] is exact.
        return grad * grad_costs.to(grad.dtype)[:, None, None, None], None, None


@final
@dataclass(frozen=True, eq=False)
class SimpleLoss:
    """What :func:`simple_rnnt_loss` returns.

    Attributes:
        costs: (B,) ``-log P(target | input)`` under the trivial joiner, differentiable.
        occupancy: (B, T, U+1, 2), detached: the posterior probability of leaving node (t, u) by
            blank (``[..., 0]``) and by the next target (``[..., 1]``); input of
            :func:`prune_ranges`.
    """

    costs: Tensor
    occupancy: Tensor


def simple_rnnt_loss(
    encoder_logits: Tensor,
    predictor_logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    *,
    blank: int,
) -> SimpleLoss:
    """RNN-T loss of the trivial joiner ``logits(t, u) = encoder_logits[t] + predictor_logits[u]``.

    Equal to ``rnnt_loss(encoder_logits[:, :, None] + predictor_logits[:, None], ...)`` without
    building that (B, T, U+1, V) sum: the normaliser over V is a (B, T, V) x (B, V, U+1) matrix
    product of exponentials (shifted by their maxima, so it does not overflow), and the two
    classes of each node are gathered from the (B, T, V) and (B, U+1, V) inputs.

    Args:
        encoder_logits: (B, T, V) encoder-side projection ("am").
        predictor_logits: (B, U+1, V) predictor-side projection ("lm").
        targets: (B, U) int target indices, padded arbitrarily beyond ``target_lengths``.
        logit_lengths: (B,) frames per sequence, in [1, T].
        target_lengths: (B,) targets per sequence, in [0, U].
        blank: index of blank in [0, V).

    Returns:
        The per-sequence costs and the edge occupancies.
    """
    if encoder_logits.dim() != 3 or predictor_logits.dim() != 3:
        raise ValueError(
            f"`encoder_logits` and `predictor_logits` must be (B, T, V) and (B, U+1, V), but are "
            f"{tuple(encoder_logits.shape)} and {tuple(predictor_logits.shape)} instead."
        )
    batch_size, max_frames, num_classes = encoder_logits.shape
    expected = (batch_size, targets.shape[-1] + 1, num_classes)
    if tuple(predictor_logits.shape) != expected:
        raise ValueError(
            f"`predictor_logits` must have shape {expected} (B, U+1, V), "
            f"but is {tuple(predictor_logits.shape)} instead."
        )
    _check_targets(targets, target_lengths, num_classes, blank)

    # log sum_v exp(am[t, v] + lm[u, v]) = log(exp(am - am_max) @ exp(lm - lm_max)^T) + maxima.
    # The maxima are constants (detached): the normaliser's value and gradient do not depend on
    # them.
    am_max = encoder_logits.detach().amax(dim=-1, keepdim=True)  # (B, T, 1)
    lm_max = predictor_logits.detach().amax(dim=-1, keepdim=True)  # (B, U+1, 1)
    products = torch.matmul(
        torch.exp(encoder_logits - am_max), torch.exp(predictor_logits - lm_max).transpose(1, 2)
    )  # (B, T, U+1)
    tiny = torch.finfo(products.dtype).tiny
    normaliser = products.clamp_min(tiny).log() + am_max + lm_max.transpose(1, 2)  # (B, T, U+1)

    next_class = _next_targets(targets, target_lengths, blank)  # (B, U+1)
    am_next = encoder_logits.gather(
        2, next_class[:, None, :].expand(batch_size, max_frames, -1)
    )  # (B, T, U+1)
    lm_next = predictor_logits.gather(2, next_class[:, :, None]).transpose(1, 2)  # (B, 1, U+1)
    am_blank = encoder_logits[:, :, blank, None]  # (B, T, 1)
    lm_blank = predictor_logits[:, None, :, blank]  # (B, 1, U+1)
    node_log_probs = torch.stack(
        [am_blank + lm_blank - normaliser, am_next + lm_next - normaliser], dim=-1
    )  # (B, T, U+1, 2)
    costs, occupancy = _CostsAndOccupancy.apply(node_log_probs, logit_lengths, target_lengths)
    return SimpleLoss(costs=costs, occupancy=occupancy)


def prune_ranges(
    occupancy: Tensor, logit_lengths: Tensor, target_lengths: Tensor, *, prune_range: int
) -> Tensor:
    """Each frame's window of S consecutive symbol positions, from the simple loss's posterior.

    A path visits, at frame t, a run of consecutive positions [a, b]: it enters at a (by blank
    from frame t-1), climbs by labels, and leaves at b by blank. It stays inside the window
    [s, s+S) iff b is in the window and it does not cross the label edge (s-1 -> s). The score of
    a window is therefore the blank occupancy of its positions minus the label occupancy of the
    edge into its bottom (k2's ``get_rnnt_prune_ranges`` uses the same score); each frame takes
    its best window. The starts are then made valid:

    - the last frame's window (and the padding frames') is the highest, ending at U_b, so the
      final node is in the band; no window goes beyond it;
    - s_t is made non-decreasing (running maximum);
    - s_{t+1} <= s_t + S - 1, so that consecutive windows overlap and a path can go on by blank:
      first earlier starts are raised, ``s_t = max over k >= t of s_k - (S - 1) (k - t)`` (a
      reverse running maximum of ``s_k - (S - 1) k``), so that the last window stays reachable;
      then s_0 = 0 and later starts are lowered, ``s_t = min over k <= t of s_k + (S - 1) (t -
      k)`` (a running minimum), so that the band starts at node (0, 0). Both passes keep s_t
      non-decreasing, and when a path fits in a band (below) the second leaves the last window.

    If U_b > (S - 1) T_b, no band of width S holds a complete path (a path climbs at most S - 1
    labels per frame inside it) and that sequence's pruned cost is huge (~1e30): choose S so
    that ``(S - 1) * frames >= tokens`` for every utterance.

    Args:
        occupancy: (B, T, U+1, 2) from :class:`SimpleLoss`.
        logit_lengths: (B,) frames per sequence T_b.
        target_lengths: (B,) targets per sequence U_b.
        prune_range: S >= 2; capped at U+1 (then every start is 0 and nothing is pruned).

    Returns:
        (B, T, S) int64 ranges ``s_t + k`` for k < S, with 0 <= s_t <= U+1-S (S capped at U+1).
    """
    if isinstance(prune_range, bool) or not isinstance(prune_range, int) or prune_range < 2:
        raise ValueError(f"`prune_range` must be an int >= 2, but is {prune_range!r} instead.")
    if occupancy.dim() != 4 or occupancy.shape[-1] != 2:
        raise ValueError(
            f"`occupancy` must be (B, T, U+1, 2), but is {tuple(occupancy.shape)} instead."
        )
    batch_size, max_frames, max_nodes_u, _ = occupancy.shape
    width = min(prune_range, max_nodes_u)
    device = occupancy.device
    blank_occupancy, label_occupancy = occupancy.unbind(-1)  # (B, T, U+1) each
    in_window = blank_occupancy.unfold(2, width, 1).sum(-1)  # (B, T, U+2-S): start s
    entering = torch.nn.functional.pad(label_occupancy, (1, 0))[..., : in_window.shape[-1]]
    starts = torch.argmax(in_window - entering, dim=2)  # (B, T)

    highest = (target_lengths.long() + 1 - width).clamp_min(0)[:, None]  # (B, 1)
    frames = torch.arange(max_frames, device=device)
    at_or_after_last = frames[None, :] >= logit_lengths.long()[:, None] - 1  # (B, T)
    starts = torch.where(at_or_after_last, highest, starts.clamp_max(highest))
    starts = torch.cummax(starts, dim=1).values
    step = (width - 1) * frames  # (T,): s_t - (S - 1) t is what the two passes below compare
    # Raise: s_t >= s_k - (S - 1) (k - t) for k > t, so the band can climb to the last window.
    starts = torch.cummax((starts - step).flip(1), dim=1).values.flip(1) + step
    # Lower: s_0 = 0 and s_t <= s_k + (S - 1) (t - k) for k < t, so it can leave the first.
    starts[:, 0] = 0
    starts = torch.cummin(starts - step, dim=1).values + step  # (B, T)
    return starts[:, :, None] + torch.arange(width, device=device)  # (B, T, S)


def pruned_rnnt_loss(
    logits: Tensor,
    targets: Tensor,
    ranges: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    *,
    blank: int,
) -> Tensor:
    """RNN-T costs on the pruned lattice: the paths that stay inside the band.

    Node (t, u) is in the band iff u is one of ``ranges[b, t]``; every other node has
    probability zero. The cost is >= the full RNN-T cost, and equal to it (value and
    gradient) when S = U+1.

    Args:
        logits: (B, T, S, V) joiner outputs at the band: ``logits[b, t, k]`` is node
            (t, ranges[b, t, k]).
        targets: (B, U) int target indices, padded arbitrarily beyond ``target_lengths``.
        ranges: (B, T, S) int64 from :func:`prune_ranges`: S distinct positions in [0, U] per
            frame (S <= U+1).
        logit_lengths: (B,) frames per sequence, in [1, T].
        target_lengths: (B,) targets per sequence, in [0, U].
        blank: index of blank in [0, V).

    Returns:
        (B,) costs ``-log P(target | input)`` restricted to the band.
    """
    if logits.dim() != 4:
        raise ValueError(
            f"`logits` must be a 4-D tensor (B, T, S, V), but is {tuple(logits.shape)} instead."
        )
    batch_size, max_frames, width, num_classes = logits.shape
    max_nodes_u = targets.shape[-1] + 1
    if tuple(ranges.shape) != (batch_size, max_frames, width) or width > max_nodes_u:
        raise ValueError(
            f"`ranges` must have shape {(batch_size, max_frames, width)} (B, T, S of `logits`, "
            f"S <= U+1 = {max_nodes_u}), but is {tuple(ranges.shape)} instead."
        )
    if bool(((ranges < 0) | (ranges >= max_nodes_u)).any()):
        raise ValueError(
            f"`ranges` must be in [0, U] = [0, {max_nodes_u - 1}], "
            f"but range over [{int(ranges.min())}, {int(ranges.max())}] instead."
        )
    _check_targets(targets, target_lengths, num_classes, blank)

    positions = ranges.long()  # (B, T, S)
    next_class = _next_targets(targets, target_lengths, blank)  # (B, U+1)
    band_next = next_class.gather(1, positions.reshape(batch_size, -1)).reshape(positions.shape)
    normaliser = torch.logsumexp(logits, dim=-1)  # (B, T, S)
    blank_log_probs = logits[..., blank] - normaliser
    label_log_probs = logits.gather(3, band_next[..., None]).squeeze(3) - normaliser
    band = torch.stack([blank_log_probs, label_log_probs], dim=-1)  # (B, T, S, 2)
    lattice = band.new_full((batch_size, max_frames, max_nodes_u, 2), _LOG_ZERO)
    lattice = lattice.scatter(2, positions[..., None].expand(-1, -1, -1, 2), band)
    return _lattice_costs(lattice, logit_lengths, target_lengths)  # (B, T, U+1, 2) -> (B,)

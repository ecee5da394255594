"""RNN-T loss (Graves, 2012) in pure PyTorch, with ``torchaudio.functional.rnnt_loss``'s signature.

Why our own: torchaudio's loss is deprecated in 2.9 and its CPU kernel runs on one thread; this
one is plain PyTorch, so it runs wherever torch runs (CPU, CUDA), in float32 or float64, and is
several times faster on CPU (see ``benchmarks/bench_rnnt_loss.py``).

How:

1. The dynamic programme never touches the vocabulary: it needs only the log-probability of
   blank and of the next target at each lattice node (the "function merging" of Li et al.,
   2019), gathered once, chunk by chunk, from the log-softmax.
2. Forward variables ``alpha(t, u)`` depend only on the anti-diagonal ``t + u - 1``, so the
   recursion runs over anti-diagonals, vectorised over the batch and the diagonal
   (``T + U`` small steps instead of ``T * U``). Backward variables ``beta`` run the same way
   in reverse, in the backward pass only.
3. The gradient is written by hand: with edge occupancies ``gamma = exp(alpha + lp + beta - log
   P)``, the gradient with respect to the logits is ``softmax * node occupancy - occupancy of
   the chosen class``. On CPU it is built one chunk of rows at a time, so that temporaries
   stay small and the only pass over fresh memory is the write of the gradient itself.

Log(0) is a large finite negative number (``_LOG_ZERO``), never ``-inf``: ``-inf - (-inf)`` is NaN,
and a finite value keeps every ``exp`` at exactly 0 and every gradient finite.

Letters used in shapes: B batch size, T frames (logits' dim 1), U maximum target length
(logits' dim 2 is ``U + 1``), V vocabulary size including blank, N = T + U + 1 anti-diagonals of
the lattice extended by one row (see ``_edge_log_probs``), W = T + 3 columns of a skewed tensor.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["rnnt_loss"]

# Log-probability of impossible events: finite, so that exp() gives exactly 0 without NaN.
# Sums of a few thousand of these stay far from float32's overflow at -3.4e38.
_LOG_ZERO = -1e30
# Rows per chunk on CPU are chosen so that one chunk of logits holds about this many elements
# (4 MiB of float32): small enough that the softmax temporary is recycled by malloc instead of
# being page-faulted in afresh, large enough to keep the number of parallel regions low.
_CPU_CHUNK_ELEMENTS = 1 << 20
_REDUCTIONS = ("none", "mean", "sum")


def _check_inputs(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int,
    reduction: str,
) -> int:
    """Validate all arguments of ``rnnt_loss`` in one place and return the blank index in [0, V)."""
    if not isinstance(logits, Tensor) or logits.dim() != 4:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"`logits` must be a 4-D tensor (B, T, U+1, V), but is {shape} instead.")
    if not logits.is_floating_point():
        raise ValueError(f"`logits` must be floating point, but is {logits.dtype} instead.")
    batch_size, max_frames, max_target_plus_1, num_classes = logits.shape
    if batch_size == 0 or max_frames == 0 or num_classes == 0:
        raise ValueError(
            f"`logits` must have non-empty batch, time and class dimensions, "
            f"but has shape {tuple(logits.shape)} instead."
        )
    expected = {
        "targets": (batch_size, max_target_plus_1 - 1),
        "logit_lengths": (batch_size,),
        "target_lengths": (batch_size,),
    }
    for name, tensor in (
        ("targets", targets),
        ("logit_lengths", logit_lengths),
        ("target_lengths", target_lengths),
    ):
        if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected[name]:
            got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(f"`{name}` must have shape {expected[name]}, but is {got} instead.")
        if tensor.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"`{name}` must be int32 or int64, but is {tensor.dtype} instead.")
        if tensor.device != logits.device:
            raise ValueError(
                f"`{name}` must be on the device of `logits` ({logits.device}), "
                f"but is on {tensor.device} instead."
            )
    if isinstance(blank, bool) or not isinstance(blank, int):
        raise ValueError(f"`blank` must be an int, but is {blank!r} instead.")
    if not -num_classes <= blank < num_classes:
        raise ValueError(
            f"`blank` must be in [{-num_classes}, {num_classes}), but is {blank} instead."
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {_REDUCTIONS}, but is {reduction!r} instead.")
    blank = blank % num_classes

    bad = (logit_lengths < 1) | (logit_lengths > max_frames)
    if bool(bad.any()):
        raise ValueError(
            f"`logit_lengths` must be in [1, {max_frames}] (logits' dim 1), "
            f"but is {logit_lengths.tolist()} instead."
        )
    bad = (target_lengths < 0) | (target_lengths > max_target_plus_1 - 1)
    if bool(bad.any()):
        raise ValueError(
            f"`target_lengths` must be in [0, {max_target_plus_1 - 1}] (logits' dim 2 minus 1), "
            f"but is {target_lengths.tolist()} instead."
        )
    positions = torch.arange(targets.shape[1], device=targets.device)
    in_target = positions < target_lengths[:, None]  # (B, U): tokens that are not padding
    bad = in_target & ((targets < 0) | (targets >= num_classes) | (targets == blank))
    if bool(bad.any()):
        b, u = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"`targets` must hold class indices in [0, {num_classes}) other than blank ({blank}) "
            f"within `target_lengths`, but targets[{b}, {u}] is {int(targets[b, u])} instead."
        )
    return blank


def _rows_per_chunk(logits: Tensor) -> int:
    """Rows of the (R, V) logits processed at once: a few MiB on CPU, all of them elsewhere.

    Why: on CPU, a (B, T, U+1, V) temporary costs more in page faults than in arithmetic
    (measured: filling a fresh 131 MB tensor takes longer than the softmax over it), so the
    softmax runs chunk by chunk; on an accelerator, one large kernel beats many launches.
    """
    num_rows = logits.numel() // logits.shape[-1]
    if logits.device.type != "cpu":
        return num_rows
    return max(1, _CPU_CHUNK_ELEMENTS // logits.shape[-1])


def _class_index(targets: Tensor, target_lengths: Tensor, blank: int, max_frames: int) -> Tensor:
    """The two classes each lattice node can emit: blank, then the next target.

    Args:
        targets: (B, U) target indices; padding beyond ``target_lengths`` may hold anything.
        target_lengths: (B,).
        blank: blank index in [0, V).
        max_frames: T.

    Returns:
        (B*T*(U+1), 2) int64 rows in the order of ``logits.reshape(-1, V)``. Where there is no
        next target (u >= U_b) the second column repeats blank; its occupancy is always 0.
    """
    batch_size, max_targets = targets.shape
    positions = torch.arange(max_targets, device=targets.device)
    next_class = torch.where(positions < target_lengths[:, None], targets, blank).long()
    next_class = torch.cat([next_class, next_class.new_full((batch_size, 1), blank)], dim=1)
    index = torch.stack([torch.full_like(next_class, blank), next_class], dim=-1)  # (B, U+1, 2)
    return index[:, None].expand(batch_size, max_frames, max_targets + 1, 2).reshape(-1, 2)


def _gather_log_probs(logits: Tensor, class_index: Tensor, fused_log_softmax: bool) -> Tensor:
    """Log-probabilities of blank and of the next target at every lattice node.

    Args:
        logits: (B, T, U+1, V), contiguous.
        class_index: (R, 2) from ``_class_index``, R = B*T*(U+1).
        fused_log_softmax: apply log-softmax over V here (else ``logits`` are log-probs).

    Returns:
        (R, 2) log-probabilities, clamped below at ``_LOG_ZERO``.
    """
    rows = logits.reshape(-1, logits.shape[-1])
    if not fused_log_softmax:
        return rows.gather(1, class_index).clamp_min(_LOG_ZERO)
    chunk = _rows_per_chunk(logits)
    gathered = [
        torch.log_softmax(part, dim=-1).gather(1, index)
        for part, index in zip(rows.split(chunk), class_index.split(chunk), strict=True)
    ]
    return torch.cat(gathered).clamp_min(_LOG_ZERO)


def _edge_log_probs(
    node_log_probs: Tensor, logit_lengths: Tensor, target_lengths: Tensor
) -> tuple[Tensor, Tensor]:
    """Per-sequence masked edge log-probabilities on the lattice extended by one row.

    The extended lattice has rows t = 0..T; row T_b of sequence b holds one virtual final node
    (T_b, U_b), reached by the last blank from (T_b - 1, U_b). Then ``log P = alpha(T_b, U_b)``
    and ``beta(T_b, U_b) = 0``, and last-blank needs no special case anywhere.

    Args:
        node_log_probs: (B, T, U+1, 2) log-probs of [blank, next target] at each node.
        logit_lengths: (B,) T_b.
        target_lengths: (B,) U_b.

    Returns:
        ``blank_edges``, ``label_edges``: (B, T+1, U+1) log-prob of leaving (t, u) by blank to
        (t+1, u) and by the next target to (t, u+1), ``_LOG_ZERO`` where that edge is not in
        sequence b's lattice.
    """
    batch_size, max_frames, max_nodes_u, _ = node_log_probs.shape
    device = node_log_probs.device
    t = torch.arange(max_frames + 1, device=device)[None, :, None]
    u = torch.arange(max_nodes_u, device=device)[None, None, :]
    last_t = (logit_lengths.long() - 1)[:, None, None]
    last_u = target_lengths.long()[:, None, None]
    blank_ok = ((t < last_t) & (u <= last_u)) | ((t == last_t) & (u == last_u))
    label_ok = (t <= last_t) & (u < last_u)
    padded = torch.nn.functional.pad(node_log_probs, (0, 0, 0, 0, 0, 1), value=_LOG_ZERO)
    blank_edges = torch.where(blank_ok, padded[..., 0], _LOG_ZERO)
    label_edges = torch.where(label_ok, padded[..., 1], _LOG_ZERO)
    return blank_edges, label_edges


def _skew_index(max_frames: int, max_nodes_u: int, device: torch.device) -> Tensor:
    """Flat index mapping a skewed (N, W) grid onto a flattened (T+1, U+1) lattice.

    Skewed cell (n, c) is lattice node (t, u) = (c - 1, n - c + 1); columns 0 and W-1 and
    nodes outside the lattice point at index (T+1)*(U+1), one past the end, which holds the
    fill value. The pad columns let the recursions shift by one with plain slices.
    """
    num_diagonals = max_frames + max_nodes_u
    n = torch.arange(num_diagonals, device=device)[:, None]
    t = torch.arange(max_frames + 3, device=device)[None, :] - 1
    u = n - t
    inside = (t >= 0) & (t <= max_frames) & (u >= 0) & (u < max_nodes_u)
    outside = (max_frames + 1) * max_nodes_u
    return torch.where(inside, t * max_nodes_u + u, outside)


def _skew(lattice: Tensor, index: Tensor, fill: float) -> Tensor:
    """(B, T+1, U+1) lattice -> (N, B, W) skewed: anti-diagonal n is the contiguous row n."""
    flat = lattice.reshape(lattice.shape[0], -1)
    flat = torch.cat([flat, flat.new_full((flat.shape[0], 1), fill)], dim=1)
    skewed = flat.index_select(1, index.reshape(-1)).reshape(-1, *index.shape)  # (B, N, W)
    return skewed.transpose(0, 1).contiguous()


def _unskew(skewed: Tensor, max_frames: int, max_nodes_u: int) -> Tensor:
    """(N-1, B, T+1) skewed (column c is t = c) -> (B, T, U+1) lattice, dropping row T."""
    num_diagonals, batch_size, width = skewed.shape
    t = torch.arange(max_frames, device=skewed.device)[:, None]
    u = torch.arange(max_nodes_u, device=skewed.device)[None, :]
    index = ((t + u) * width + t).reshape(-1)
    flat = skewed.transpose(0, 1).reshape(batch_size, num_diagonals * width)
    return flat.index_select(1, index).reshape(batch_size, max_frames, max_nodes_u)


def _alphas(blank_skewed: Tensor, label_skewed: Tensor) -> Tensor:
    """Forward variables ``alpha(t, u)``: log-prob of all paths from (0, 0) to (t, u).

    Args:
        blank_skewed, label_skewed: (N, B, W) skewed edge log-probs.

    Returns:
        (N, B, W) skewed alphas; pad columns and nodes outside the lattice hold ~``_LOG_ZERO``.
    """
    alphas = torch.full_like(blank_skewed, _LOG_ZERO)
    alphas[0, :, 1] = 0.0  # node (0, 0)
    for n in range(1, alphas.shape[0]):
        previous = alphas[n - 1]
        from_blank = previous[:, :-2] + blank_skewed[n - 1, :, :-2]  # from (t-1, u)
        from_label = previous[:, 1:-1] + label_skewed[n - 1, :, 1:-1]  # from (t, u-1)
        torch.logaddexp(from_blank, from_label, out=alphas[n, :, 1:-1])
    return alphas


def _betas(blank_skewed: Tensor, label_skewed: Tensor, final_skewed: Tensor) -> Tensor:
    """Backward variables ``beta(t, u)``: log-prob of all paths from (t, u) to the final node.

    Args:
        blank_skewed, label_skewed: (N, B, W) skewed edge log-probs.
        final_skewed: (N, B, W) bool, True at each sequence's virtual final node (T_b, U_b).

    Returns:
        (N, B, W) skewed betas, 0 at the final nodes.
    """
    betas = torch.full_like(blank_skewed, _LOG_ZERO)
    final_diagonals = set(final_skewed.flatten(1).any(dim=1).nonzero().flatten().tolist())
    last = betas.shape[0] - 1
    if last in final_diagonals:
        betas[last].masked_fill_(final_skewed[last], 0.0)
    for n in range(last - 1, -1, -1):
        following = betas[n + 1]
        via_blank = following[:, 2:] + blank_skewed[n, :, 1:-1]  # through (t+1, u)
        via_label = following[:, 1:-1] + label_skewed[n, :, 1:-1]  # through (t, u+1)
        torch.logaddexp(via_blank, via_label, out=betas[n, :, 1:-1])
        if n in final_diagonals:
            betas[n].masked_fill_(final_skewed[n], 0.0)
    return betas


class _RNNTLoss(torch.autograd.Function):
    """Per-sequence RNN-T costs with a hand-written gradient (alpha-beta occupancies)."""

    @staticmethod
    def forward(
        ctx,
        logits: Tensor,
        targets: Tensor,
        logit_lengths: Tensor,
        target_lengths: Tensor,
        blank: int,
        clamp: float,
        fused_log_softmax: bool,
    ) -> Tensor:
        batch_size, max_frames, max_nodes_u, _ = logits.shape
        class_index = _class_index(targets, target_lengths, blank, max_frames)
        node_log_probs = _gather_log_probs(logits, class_index, fused_log_softmax)
        node_log_probs = node_log_probs.reshape(batch_size, max_frames, max_nodes_u, 2)
        blank_edges, label_edges = _edge_log_probs(node_log_probs, logit_lengths, target_lengths)
        skew_index = _skew_index(max_frames, max_nodes_u, logits.device)
        blank_skewed = _skew(blank_edges, skew_index, _LOG_ZERO)
        label_skewed = _skew(label_edges, skew_index, _LOG_ZERO)
        alphas = _alphas(blank_skewed, label_skewed)
        final_diagonal = (logit_lengths + target_lengths).long()
        final_column = logit_lengths.long() + 1
        batch = torch.arange(batch_size, device=logits.device)
        log_likelihood = alphas[final_diagonal, batch, final_column]  # (B,)
        ctx.save_for_backward(
            logits, class_index, blank_skewed, label_skewed, alphas, log_likelihood,
            final_diagonal, final_column,
        )  # fmt: skip
        ctx.clamp = clamp
        ctx.fused_log_softmax = fused_log_softmax
        return -log_likelihood

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_costs: Tensor) -> tuple[Tensor | None, ...]:
        (
            logits, class_index, blank_skewed, label_skewed, alphas, log_likelihood,
            final_diagonal, final_column,
        ) = ctx.saved_tensors  # fmt: skip
        batch_size, max_frames, max_nodes_u, num_classes = logits.shape
        final_skewed = torch.zeros_like(alphas, dtype=torch.bool)
        batch = torch.arange(batch_size, device=alphas.device)
        final_skewed[final_diagonal, batch, final_column] = True
        betas = _betas(blank_skewed, label_skewed, final_skewed)

        # Edge occupancies on the skewed grid, then back on the (B, T, U+1) lattice.
        alpha = alphas[:-1, :, 1:-1]  # (N-1, B, T+1): nodes (t, u)
        shifted = alpha - log_likelihood[None, :, None]
        blank_occupancy = torch.exp(shifted + blank_skewed[:-1, :, 1:-1] + betas[1:, :, 2:])
        label_occupancy = torch.exp(shifted + label_skewed[:-1, :, 1:-1] + betas[1:, :, 1:-1])
        occupancy = torch.stack(
            [
                _unskew(blank_occupancy, max_frames, max_nodes_u),
                _unskew(label_occupancy, max_frames, max_nodes_u),
            ],
            dim=-1,
        ).reshape(-1, 2)  # (R, 2), R = B*T*(U+1)

        # torchaudio clamps the per-sequence gradient, then scales it by grad_costs; without
        # clamping the scale goes into the occupancies, which saves a pass over (R, V).
        clamp = ctx.clamp
        row_scale = grad_costs.to(occupancy.dtype).repeat_interleave(max_frames * max_nodes_u)
        if clamp <= 0:
            occupancy = occupancy * row_scale[:, None]
        node_occupancy = occupancy.sum(dim=1, keepdim=True)  # (R, 1)

        grad_logits = torch.empty_like(logits)
        grad_rows = grad_logits.view(-1, num_classes)
        rows = logits.reshape(-1, num_classes)
        chunk = _rows_per_chunk(logits)
        for start in range(0, rows.shape[0], chunk):
            part = slice(start, start + chunk)
            out = grad_rows[part]
            if ctx.fused_log_softmax:
                torch.mul(torch.softmax(rows[part], dim=-1), node_occupancy[part], out=out)
            else:
                out.zero_()
            out.scatter_add_(1, class_index[part], -occupancy[part])
            if clamp > 0:
                out.clamp_(-clamp, clamp).mul_(row_scale[part, None])
        return grad_logits, None, None, None, None, None, None


def rnnt_loss(
    logits: Tensor,
    targets: Tensor,
    logit_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = -1,
    clamp: float = -1,
    reduction: str = "mean",
    fused_log_softmax: bool = True,
) -> Tensor:
    """RNN Transducer loss (Graves, 2012, *Sequence Transduction with Recurrent Neural Networks*).

    A drop-in for ``torchaudio.functional.rnnt_loss`` (same arguments, values and gradients),
    in pure PyTorch: CPU and CUDA; float32 and float64 (float16 and bfloat16 are computed in
    float32, and the loss is returned in the input dtype, as torchaudio does). Differences from
    torchaudio: ``logits`` may be longer than ``max(logit_lengths)`` and
    ``max(target_lengths) + 1`` (torchaudio requires equality), targets and lengths may also
    be int64, and there is no double backward. Inputs are not checked for NaN or infinity (that
    would cost a pass over ``logits``): with ``fused_log_softmax``, a row of ``logits`` that is
    all ``-inf``, even in padding, makes the gradient NaN, where torchaudio's padding gets 0.

    Args:
        logits: (B, T, U+1, V) joiner outputs; log-probabilities if ``fused_log_softmax`` is
            False.
        targets: (B, U) int32 target indices, padded arbitrarily beyond ``target_lengths``;
            no blank within the lengths.
        logit_lengths: (B,) int32 frames per sequence, in [1, T].
        target_lengths: (B,) int32 targets per sequence, in [0, U].
        blank: index of blank in V; negative counts from the end. (Default: ``-1``)
        clamp: if > 0, each gradient element with respect to ``logits`` of each sequence's
            cost is clamped to [-clamp, clamp] before it is scaled by the incoming gradient,
            as torchaudio does. (Default: ``-1``, no clamping)
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over the batch; ``"mean"`` divides by B,
            not by target lengths. (Default: ``"mean"``)
        fused_log_softmax: apply log-softmax over V inside the loss; set to False if ``logits``
            already are log-probabilities. Then nothing is normalised and the gradient is zero
            except at blank and the target class. (Default: ``True``)

    Returns:
        (B,) costs ``-log P(target | input)`` if ``reduction`` is ``"none"``, else a scalar.

    Raises:
        ValueError: naming the argument, if shapes, dtypes, devices, lengths, targets, blank
            or reduction are out of range.

    Examples:
        >>> logits = torch.randn(2, 5, 3, 4, requires_grad=True)
        >>> targets = torch.tensor([[1, 2], [1, 0]], dtype=torch.int32)
        >>> lengths = torch.tensor([5, 4], dtype=torch.int32)
        >>> loss = rnnt_loss(logits, targets, lengths, torch.tensor([2, 1], dtype=torch.int32))
        >>> loss.backward()
    """
    blank = _check_inputs(logits, targets, logit_lengths, target_lengths, blank, reduction)
    input_dtype = logits.dtype
    if input_dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    costs = _RNNTLoss.apply(
        logits.contiguous(),
        targets,
        logit_lengths,
        target_lengths,
        blank,
        float(clamp),
        bool(fused_log_softmax),
    ).to(input_dtype)
    if reduction == "mean":
        return costs.mean()
    if reduction == "sum":
        return costs.sum()
    return costs

"""MMA's expected monotonic alignment: one differentiable function, three implementations.

``monotonic_alignment`` computes, for target step i and source position j (Raffel et al. 2017;
Ma et al., ICLR 2020, "Monotonic Multihead Attention")::

    q[i, j]     = (1 - p[i, j-1]) * q[i, j-1] + alpha[i-1, j]        (q[i, -1] = 0)
    alpha[i, j] = p[i, j] * q[i, j]                                  (alpha[-1] = one_hot(0))

exactly (no division, no clamp, no eps: the closed form used by fairseq loses a quarter of the
mass at source length 400), and with a gradient (fairseq's compiled ops have none). The
conventions (padding, mass preservation) are in ``simul.ops.monotonic_reference``.

Implementations, all computing the same recurrence:

- ``"reference"``: PyTorch, an affine scan along the source differentiated by autograd
  (``monotonic_reference.py``). The test oracle, and the fallback when nothing compiles.
- ``"cpp"``: the C++ CPU kernel (``csrc/monotonic_alignment_cpu.cpp``), sequential along the
  source, ``at::parallel_for`` over rows, with a hand-written backward.
- ``"cuda"``: the CUDA kernel (``csrc/monotonic_alignment_kernels.cuh``), one warp per row and the
  whole target loop in one launch, forward and backward.

The compiled ones are the operators ``torch.ops.simul.monotonic_alignment`` and
``torch.ops.simul.monotonic_alignment_backward``, defined here through ``torch.library`` with a
fake (meta) implementation and an autograd formula, so that they compose with ``torch.compile``
(tested with ``fullgraph=True``). Their kernels are registered when ``simul.ops._extensions`` loads the
compiled library (just in time, cached), on the first call that wants them or on
``available_implementations(device)``; before that, calling ``torch.ops.simul.*`` directly finds
no kernel. ``implementation="auto"`` takes the compiled kernel of the input's device when it is
available, and otherwise the reference (with one warning line).

Half and bfloat16 inputs are accumulated in float32 at least: the reference and the CUDA kernel
use float32 (float64 for float64 inputs), the C++ kernel float64 for every dtype (free there,
see its source); the output has the input's dtype. The backward of a compiled kernel recomputes
q from its half-precision output, so half-precision gradients are about as accurate as the
half-precision output itself. Second derivatives are not supported by the compiled kernels.

Letters used in shapes: B batch size, H heads (or any other per-row dimension such as layers x
heads), N = B*H rows, T target steps, S source positions.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from simul.ops._checks import check_scores, row_lengths
from simul.ops._extensions import extension_status
from simul.ops.monotonic_reference import monotonic_alignment_reference

__all__ = ["Implementation", "available_implementations", "monotonic_alignment"]

Implementation = Literal["auto", "reference", "cpp", "cuda"]
_IMPLEMENTATIONS = ("auto", "reference", "cpp", "cuda")
# The compiled kernel that serves each device type.
_KERNEL_FOR_DEVICE = {"cpu": "cpp", "cuda": "cuda"}
_EXTENSION_FOR_KERNEL = {"cpp": "cpu", "cuda": "cuda"}

torch.library.define(
    "simul::monotonic_alignment",
    "(Tensor p_choose, Tensor source_lengths, bool mass_preservation) -> Tensor",
)
torch.library.define(
    "simul::monotonic_alignment_backward",
    "(Tensor grad_alpha, Tensor p_choose, Tensor alpha, Tensor source_lengths, "
    "bool mass_preservation) -> Tensor",
)


@torch.library.register_fake("simul::monotonic_alignment")
def _monotonic_alignment_fake(
    p_choose: Tensor, source_lengths: Tensor, mass_preservation: bool
) -> Tensor:
    return torch.empty_like(p_choose)


@torch.library.register_fake("simul::monotonic_alignment_backward")
def _monotonic_alignment_backward_fake(
    grad_alpha: Tensor,
    p_choose: Tensor,
    alpha: Tensor,
    source_lengths: Tensor,
    mass_preservation: bool,
) -> Tensor:
    return torch.empty_like(p_choose)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:
    p_choose, source_lengths, mass_preservation = inputs
    ctx.save_for_backward(p_choose, source_lengths, output)
    ctx.mass_preservation = mass_preservation


def _backward(ctx, grad_alpha: Tensor) -> tuple[Tensor, None, None]:
    p_choose, source_lengths, alpha = ctx.saved_tensors
    grad_p = torch.ops.simul.monotonic_alignment_backward(
        grad_alpha.contiguous(), p_choose, alpha, source_lengths, ctx.mass_preservation
    )
    return grad_p, None, None


torch.library.register_autograd(
    "simul::monotonic_alignment", _backward, setup_context=_setup_context
)


@torch.compiler.assume_constant_result
def _kernel_available(kernel: str) -> bool:
    """Whether a compiled kernel is loaded (building it on first use); constant under compile."""
    return extension_status(_EXTENSION_FOR_KERNEL[kernel]).available


def available_implementations(device: torch.device | str = "cpu") -> tuple[str, ...]:
    """The implementations that can run on ``device``, fastest first (builds kernels if needed).

    Args:
        device: where the inputs live (Default: ``"cpu"``).

    Returns:
        For example ``("cpp", "reference")`` on a CPU with a working C++ compiler.
    """
    kernel = _KERNEL_FOR_DEVICE.get(torch.device(device).type)
    if kernel is not None and _kernel_available(kernel):
        return (kernel, "reference")
    return ("reference",)


def _choose(implementation: str, device: torch.device) -> str:
    if implementation not in _IMPLEMENTATIONS:
        raise ValueError(
            f"`implementation` must be one of {_IMPLEMENTATIONS}, but is {implementation!r} instead."
        )
    if implementation == "reference":
        return implementation
    kernel = _KERNEL_FOR_DEVICE.get(device.type)
    if implementation == "auto":
        return kernel if kernel is not None and _kernel_available(kernel) else "reference"
    if kernel != implementation:
        raise ValueError(
            f"`implementation` {implementation!r} runs on {_EXTENSION_FOR_KERNEL[implementation]} "
            f"tensors, but `p_choose` is on {device} instead."
        )
    if not _kernel_available(implementation):
        detail = extension_status(_EXTENSION_FOR_KERNEL[implementation]).detail
        raise RuntimeError(
            f"the {implementation!r} monotonic alignment kernel is unavailable: {detail}."
        )
    return implementation


def monotonic_alignment(
    p_choose: Tensor,
    source_lengths: Tensor | None = None,
    *,
    mass_preservation: bool = True,
    implementation: Implementation = "auto",
) -> Tensor:
    """Expected monotonic alignment alpha of MMA, exact and differentiable.

    Args:
        p_choose: (N, T, S) or (B, H, T, S) probability that target step i stops on source
            position j (writes there). Values at padded source positions are never read.
        source_lengths: (N,) or (B,) real source positions per item of dim 0, in [1, S];
            ``None`` means all S (Default: ``None``).
        mass_preservation: the reader stops on the last real source position at the latest
            (``p[:, :, L-1]`` is taken as 1), so every ``alpha[..., i, :]`` sums to 1; with
            ``False`` the missing mass is that of reading past the end (Default: ``True``).
        implementation: ``"auto"`` (the compiled kernel of the device when available, else the
            reference), ``"reference"``, ``"cpp"`` or ``"cuda"`` (Default: ``"auto"``).

    Returns:
        alpha with the shape and dtype of ``p_choose``; 0 at padded source positions. Padded
        target steps need no mask: step i depends only on steps before it, so only their loss
        terms need masking.

    Raises:
        ValueError: on shapes, dtypes or lengths out of range.
        RuntimeError: when ``"cpp"`` or ``"cuda"`` is asked for and cannot be built.

    Examples:
        >>> p = torch.full((2, 3, 5), 0.5)
        >>> alpha = monotonic_alignment(p, torch.tensor([5, 3]))
        >>> alpha.sum(-1)
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """
    check_scores("p_choose", p_choose)
    if not isinstance(mass_preservation, bool):
        raise ValueError(
            f"`mass_preservation` must be a bool, but is {mass_preservation!r} instead."
        )
    lengths = row_lengths(source_lengths, p_choose, "p_choose")
    rows = p_choose.reshape(-1, *p_choose.shape[-2:])  # (N, T, S)
    chosen = _choose(implementation, p_choose.device)
    if chosen == "reference":
        alpha = monotonic_alignment_reference(rows, lengths, mass_preservation)
    else:
        alpha = torch.ops.simul.monotonic_alignment(rows.contiguous(), lengths, mass_preservation)
    return alpha.reshape(p_choose.shape)

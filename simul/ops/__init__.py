"""Kernels of monotonic attention: expected alignments and their latency terms.

``monotonic_alignment`` (MMA's expected hard alignment alpha) runs on one of three
implementations behind one dispatcher: a PyTorch reference, a C++ CPU kernel and a CUDA kernel
(``csrc/``, built just in time). ``expected_soft_attention`` is the infinite-lookback
attention beta of MILk and MMA-IL, in log space. ``expected_delays`` and
``differentiable_average_lagging`` turn alpha into MMA's differentiable latency.
"""

from simul.ops.latency import differentiable_average_lagging, expected_delays
from simul.ops.monotonic_alignment import (
    Implementation,
    available_implementations,
    monotonic_alignment,
)
from simul.ops.soft_attention import expected_soft_attention

__all__ = [
    "Implementation",
    "available_implementations",
    "differentiable_average_lagging",
    "expected_delays",
    "expected_soft_attention",
    "monotonic_alignment",
]

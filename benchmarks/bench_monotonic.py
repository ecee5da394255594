"""Benchmark: the compiled monotonic alignment kernels against the PyTorch reference.

Why: the expected alignment runs once per monotonic layer and training step; issue 7 asks for
the C++ CPU kernel to be at least 5x the reference, forward + backward at (batch x heads,
target, source) = (32, 50, 300), and the CUDA kernel at least 20x on a GPU.

    bash .ci/venv python benchmarks/bench_monotonic.py [--repeats 7] [--threads 2]
    python3 benchmarks/bench_monotonic.py --devices cuda      # on a GPU machine

Each timing is the median over ``--repeats`` runs after two warm-up runs, each run being one
forward and one backward pass (upstream gradient: the source position) in float32, with
p_choose = sigmoid(N(-1, 1)) (MMA's reading-far regime) and random source lengths, the longest
filling the tensor. On CPU, wall time and process CPU time (all threads) are shown, the latter
being far less noisy on a shared machine; on CUDA, the time between two synchronisations.

Products of many ``1 - p`` reach float32's subnormal range after a few hundred positions, and
subnormal arithmetic is slow on CPUs: the CPU rows are measured once as they come and once with
``torch.set_flush_denormal(True)``. Before timing, each kernel's output and gradient are checked
against the reference's.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch

from simul.ops import available_implementations, monotonic_alignment

LOGGER = logging.getLogger("bench_monotonic")
CPU_SHAPES = ((32, 50, 300),)
CUDA_SHAPES = ((32, 50, 300), (512, 100, 600))


def _inputs(
    shape: tuple[int, int, int], device: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """p_choose (N, T, S) float32 and source lengths (N,) in [S/2, S], the first S."""
    generator = torch.Generator().manual_seed(seed)
    p = torch.sigmoid(torch.randn(shape, generator=generator) - 1.0)
    num_sources = shape[-1]
    lengths = torch.randint(num_sources // 2, num_sources + 1, (shape[0],), generator=generator)
    lengths[0] = num_sources
    return p.to(device), lengths.to(device)


def _upstream(alpha: torch.Tensor) -> torch.Tensor:
    """A fixed gradient for alpha: the source position, like an expected-delay loss."""
    return torch.arange(1.0, alpha.shape[-1] + 1, device=alpha.device).expand_as(alpha)


def _step(
    p: torch.Tensor, lengths: torch.Tensor, implementation: str
) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = p.detach().requires_grad_()
    alpha = monotonic_alignment(leaf, lengths, implementation=implementation)
    # Not alpha.sum(): it is 1 per step under mass preservation, so its gradient is 0.
    alpha.backward(_upstream(alpha))
    return alpha.detach(), leaf.grad


def _median_ms(
    p: torch.Tensor, lengths: torch.Tensor, implementation: str, repeats: int
) -> tuple[float, float]:
    """Median wall and process CPU time of one forward + backward in ms, after two warm-ups."""
    synchronize = torch.cuda.synchronize if p.is_cuda else (lambda: None)
    wall_ms, cpu_ms = [], []
    for index in range(repeats + 2):
        synchronize()
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        _step(p, lengths, implementation)
        synchronize()
        if index >= 2:
            wall_ms.append((time.perf_counter() - wall_start) * 1000)
            cpu_ms.append((time.process_time() - cpu_start) * 1000)
    return statistics.median(wall_ms), statistics.median(cpu_ms)


def _check(p: torch.Tensor, lengths: torch.Tensor, kernel: str) -> None:
    reference_alpha, reference_grad = _step(p, lengths, "reference")
    alpha, grad = _step(p, lengths, kernel)
    alpha_error = (alpha - reference_alpha).abs().max().item()
    grad_error = ((grad - reference_grad).abs().max() / reference_grad.abs().max()).item()
    if alpha_error > 1e-5 or grad_error > 1e-4:
        raise RuntimeError(
            f"{kernel} disagrees with the reference: max |d alpha| {alpha_error:.2e}, "
            f"max |d grad| / max |grad| {grad_error:.2e}"
        )


def _bench_device(device: str, shapes: tuple, repeats: int) -> None:
    kernels = [name for name in available_implementations(device) if name != "reference"]
    if not kernels:
        LOGGER.info(f"{device}: no compiled kernel available, nothing to compare")
        return
    kernel = kernels[0]
    flush_modes = (False, True) if device == "cpu" else (False,)
    LOGGER.info(
        f"{'device':>6} {'N,T,S':>12} {'denormals':>10} {'clock':>6} {'reference ms':>13} "
        f"{kernel + ' ms':>10} {'speed-up':>9}"
    )
    for seed, shape in enumerate(shapes):
        p, lengths = _inputs(shape, device, seed)
        _check(p, lengths, kernel)
        for flush in flush_modes:
            if device == "cpu":
                torch.set_flush_denormal(flush)
            reference = _median_ms(p, lengths, "reference", repeats)
            compiled = _median_ms(p, lengths, kernel, repeats)
            clocks = ("wall", "cpu") if device == "cpu" else ("wall",)
            for clock, reference_ms, compiled_ms in zip(clocks, reference, compiled, strict=False):
                LOGGER.info(
                    f"{device:>6} {','.join(map(str, shape)):>12} "
                    f"{'flushed' if flush else 'kept':>10} {clock:>6} {reference_ms:13.2f} "
                    f"{compiled_ms:10.2f} {reference_ms / compiled_ms:8.1f}x"
                )
        if device == "cpu":
            torch.set_flush_denormal(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per shape (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op CPU threads")
    parser.add_argument(
        "--devices",
        nargs="+",
        default=["cpu", "cuda"],
        choices=["cpu", "cuda"],
        help="devices to benchmark (cuda is skipped when absent)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    LOGGER.info(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if "cpu" in args.devices:
        _bench_device("cpu", CPU_SHAPES, args.repeats)
    if "cuda" in args.devices:
        if torch.cuda.is_available():
            LOGGER.info(f"CUDA device: {torch.cuda.get_device_name()}")
            _bench_device("cuda", CUDA_SHAPES, args.repeats)
        else:
            LOGGER.info("no CUDA device: CUDA benchmark skipped")


if __name__ == "__main__":
    main()

"""Benchmark: simul's pure-PyTorch RNN-T loss against torchaudio's, forward + backward on CPU.

Why: the loss is the inner loop of transducer training; issue 4 asks for at least 2x
torchaudio's speed on CPU at (B, T, U, V) = (8, 100, 20, 128) and (8, 200, 40, 500).

    bash .ci/venv python benchmarks/bench_rnnt_loss.py [--repeats 5] [--threads 2]

Each timing is the median over ``--repeats`` runs after one warm-up run, each run being one
forward and one backward pass with ``reduction="mean"``. Inputs are random logits and
targets with variable lengths (the longest sequence fills the tensor, as torchaudio requires).
Wall time is what a user waits; process CPU time (all threads) is also shown, because on a
machine shared with other jobs it is far less noisy than wall time. torchaudio's CPU kernel
is single-threaded whatever ``--threads`` says.

Both losses allocate a fresh (B, T, U+1, V) gradient per call, and page faults are a large
part of that cost on CPU; setting ``THP_MEM_ALLOC_ENABLE=1`` (PyTorch's transparent-huge-page
allocation) makes that cheaper for both.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from simul.models.rnnt_loss import rnnt_loss

LOGGER = logging.getLogger("bench_rnnt_loss")
SHAPES = ((8, 100, 20, 128), (8, 200, 40, 500))


def _inputs(
    batch_size: int, max_frames: int, max_targets: int, num_classes: int, seed: int
) -> tuple[torch.Tensor, ...]:
    """Random logits (B, T, U+1, V), targets (B, U) without blank (V-1), ragged lengths."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch_size, max_frames, max_targets + 1, num_classes, generator=generator)
    targets = torch.randint(
        0, num_classes - 1, (batch_size, max_targets), generator=generator, dtype=torch.int32
    )
    logit_lengths = torch.randint(
        max_frames // 2, max_frames + 1, (batch_size,), generator=generator, dtype=torch.int32
    )
    target_lengths = torch.randint(
        max_targets // 2, max_targets + 1, (batch_size,), generator=generator, dtype=torch.int32
    )
    logit_lengths[0] = max_frames
    target_lengths[0] = max_targets
    return logits, targets, logit_lengths, target_lengths


def _median_ms(
    loss_fn: Callable[..., torch.Tensor], inputs: tuple, repeats: int
) -> tuple[float, float]:
    """Median wall and process CPU time of forward + backward in ms, after one warm-up run."""
    logits, *rest = inputs
    wall_ms, cpu_ms = [], []
    for run in range(repeats + 1):
        leaf = logits.detach().requires_grad_()
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        loss_fn(leaf, *rest).backward()
        if run > 0:
            wall_ms.append((time.perf_counter() - wall_start) * 1000)
            cpu_ms.append((time.process_time() - cpu_start) * 1000)
    return statistics.median(wall_ms), statistics.median(cpu_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per shape (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op CPU threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torchaudio.functional as torchaudio_functional
    except ImportError:
        torchaudio_functional = None
        LOGGER.info("torchaudio is not installed: timing simul's loss only")

    LOGGER.info(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    LOGGER.info(
        f"{'B,T,U,V':>16} {'clock':>6} {'simul ms':>10} {'torchaudio ms':>14} {'speed-up':>9}"
    )
    for seed, shape in enumerate(SHAPES):
        inputs = _inputs(*shape, seed=seed)
        ours = _median_ms(rnnt_loss, inputs, args.repeats)
        theirs = (float("nan"), float("nan"))
        if torchaudio_functional is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = _median_ms(torchaudio_functional.rnnt_loss, inputs, args.repeats)
        for clock, ours_ms, theirs_ms in zip(("wall", "cpu"), ours, theirs, strict=True):
            LOGGER.info(
                f"{','.join(map(str, shape)):>16} {clock:>6} {ours_ms:10.1f} {theirs_ms:14.1f} "
                f"{theirs_ms / ours_ms:8.1f}x"
            )


if __name__ == "__main__":
    main()

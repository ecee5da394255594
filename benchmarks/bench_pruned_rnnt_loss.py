"""Benchmark: joiner + pruned RNN-T loss against joiner + full RNN-T loss, forward + backward on CPU.

Why: issue 14 asks for a cheaper joint loss; the full loss runs the joiner on the whole
(B, T, U+1) lattice and keeps (B, T, U+1, V) logits and their gradient, which bounds the batch
size of the small recipe. The pruned loss (Kuang et al. 2022) runs the simple loss, picks a band
of S symbol positions per frame and runs the joiner there only.

    bash .ci/venv python benchmarks/bench_pruned_rnnt_loss.py [--repeats 5] [--threads 1]

What is timed, from encoder frames (B, T, De) and predictor outputs (B, U+1, Dp) that require
gradients, with the small preset's joiner (De 144, Dp 128 as in ``experiments/asr_tt_small.yaml``,
joiner 192):

- full: ``Joiner`` on (B, T, U+1) -> ``rnnt_loss`` -> backward;
- pruned: the two simple projections (Linear(D, V)) -> ``simple_rnnt_loss`` -> ``prune_ranges``
  -> ``Joiner.join_at`` on (B, T, S) -> ``pruned_rnnt_loss``; ``0.5 * simple + pruned`` ->
  backward (the transducer's loss with the default ``PrunedLossConfig``).

Each (shape, loss) runs in a fresh subprocess: one warm-up run, then the median wall and process
CPU time over ``--repeats`` runs; peak memory is the growth of the process's peak resident set
(``ru_maxrss``) from just before the first run to the end, i.e. the high-water mark of one
forward + backward over the inputs and weights (CPU has no allocator statistics); a run at a
tiny shape before it puts the libraries loaded on first use into the baseline. Inputs are
random, with ragged lengths (the longest sequence fills the tensor). Ratios are full / pruned,
measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from simul.models.joiner import Joiner
from simul.models.pruned_rnnt_loss import prune_ranges, pruned_rnnt_loss, simple_rnnt_loss
from simul.models.rnnt_loss import rnnt_loss

LOGGER = logging.getLogger("bench_pruned_rnnt_loss")
# (B, T, U, V): the small recipe (6-utterance batches, 100-250 encoder frames, 30-60 tokens)
# at both vocabulary sizes, then 32-utterance batches.
SHAPES = (
    (6, 100, 30, 128),
    (6, 250, 60, 128),
    (6, 100, 30, 512),
    (6, 250, 60, 512),
    (32, 100, 30, 128),
    (32, 250, 60, 512),
)
ENCODER_DIM, PREDICTOR_DIM, JOINER_DIM = 144, 128, 192
BLANK = 0


def _measure(
    loss: str, shape: tuple[int, int, int, int], prune_range: int, repeats: int, seed: int
) -> dict[str, float]:
    """Median wall/CPU ms and peak-RSS growth (MiB) of one loss at one shape (this process).

    The same loss first runs once at a tiny shape, so that the libraries and kernels it loads
    on first use count in the baseline, not in the peak.
    """
    _time_and_peak(loss, (1, 8, 3, shape[3]), prune_range, repeats=0, seed=seed)
    return _time_and_peak(loss, shape, prune_range, repeats, seed)


def _time_and_peak(
    loss: str, shape: tuple[int, int, int, int], prune_range: int, repeats: int, seed: int
) -> dict[str, float]:
    """Wall/CPU ms (median over ``repeats`` after a warm-up) and peak-RSS growth of one case."""
    batch_size, max_frames, max_targets, num_classes = shape
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    joiner = Joiner(
        encoder_dim=ENCODER_DIM,
        predictor_dim=PREDICTOR_DIM,
        joiner_dim=JOINER_DIM,
        vocab_size=num_classes,
    )
    simple_encoder_proj = nn.Linear(ENCODER_DIM, num_classes)
    simple_predictor_proj = nn.Linear(PREDICTOR_DIM, num_classes)
    encoder = torch.randn(batch_size, max_frames, ENCODER_DIM, generator=generator)
    predictor = torch.randn(batch_size, max_targets + 1, PREDICTOR_DIM, generator=generator)
    targets = torch.randint(1, num_classes, (batch_size, max_targets), generator=generator)
    logit_lengths = torch.randint(
        max_frames // 2, max_frames + 1, (batch_size,), generator=generator
    )
    target_lengths = torch.randint(
        max_targets // 2, max_targets + 1, (batch_size,), generator=generator
    )
    logit_lengths[0], target_lengths[0] = max_frames, max_targets

    def run() -> None:
        frames = encoder.detach().requires_grad_()
        predicted = predictor.detach().requires_grad_()
        if loss == "full":
            logits = joiner(frames, predicted)  # (B, T, U+1, V)
            costs = rnnt_loss(
                logits, targets.int(), logit_lengths.int(), target_lengths.int(), blank=BLANK,
                reduction="none",
            )  # fmt: skip
        else:
            simple = simple_rnnt_loss(
                simple_encoder_proj(frames), simple_predictor_proj(predicted), targets,
                logit_lengths, target_lengths, blank=BLANK,
            )  # fmt: skip
            ranges = prune_ranges(
                simple.occupancy, logit_lengths, target_lengths, prune_range=prune_range
            )
            logits = joiner.join_at(frames, predicted, ranges)  # (B, T, S, V)
            pruned = pruned_rnnt_loss(
                logits, targets, ranges, logit_lengths, target_lengths, blank=BLANK
            )
            costs = pruned + 0.5 * simple.costs
        costs.mean().backward()

    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall_ms, cpu_ms = [], []
    for index in range(repeats + 1):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        run()
        if index > 0:
            wall_ms.append((time.perf_counter() - wall_start) * 1000)
            cpu_ms.append((time.process_time() - cpu_start) * 1000)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kib
    if not wall_ms:
        return {}
    return {
        "wall_ms": statistics.median(wall_ms),
        "cpu_ms": statistics.median(cpu_ms),
        "min_wall_ms": min(wall_ms),
        "peak_mib": peak_kib / 1024,
    }


def _in_subprocess(
    loss: str, shape: tuple[int, ...], prune_range: int, repeats: int, threads: int, seed: int
) -> dict[str, float]:
    """``_measure`` in a fresh interpreter, so that one case's peak memory is not another's."""
    command = [
        sys.executable, __file__, "--worker", loss, "--shape", ",".join(map(str, shape)),
        "--prune-range", str(prune_range), "--repeats", str(repeats), "--threads", str(threads),
        "--seed", str(seed),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op CPU threads")
    parser.add_argument("--prune-range", type=int, default=5, help="S, the band width")
    parser.add_argument("--worker", choices=("full", "pruned"), help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker is not None:
        shape = tuple(int(x) for x in args.shape.split(","))
        result = _measure(args.worker, shape, args.prune_range, args.repeats, args.seed)
        sys.stdout.write(json.dumps(result) + "\n")
        return

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    LOGGER.info(
        f"torch {torch.__version__}, {args.threads} thread(s), CPU; joiner {JOINER_DIM}, "
        f"S = {args.prune_range}; median of {args.repeats} runs after a warm-up"
    )
    LOGGER.info(
        f"| {'B,T,U,V':>14} | {'full ms':>8} | {'pruned ms':>9} | {'time x':>6} | "
        f"{'full cpu ms':>11} | {'pruned cpu ms':>13} | {'full MiB':>8} | {'pruned MiB':>10} | "
        f"{'memory x':>8} |"
    )
    for seed, shape in enumerate(SHAPES):
        full = _in_subprocess("full", shape, args.prune_range, args.repeats, args.threads, seed)
        pruned = _in_subprocess("pruned", shape, args.prune_range, args.repeats, args.threads, seed)
        LOGGER.info(
            f"| {','.join(map(str, shape)):>14} | {full['wall_ms']:8.1f} | "
            f"{pruned['wall_ms']:9.1f} | {full['wall_ms'] / pruned['wall_ms']:6.1f} | "
            f"{full['cpu_ms']:11.1f} | {pruned['cpu_ms']:13.1f} | {full['peak_mib']:8.1f} | "
            f"{pruned['peak_mib']:10.1f} | {full['peak_mib'] / max(pruned['peak_mib'], 0.1):8.1f} |"
        )


if __name__ == "__main__":
    main()

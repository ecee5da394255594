"""Benchmark: simul's batch latency scoring against SimulEval 1.1.4's scorer classes.

Run on demand::

    bash .ci/venv python benchmarks/bench_latency.py [--instances 20000] [--seed 0] [--repeats 3]

It generates a corpus of random speech-to-text instances (5-60 words, 4-30 s of source, delays
that a segment-based policy would produce, wall-clock ``elapsed`` after them), writes it as a
SimulEval ``instances.log`` in a temporary directory, and then times, separately:

1. building the scorers' inputs from that file: SimulEval's ``LogInstance`` per line (what
   ``simuleval --score-only`` does) versus what ``simul score`` does, ``read_instances_log``
   (which also validates every field) and ``latency_inputs`` (reference lengths included);
2. scoring AL, LAAL, AP, DAL, ATD, StartOffset and EndOffset, plain and computation-aware, with
   the corpus mean: SimulEval's scorer classes versus ``compute_latency`` + ``corpus_mean``.

Each timing is the best of ``--repeats`` runs (CPU time of this process, which other processes
on the machine disturb less than wall time).  It checks that every corpus value agrees
(relative 1e-9) and prints the times and the ratios.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

METRICS = ("AL", "LAAL", "AP", "DAL", "ATD", "StartOffset", "EndOffset")


def _instance(rng: random.Random, index: int) -> dict:
    """One instances.log line of a plausible segment-based speech-to-text run."""
    segment_ms = rng.choice((160, 200, 320, 400, 500, 640))
    source_ms = rng.uniform(4000, 30000)
    num_words = rng.randint(5, 60)
    # Words come in bursts after a segment: pick write times on the segment grid, then let the
    # rest of the output come when the source has ended.
    num_steps = math.ceil(source_ms / segment_ms)
    step_ms = [min(step * segment_ms, source_ms) for step in range(1, num_steps + 1)]
    finish = rng.randint(0, max(1, num_words // 4))
    delays = sorted(rng.choice(step_ms) for _ in range(num_words - finish))
    delays += [source_ms] * finish
    compute_ms = 0.0
    elapsed = []
    for delay in delays:
        compute_ms += rng.expovariate(1 / 40)
        elapsed.append(delay + compute_ms)
    reference_words = max(1, num_words + rng.randint(-5, 5))
    return {
        "index": index,
        "prediction": " ".join(f"w{i}" for i in range(num_words)),
        "delays": delays,
        "elapsed": elapsed,
        "prediction_length": num_words,
        "reference": " ".join(f"r{i}" for i in range(reference_words)),
        "source": [f"audio_{index}.wav", "samplerate: 16000 Hz"],
        "source_length": source_ms,
    }


def _best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest wall time of ``repeats`` runs of ``work``, in seconds, and its last result."""
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=20000, help="corpus size (instances)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the corpus")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (best is kept)")
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from simuleval.evaluator.instance import LogInstance
    from simuleval.evaluator.scorers.latency_scorer import LATENCY_SCORERS_DICT

    from simul.eval.latency import LatencyInputs, compute_latency, corpus_mean
    from simul.eval.log_io import read_instances_log
    from simul.eval.records import DEFAULT_STREAM
    from simul.eval.scoring import latency_inputs

    rng = random.Random(args.seed)
    workdir = tempfile.TemporaryDirectory()
    log = Path(workdir.name) / "instances.log"
    log.write_text("".join(json.dumps(_instance(rng, i)) + "\n" for i in range(args.instances)))

    def simuleval_build() -> dict[int, Any]:
        with open(log, encoding="utf-8") as f:
            return {index: LogInstance(line) for index, line in enumerate(f)}

    def simul_build() -> LatencyInputs:
        return latency_inputs(read_instances_log(log, source_type="speech"), DEFAULT_STREAM)

    simuleval_build_s, instances = _best_of(args.repeats, simuleval_build)
    simul_build_s, inputs = _best_of(args.repeats, simul_build)
    workdir.cleanup()

    def simuleval_score() -> dict[str, float]:
        scores = {}
        for computation_aware in (False, True):
            for name in METRICS:
                scorer = LATENCY_SCORERS_DICT[name](computation_aware=computation_aware)
                scores[name + ("_CA" if computation_aware else "")] = scorer(instances)
        return scores

    def simul_score() -> dict[str, float]:
        # ATD's source side is computed once per LatencyInputs and shared by both clocks;
        # forget it so that every timed run computes it.
        vars(inputs).pop("_atd_source_ends", None)
        scores = {}
        for computation_aware in (False, True):
            values = compute_latency(inputs, METRICS, computation_aware=computation_aware)
            for name in METRICS:
                scores[name + ("_CA" if computation_aware else "")] = corpus_mean(values[name])
        return scores

    simuleval_score_s, theirs = _best_of(args.repeats, simuleval_score)
    simul_score_s, ours = _best_of(args.repeats, simul_score)

    identical = 0
    for column, expected in theirs.items():
        if not math.isclose(ours[column], expected, rel_tol=1e-9, abs_tol=1e-12):
            raise SystemExit(f"{column}: simul {ours[column]!r} != SimulEval {expected!r}")
        identical += ours[column] == expected

    print(
        f"{args.instances} speech instances, {len(theirs)} corpus scores, "
        f"best of {args.repeats} runs"
    )
    print(f"{'column':<14}{'SimulEval 1.1.4':>22}{'simul':>22}")
    for column, expected in theirs.items():
        print(f"{column:<14}{expected!r:>22}{ours[column]!r:>22}")
    print(f"agree within 1e-9: {len(theirs)}/{len(theirs)}; bit-identical: {identical}")
    print(
        f"build from the log: SimulEval {simuleval_build_s:.3f} s, simul {simul_build_s:.3f} s, "
        f"ratio {simuleval_build_s / simul_build_s:.1f}x"
    )
    print(
        f"score: SimulEval {simuleval_score_s:.3f} s, simul {simul_score_s:.3f} s, "
        f"ratio {simuleval_score_s / simul_score_s:.1f}x"
    )
    total_theirs = simuleval_build_s + simuleval_score_s
    total_ours = simul_build_s + simul_score_s
    print(
        f"build + score: SimulEval {total_theirs:.3f} s, simul {total_ours:.3f} s, "
        f"ratio {total_theirs / total_ours:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

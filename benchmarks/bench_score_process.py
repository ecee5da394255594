"""Benchmark: `simul score` against `simuleval --score-only`, both as whole processes.

Run on demand::

    bash .ci/venv python benchmarks/bench_score_process.py [--instances 20000] [--repeats 5]

What a user waits for is the whole process: interpreter start, imports, reading the log,
scoring, writing.  This writes the 20,000-instance speech log of ``bench_latency.py`` (same
generator, same seed) with its ``config.yaml`` into a temporary directory, then runs, in turn and
``--repeats`` times each (interleaved, so that a busy spell of the machine hits all of them):

- ``simuleval --score-only --output DIR`` (SimulEval 1.1.4: BLEU and its default latency metrics);
- ``simul score DIR --quality-metrics BLEU`` (the same columns);
- ``simul score DIR`` (the default: BLEU and chrF, per-instance scores too);
- ``simul --help`` and ``simul score --help`` (start-up).

It prints the median wall time and CPU time of each and the ratios to SimulEval's (on a shared
machine the CPU time is the steadier of the two), and checks that the
corpus values simul writes equal those SimulEval prints (to the digits it prints).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_latency import (
    _instance,
)  # the same corpus generator (this script's folder is on sys.path)

_COMPARED = ("BLEU", "LAAL", "AL", "AP", "DAL", "ATD")


def _run(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; return its wall time and CPU time (user + system) in seconds, and its stdout.

    Why both: wall time is what a user waits for, but on a shared machine it also counts the
    other processes; CPU time is what the command itself spent.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, result.stdout


def _simuleval_values(stdout: str) -> dict[str, float]:
    """The corpus values of SimulEval's printed table (a header line, then a row led by its index)."""
    lines = [line.split() for line in stdout.strip().splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if "AL" in line)
    values = lines[header + 1][-len(lines[header]) :]
    return dict(zip(lines[header], map(float, values), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=20000, help="corpus size (instances)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the corpus")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median kept)")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    simuleval = (
        str(bin_dir / "simuleval")
        if (bin_dir / "simuleval").exists()
        else shutil.which("simuleval")
    )
    simul = [sys.executable, "-m", "simul.cli.main"]
    with tempfile.TemporaryDirectory() as work:
        run_dir = Path(work) / "run"
        run_dir.mkdir()
        rng = random.Random(args.seed)
        lines = (json.dumps(_instance(rng, i)) + "\n" for i in range(args.instances))
        (run_dir / "instances.log").write_text("".join(lines))
        (run_dir / "config.yaml").write_text("source_type: speech\ntarget_type: text\n")
        commands = {
            "simuleval --score-only --output DIR": [
                simuleval,
                "--score-only",
                "--output",
                str(run_dir),
            ],
            "simul score DIR --quality-metrics BLEU": [
                *simul,
                "score",
                str(run_dir),
                "--quality-metrics",
                "BLEU",
                "--output",
                f"{work}/bleu",
            ],
            "simul score DIR": [*simul, "score", str(run_dir), "--output", f"{work}/default"],
            "simul --help": [*simul, "--help"],
            "simul score --help": [*simul, "score", "--help"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu_times: dict[str, list[float]] = {name: [] for name in commands}
        outputs: dict[str, str] = {}
        for _ in range(args.repeats):
            for name, command in commands.items():
                seconds, cpu, outputs[name] = _run(command)
                times[name].append(seconds)
                cpu_times[name].append(cpu)
        theirs = _simuleval_values(outputs["simuleval --score-only --output DIR"])
        ours = {}
        for line in (Path(work) / "bleu" / "scores.tsv").read_text().splitlines():
            if not line.startswith("#"):
                ours.setdefault("header", line.split("\t"))
                if line.split("\t") != ours["header"]:
                    ours.update(zip(ours["header"], line.split("\t"), strict=True))

    baseline = statistics.median(times["simuleval --score-only --output DIR"])
    cpu_baseline = statistics.median(cpu_times["simuleval --score-only --output DIR"])
    print(f"{args.instances} speech instances, whole processes, median of {args.repeats} runs")
    print(f"{'command':<40}{'wall s':>8}{'ratio':>8}{'CPU s':>8}{'ratio':>8}   wall s of each run")
    for name, values in times.items():
        median, cpu = statistics.median(values), statistics.median(cpu_times[name])
        runs = " ".join(f"{v:.2f}" for v in values)
        print(
            f"{name:<40}{median:>8.2f}{baseline / median:>7.1f}x{cpu:>8.2f}{cpu_baseline / cpu:>7.1f}x   {runs}"
        )
    for column in _COMPARED:
        printed = theirs[column]
        digits = len(str(printed).split(".")[1]) if "." in str(printed) else 0
        mine = round(float(ours[column]), digits)
        if mine != printed:
            raise SystemExit(f"{column}: simul {ours[column]} != SimulEval {printed} (as printed)")
    print(f"equal to SimulEval's printed values: {', '.join(_COMPARED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

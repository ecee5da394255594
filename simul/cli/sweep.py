"""``simul sweep``: run a YAML grid of ``simul eval`` runs and gather them into a table and a plot.

    simul sweep experiments/sweeps/aed_curves.yaml
    simul sweep experiments/sweeps/aed_curves.yaml workers=4 data.max_instances=50
    simul sweep experiments/sweeps/aed_curves.yaml executor=slurm slurm.partition=dev

Finished runs are kept (``OUTPUT/runs/RUN_ID/result.json``): running the command again resumes
an interrupted sweep, and ``--gather-only`` redraws the table and the plot from what is there.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of simul eval runs (policy x parameters x segment size), resumably; gather a table and a plot",
        description=(
            "Expand a sweep config (YAML) into simul eval runs, run the unfinished ones in a local "
            "process pool or on SLURM through submitit, then write OUTPUT/results.tsv, "
            "OUTPUT/results.md and OUTPUT/curves.png (quality against latency, plain and "
            "computation-aware, with the oracle latency)."
        ),
    )
    parser.add_argument("config", type=Path, help="the sweep config (experiments/sweeps/*.yaml)")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE",
        help="change any config key (workers=4, executor=slurm, data.max_instances=50)",
    )
    parser.add_argument("--gather-only", action="store_true",
                        help="run nothing: gather the finished runs into the table and the plot")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: simul.sweep loads torch and pandas, which `simul sweep --help` does not need.
    from simul.sweep import gather, load_sweep_config, markdown_table, run_sweep, write_outputs

    config = load_sweep_config(args.config, args.overrides)
    status = 0
    if not args.gather_only:
        outcome = run_sweep(config)
        logger.info(
            "sweep %s: %d runs done now, %d before, %d skipped, %d failed",
            config.name, len(outcome.executed), len(outcome.reused), len(outcome.skipped), len(outcome.failed),
        )  # fmt: skip
        status = 1 if outcome.failed else 0
    table = gather(config)
    if table.empty:
        raise ValueError(f"no finished run to gather in {config.output_dir}.")
    paths = write_outputs(config, table)
    columns = ["label", "varied", "segment_ms", "stream", "BLEU", "LAAL", "AL", "LAAL_CA", "AL_CA"]
    print(markdown_table(table, columns), end="")
    logger.info("wrote %s", ", ".join(str(p) for p in paths))
    return status

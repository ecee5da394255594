"""``simul sweep``: run a YAML grid of ``simul eval`` runs and gather them into a table and a plot.

    simul sweep experiments/sweeps/aed_curves.yaml
    simul sweep experiments/sweeps/aed_curves.yaml workers=4 data.max_instances=50
    simul sweep experiments/sweeps/aed_curves.yaml executor=slurm slurm.partition=dev

    simul sweep status experiments/sweeps/aed_curves.yaml   # every point: finished, failed, ...

Finished runs are kept (``OUTPUT/runs/RUN_ID/result.json``): running the command again resumes
an interrupted sweep, and ``--gather-only`` redraws the table and the plot from what is there
(exit status 1, naming them, when points are missing from it).
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
    parser.add_argument(
        "config", type=Path,
        help="the sweep config (experiments/sweeps/*.yaml); `simul sweep status CONFIG` is --status",
    )  # fmt: skip
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="change any config key (workers=4, executor=slurm, data.max_instances=50)",
    )
    parser.add_argument(
        "--gather-only",
        action="store_true",
        help="run nothing: gather the finished runs into the table and the plot "
        "(exit status 1 when some points are not finished)",
    )
    parser.add_argument(
        "--status",
        action="store_true",
        help="run nothing: list every point of the grid, finished, failed, partial "
        "(with its instances done) or not started",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: simul.sweep loads torch and pandas, which `simul sweep --help` does not need.
    from simul.sweep import gather, load_sweep_config, markdown_table, run_sweep, write_outputs
    from simul.sweep.status import PointState, format_status, sweep_status

    config_path, overrides, show_status = args.config, list(args.overrides), args.status
    if str(config_path) == "status" and not config_path.is_file() and overrides:
        config_path, overrides, show_status = (
            Path(overrides[0]),
            overrides[1:],
            True,
        )  # `simul sweep status CONFIG`
    config = load_sweep_config(config_path, overrides)
    if show_status:
        print(format_status(sweep_status(config)), end="")
        return 0
    status = 0
    if args.gather_only:
        missing = [
            p
            for p in sweep_status(config)
            if p.state not in (PointState.FINISHED, PointState.SKIPPED)
        ]
        if missing:
            logger.warning(
                "%d of the grid's points are not finished and not in the table: %s (`simul sweep status` "
                "says why)", len(missing), ", ".join(p.spec.run_id for p in missing),
            )  # fmt: skip
            status = 1
    else:
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

"""Sweeps: a YAML grid of ``simul eval`` runs, executed locally or on SLURM, resumable, gathered.

:func:`load_sweep_config` reads the YAML (:mod:`simul.sweep.config`), :func:`expand` lists its
runs, :func:`run_sweep` runs the unfinished ones (:mod:`simul.sweep.runner`), :func:`gather` and
:func:`write_outputs` make the table and the plot (:mod:`simul.sweep.gather`).  The command is
``simul sweep CONFIG [KEY=VALUE ...]``.
"""

from simul.sweep.config import RunSpec, SweepConfig, expand, load_sweep_config
from simul.sweep.gather import gather, markdown_table, plot_curves, write_outputs
from simul.sweep.runner import SweepOutcome, eval_arguments, execute_run, run_oracle, run_sweep

__all__ = [
    "RunSpec",
    "SweepConfig",
    "SweepOutcome",
    "eval_arguments",
    "execute_run",
    "expand",
    "gather",
    "load_sweep_config",
    "markdown_table",
    "plot_curves",
    "run_oracle",
    "run_sweep",
    "write_outputs",
]

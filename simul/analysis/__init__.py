"""Analysis of finished runs, for the notebooks (``notebooks/``) and the sweeps' plots.

:mod:`simul.analysis.curves`: the latency–quality table of a sweep or of ``simul eval`` /
``simul score`` output directories, its Pareto front and its plot.
:mod:`simul.analysis.timeline`: one instance's words against the source time, per stream.
:mod:`simul.analysis.phenomena`: a run's scores broken down by grammatical construction.
"""

from simul.analysis.curves import (
    LOWER_IS_BETTER,
    ORACLE_LABEL,
    latency_values,
    oracle_latency,
    pareto_front,
    pareto_table,
    plot_latency_quality,
    plot_streams,
    read_runs,
    read_scores,
    stream_quality_metric,
)
from simul.analysis.phenomena import REORDERING_PHENOMENA, read_phenomena, scores_by_phenomenon
from simul.analysis.timeline import find_instance, plot_timeline, word_timeline

__all__ = [
    "LOWER_IS_BETTER",
    "ORACLE_LABEL",
    "REORDERING_PHENOMENA",
    "find_instance",
    "latency_values",
    "oracle_latency",
    "pareto_front",
    "pareto_table",
    "plot_latency_quality",
    "plot_streams",
    "plot_timeline",
    "read_phenomena",
    "read_runs",
    "read_scores",
    "scores_by_phenomenon",
    "stream_quality_metric",
    "word_timeline",
]

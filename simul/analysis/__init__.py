"""Analysis of finished runs, for the notebooks (``notebooks/``) and the sweeps' plots.

:mod:`simul.analysis.curves`: the latency–quality table of a sweep or of ``simul eval`` /
``simul score`` output directories, its Pareto front and its plot.
:mod:`simul.analysis.timeline`: one instance's words against the source time, per stream.
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
from simul.analysis.timeline import find_instance, plot_timeline, word_timeline

__all__ = [
    "LOWER_IS_BETTER",
    "ORACLE_LABEL",
    "find_instance",
    "latency_values",
    "oracle_latency",
    "pareto_front",
    "pareto_table",
    "plot_latency_quality",
    "plot_streams",
    "plot_timeline",
    "read_runs",
    "read_scores",
    "stream_quality_metric",
    "word_timeline",
]

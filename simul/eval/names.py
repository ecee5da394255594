"""Metric names, in a module that imports nothing.

Why a module of its own: the ``simul score`` and ``simul eval`` parsers list these names in
their ``--help``, and ``simul COMMAND --help`` must not import numpy, pandas or sacrebleu to
show them (start-up under 0.3 s).  ``simul.eval.latency`` and ``simul.eval.quality`` re-export them.
"""

__all__ = ["DEFAULT_LATENCY_METRICS", "LATENCY_METRICS", "QUALITY_METRICS"]

#: Every latency metric ``simul.eval.latency.compute_latency`` knows, SimulEval 1.1.4's first.
LATENCY_METRICS = ("AL", "LAAL", "AP", "DAL", "ATD", "StartOffset", "EndOffset", "RTF", "NumChunks")

#: SimulEval 1.1.4's default ``--latency-metrics``, in its order.
DEFAULT_LATENCY_METRICS = ("LAAL", "AL", "AP", "DAL", "ATD")

#: Quality metric names, matched exactly. ``chrF++`` is chrF with word bigrams (``word_order=2``).
QUALITY_METRICS = ("BLEU", "chrF", "chrF++", "TER", "WER", "CER")

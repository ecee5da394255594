"""OmniSTEval's scores (IWSLT 2026's scorer): YAAL, LongYAAL, its AL/LAAL/AP/DAL, degeneracy.

Why: the IWSLT 2026 simultaneous track ranks systems by YAAL (short-form, one output per
reference segment) and LongYAAL (long-form, one output per talk, cut into the reference
segments by SoftSegmenter, ``simul.eval.soft_segmenter``), as computed by OmniSTEval 0.1.10
(Polák et al. 2025, arXiv:2509.17349).  This module gives the same numbers from simul's
records; ``tests/test_omnisteval.py`` checks them against the installed ``omnisteval``.

Definitions (delays d_i in ms, |X| the segment's duration, |Y*| the reference length in
words, ``reference.split(" ")`` as SimulEval counts it, |Y| the number of delays)::

    gamma = max(|Y|, |Y*|) / |X|
    tau   = number of leading delays before the cut-off
    YAAL  = 1/tau * sum_{i=1..tau} (d_i - (i - 1) / gamma)

The cut-off is where YAAL differs from LAAL (the same sum): LAAL includes the first delay that
reaches |X| and stops after it, YAAL stops before it, so words written once the source has
ended do not count; an instance whose first word comes at or after |X| has no YAAL and is left
out of the corpus mean (LAAL scores it d_1).  LongYAAL, on re-segmented talks, cuts off at the
end of the talk's recording instead (``recording_end_ms``, measured from the segment's offset),
so a segment's late words, written while later segments play, count.

OmniSTEval's AL, LAAL, AP and DAL are SimulEval's formulas (``simul.eval.latency``) on its
records, which differ from ``simul score``'s default in two ways: the reference is stripped of
leading and trailing whitespace before |Y*| is counted, and in long form the instances are the
re-segmented segments (delays re-based to the segment's offset, |X| its duration).
Computation-aware columns (``NAME_CA``) use ``elapsed`` as OmniSTEval does (without its
``--fix_simuleval_emission_ca``).

Degeneracy (short form; OmniSTEval's ``ShortformDegeneracyScorer``): SWF, the percentage of
output words written before their segment's end; EFSW, ``100 * sum(max(0, |X| - YAAL)) /
sum(|X|)`` over the instances with a YAAL; DSPTV = EFSW - SWF; a policy is flagged degenerate
when |DSPTV| > 20.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["OMNISTEVAL_LATENCY_METRICS", "corpus_value", "degeneracy", "omnisteval_latency", "yaal"]

#: OmniSTEval's latency metrics, in its report's order (``Long`` prefixed in long form).
OMNISTEVAL_LATENCY_METRICS = ("YAAL", "AL", "LAAL", "AP", "DAL")


def yaal(
    delays: Sequence[float],
    source_length: float,
    target_length: float,
    *,
    long_form: bool = False,
    recording_end_ms: float = math.inf,
) -> float:
    """Yet Another Average Lagging of one instance (LongYAAL with ``long_form=True``).

    Args:
        delays: (|Y|,) non-decreasing delays (ms from the segment's start).
        source_length: |X|, the segment's duration (ms), > 0.
        target_length: |Y*| (``len(delays)`` without a reference).
        long_form: cut off at ``recording_end_ms`` only, not at |X|.
        recording_end_ms: where the talk's recording ends, from the segment's start.

    Returns:
        YAAL, or NaN when no delay comes before the cut-off (the instance is then left out of
        the corpus mean, as OmniSTEval leaves it out).
    """
    if not source_length > 0:
        raise ValueError(f"`source_length` must be > 0, but is {source_length} instead.")
    end = recording_end_ms if long_form else min(source_length, recording_end_ms)
    gamma = max(len(delays), target_length) / source_length
    total = 0.0
    count = 0
    for position, delay in enumerate(delays):
        if delay >= end:
            break
        total += delay - position / gamma
        count = position + 1
    return total / count if count else math.nan


def corpus_value(values: Sequence[float]) -> float:
    """The corpus score: ``statistics.mean`` of the values that are not NaN (NaN if none), as OmniSTEval."""
    kept = [value for value in values if not math.isnan(value)]
    return statistics.mean(kept) if kept else math.nan


def omnisteval_latency(
    delays: Sequence[Sequence[float]],
    source_lengths: Sequence[float],
    target_lengths: Sequence[float],
    *,
    long_form: bool = False,
    recording_ends_ms: Sequence[float] | None = None,
) -> dict[str, list[float]]:
    """Per-instance YAAL, AL, LAAL, AP and DAL as OmniSTEval computes them (NaN: not scored).

    N: number of instances.  An instance without delays is not scored (NaN everywhere).

    Args:
        delays: N lists of delays (plain or computation-aware).
        source_lengths: (N,) |X| of each instance.
        target_lengths: (N,) |Y*| of each instance.
        long_form: LongYAAL's cut-off (see ``yaal``).
        recording_ends_ms: (N,) the recording's end from each instance's start (long form).

    Returns:
        ``{metric: (N,) values}`` for ``OMNISTEVAL_LATENCY_METRICS``; the corpus value is the
        mean of the non-NaN values.
    """
    from simul.eval.latency import (
        average_lagging,
        average_proportion,
        differentiable_average_lagging,
        length_adaptive_average_lagging,
    )

    ends = recording_ends_ms if recording_ends_ms is not None else [math.inf] * len(delays)
    values: dict[str, list[float]] = {name: [] for name in OMNISTEVAL_LATENCY_METRICS}
    for ds, source, target, end in zip(delays, source_lengths, target_lengths, ends, strict=True):
        if not ds:
            for column in values.values():
                column.append(math.nan)
            continue
        values["YAAL"].append(yaal(ds, source, target, long_form=long_form, recording_end_ms=end))
        values["AL"].append(average_lagging(ds, source, target))
        values["LAAL"].append(length_adaptive_average_lagging(ds, source, target))
        values["AP"].append(average_proportion(ds, source, target))
        values["DAL"].append(differentiable_average_lagging(ds, source))
    return values


def degeneracy(
    delays: Sequence[Sequence[float]], source_lengths: Sequence[float], yaal_values: Sequence[float]
) -> dict[str, float]:
    """OmniSTEval's short-form test for degenerate policies (module docstring).

    Args:
        delays: N lists of plain delays.
        source_lengths: (N,) |X| of each instance.
        yaal_values: (N,) short-form YAAL of each instance (NaN where it has none).

    Returns:
        ``{"SWF", "EFSW", "DSPTV", "degenerate"}`` (percentages; ``degenerate`` is 1.0 or 0.0).
    """
    words = sum(len(ds) for ds in delays)
    if words == 0:
        return dict.fromkeys(("SWF", "EFSW", "DSPTV", "degenerate"), math.nan)
    early = sum(
        sum(1 for d in ds if d < source) for ds, source in zip(delays, source_lengths, strict=True)
    )
    swf = 100.0 * early / words
    numerator = denominator = 0.0
    for source, value in zip(source_lengths, yaal_values, strict=True):
        if not math.isnan(value):
            numerator += max(0.0, source - value)
            denominator += source
    efsw = 100.0 * numerator / denominator if denominator > 0 else math.nan
    dsptv = efsw - swf
    degenerate = 1.0 if not math.isnan(dsptv) and abs(dsptv) > 20 else 0.0
    return {"SWF": swf, "EFSW": efsw, "DSPTV": dsptv, "degenerate": degenerate}

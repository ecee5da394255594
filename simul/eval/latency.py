"""Latency metrics of simultaneous translation, equal to SimulEval 1.1.4's, and a fast batch API.

Why this module exists: SimulEval scores one instance at a time in pure Python, through scorer
classes that read attributes off instance objects.  Here each metric is a pure function on plain
data (delays and lengths in, a float out), which keeps the formulas readable and testable, and
``compute_latency`` scores a whole corpus at once with numpy.  Both give SimulEval 1.1.4's
numbers, bit for bit except the batch API's ATD, which can be a few ulp away; the tests check
them against SimulEval's scorer classes.

Conventions (SimulEval's):

- ``delays``: one per output unit (word, character or sentencepiece piece), non-decreasing: the
  source consumed when the unit was written, in ms for speech input and in source tokens for
  text input.  ``elapsed``: the same on the wall clock (computation-aware latency).
- ``source_length`` |X|: ms for speech, tokens for text.  ``target_length`` |Y*|: the reference
  length in the latency unit, or the number of delays |Y| when there is no reference or
  ``use_ref_len`` is off.
- Where SimulEval skips an instance (no output, or no ``elapsed`` when computation-aware) the
  batch API gives NaN, and ``corpus_mean`` leaves it out.

Differences from SimulEval 1.1.4, on purpose: computation-aware scoring never changes the plain
columns (SimulEval issue 44), and text-input ATD always uses the text constants (SimulEval uses
the speech ones when it scores a log file).  Speech output (durations, intervals) is not covered.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any, Literal

from simul.eval._latency_batch import (
    LATENCY_METRICS,
    SPEECH_SOURCE_TOKEN_MS,
    LatencyInputs,
    SourceType,
    compute_latency,
    corpus_mean,
)

__all__ = [
    "LATENCY_METRICS",
    "LatencyInputs",
    "average_lagging",
    "average_proportion",
    "average_token_delay",
    "compute_latency",
    "corpus_mean",
    "differentiable_average_lagging",
    "end_offset",
    "length_adaptive_average_lagging",
    "num_chunks",
    "real_time_factor",
    "reference_length",
    "start_offset",
]


def _check_nonempty(delays: Sequence[float], source_length: float) -> None:
    if len(delays) == 0:
        raise ValueError("`delays` must hold at least one delay, but is empty instead.")
    if not source_length > 0:
        raise ValueError(f"`source_length` must be > 0, but is {source_length} instead.")


def average_lagging(delays: Sequence[float], source_length: float, target_length: float) -> float:
    """Average Lagging (AL): how far, on average, the output lags an ideal simultaneous writer.

    STACL (Ma et al. 2019, arXiv:1810.08398), with SimulEval's oracle rate from the reference
    length (SimulEval paper, eq. 8)::

        gamma = |Y*| / |X|
        tau   = min{i : d_i >= |X|}, or |Y| when no delay reaches |X|
        AL    = 1/tau * sum_{i=1..tau} (d_i - (i - 1) / gamma)

    Edge cases (SimulEval's): if d_1 > |X| the result is d_1 (which the cut-off at tau = 1
    gives anyway); the cut-off is ``>=``; AL is negative under over-generation against a
    shorter reference, and when no delay reaches |X|.

    Args:
        delays: (|Y|,) non-decreasing delays.
        source_length: |X| (ms or source tokens).
        target_length: |Y*|, the length the oracle writes; ``len(delays)`` without a reference.
    """
    _check_nonempty(delays, source_length)
    if delays[0] > source_length:
        return float(delays[0])
    gamma = target_length / source_length
    total = 0.0
    for position, delay in enumerate(delays):
        total += delay - position / gamma
        if delay >= source_length:
            return total / (position + 1)
    return total / len(delays)


def length_adaptive_average_lagging(
    delays: Sequence[float], source_length: float, target_length: float
) -> float:
    """Length-Adaptive Average Lagging (LAAL): AL whose oracle writes max(|Y|, |Y*|) units.

    Papi et al. 2022 (arXiv:2206.05807), first used by Polák et al. 2022 (arXiv:2204.06028).
    With the oracle length ``max(|Y|, |Y*|)``, over-generation no longer lowers the score.
    Same shortcut and cut-off as ``average_lagging``.
    """
    return average_lagging(delays, source_length, max(len(delays), target_length))


def average_proportion(
    delays: Sequence[float], source_length: float, target_length: float
) -> float:
    """Average Proportion (AP): the mean fraction of the source read before each unit.

    Cho and Esipova 2016 (arXiv:1606.02012): ``AP = sum_i d_i / (|X| * |Y*|)``.  All delays are
    summed (no cut-off) but the division is by the reference length, so AP exceeds 1 when the
    output is longer than the reference (SimulEval's behaviour).
    """
    _check_nonempty(delays, source_length)
    return sum(delays, 0.0) / (source_length * target_length)


def differentiable_average_lagging(delays: Sequence[float], source_length: float) -> float:
    """Differentiable Average Lagging (DAL), on the hypothesis length.

    Arivazhagan et al. 2019 (arXiv:1906.05218)::

        gamma = |Y| / |X|
        g'_1  = d_1,   g'_i = max(d_i, g'_{i-1} + 1 / gamma)
        DAL   = 1/|Y| * sum_{i=1..|Y|} (g'_i - (i - 1) / gamma)

    No cut-off and no shortcut; the reference length is never used (SimulEval's behaviour).
    """
    _check_nonempty(delays, source_length)
    gamma = len(delays) / source_length
    total = 0.0
    lagged = delays[0]
    for position, delay in enumerate(delays):
        if position > 0:
            lagged = max(delay, lagged + 1 / gamma)
        total += lagged - position / gamma
    return total / len(delays)


def start_offset(delays: Sequence[float]) -> float:
    """StartOffset: the delay of the first unit."""
    _check_nonempty(delays, 1.0)
    return float(delays[0])


def end_offset(delays: Sequence[float], source_length: float) -> float:
    """EndOffset: how long after the end of the source the last unit came, ``d_|Y| - |X|``."""
    _check_nonempty(delays, source_length)
    return float(delays[-1] - source_length)


def real_time_factor(delays: Sequence[float], source_length: float) -> float:
    """Real-time factor (RTF): ``d_|Y| / |X|``; above 1 when output ends after the source."""
    _check_nonempty(delays, source_length)
    return delays[-1] / source_length


def num_chunks(delays: Sequence[float]) -> float:
    """NumChunks: the number of delays, i.e. of output units (SimulEval's name)."""
    return float(len(delays))


def _token_lengths(span: float, source_type: SourceType) -> list[float]:
    """Split the source read between two writes into ATD's source tokens."""
    if source_type == "text":
        return [1.0] * round(span)
    whole, rest = divmod(span, SPEECH_SOURCE_TOKEN_MS)
    return [SPEECH_SOURCE_TOKEN_MS] * int(whole) + ([rest] if rest != 0 else [])


def _compute_times(delays: Sequence[float], elapsed: Sequence[float]) -> list[float]:
    """Per-unit compute time for ATD: the growth of ``elapsed - delays`` since the last unit."""
    if all(value == 0 for value in elapsed):
        return [0.0] * len(delays)
    overhead = [wall - ideal for wall, ideal in zip(elapsed, delays, strict=True)]
    return [now - before for now, before in zip(overhead, [0.0, *overhead[:-1]], strict=True)]


def average_token_delay(
    delays: Sequence[float],
    elapsed: Sequence[float],
    *,
    source_type: SourceType,
    computation_aware: bool,
) -> float:
    """Average Token Delay (ATD): mean time from a source token's end to its target token's end.

    Kano et al. 2023 (arXiv:2211.13173), as SimulEval 1.1.4 computes it for text output.
    Writes with equal delays form a chunk; the source read since the previous chunk is split
    into tokens (one per source token for text input; for speech input 300 ms tokens and a
    shorter remainder).  Target token t of chunk k pairs with source token
    ``s = min(t - max(0, AccY - AccX), read_k)``, where AccX and AccY count the source and
    target tokens of earlier chunks and read_k the source tokens up to chunk k.  Target tokens
    last 1 (text input) or 0 (speech input) and end at ``max(d_t, end_{t-1}) + length +
    compute_t``; ATD is the mean of ``end_t - source_end_s``.  The source length plays no part.

    Args:
        delays: (|Y|,) non-decreasing delays; they define the chunks even when computation-aware.
        elapsed: (|Y|,) wall-clock delays; used only when ``computation_aware``.
        source_type: ``"text"`` (unit-length tokens) or ``"speech"`` (300 ms source tokens).
        computation_aware: add the compute time between writes (from ``elapsed``) to each end.
    """
    _check_nonempty(delays, 1.0)
    target_token_length = 1.0 if source_type == "text" else 0.0
    if computation_aware:
        if len(elapsed) != len(delays):
            raise ValueError(
                f"`elapsed` must hold one value per delay ({len(delays)}), but holds {len(elapsed)} "
                "instead."
            )
        compute = _compute_times(delays, elapsed)
    else:
        compute = [0.0] * len(delays)
    chunk_starts = [i for i in range(len(delays)) if i == 0 or delays[i] != delays[i - 1]]
    chunk_ends = [*chunk_starts[1:], len(delays)]

    source_end_times = [0.0]
    token_delays: list[float] = []
    target_end = 0.0
    source_before = 0
    previous_delay = 0.0
    for start, stop in zip(chunk_starts, chunk_ends, strict=True):
        for length in _token_lengths(delays[start] - previous_delay, source_type):
            source_end_times.append(source_end_times[-1] + length)
        previous_delay = delays[start]
        source_read = len(source_end_times) - 1
        for t in range(start + 1, stop + 1):
            target_end = max(delays[t - 1], target_end) + target_token_length + compute[t - 1]
            source = min(t - max(0, start - source_before), source_read)
            token_delays.append(target_end - source_end_times[source])
        source_before = source_read
    return float(statistics.mean(token_delays))


def reference_length(
    reference: str, unit: Literal["word", "char", "spm"], spm_model: Any = None
) -> int:
    """|Y*| in the latency unit, counted as SimulEval 1.1.4 counts it.

    ``word`` splits on single spaces (so double, leading and trailing spaces add empty words),
    ``char`` counts the stripped string including inner spaces, ``spm`` counts the pieces of
    ``spm_model`` (a ``sentencepiece.SentencePieceProcessor``).
    """
    if unit == "word":
        return reference.count(" ") + 1  # len(reference.split(" ")), without building the list
    if unit == "char":
        return len(reference.strip())
    if unit == "spm":
        if spm_model is None:
            raise ValueError(
                "`spm_model` must be a SentencePieceProcessor for unit spm, but is None."
            )
        return len(spm_model.encode(reference, out_type=str))
    raise ValueError(f"`unit` must be word, char or spm, but is {unit!r} instead.")

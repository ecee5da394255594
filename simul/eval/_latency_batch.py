"""Corpus latency scoring, vectorised with numpy; the API is re-exported by ``simul.eval.latency``.

Why vectorised: SimulEval scores every instance in a Python loop over tokens, which takes
seconds on a corpus of tens of thousands of instances.  Here instances of similar output
length form blocks, each block is padded into (B, L) arrays, and every formula runs along axis 1.
The floating-point operations are SimulEval's, in its order, so the results are bit-identical:
running sums use ``np.cumsum`` along a row (sequential, like Python's ``+=``), and the DAL and
ATD recurrences run column by column over the rows of a block.  The one exception is ATD, which
can be a few ulp away: SimulEval rounds its mean per instance once from the exact sum
(``statistics.mean``), and adds the 300 ms source tokens one by one where we multiply.  The
readable per-instance definitions are in ``simul.eval.latency``; the tests check this module
against them and against SimulEval 1.1.4.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np

__all__ = ["LATENCY_METRICS", "LatencyInputs", "compute_latency", "corpus_mean"]

SourceType = Literal["speech", "text"]

#: Every metric ``compute_latency`` knows, in SimulEval's names.
LATENCY_METRICS = ("AL", "LAAL", "AP", "DAL", "ATD", "StartOffset", "EndOffset", "RTF", "NumChunks")

#: ATD's length of one source token for speech input, in ms ("300 ms per word").
SPEECH_SOURCE_TOKEN_MS = 300.0


@dataclass(frozen=True)
class _Flat:
    """The validated inputs as flat arrays: all instances' values concatenated (N instances)."""

    delays: np.ndarray
    """(sum of delay counts,) float64."""
    delay_counts: np.ndarray
    """(N,) int64 number of delays of each instance."""
    elapsed: np.ndarray
    """(sum of elapsed counts,) float64."""
    elapsed_counts: np.ndarray
    """(N,) int64, each 0 or equal to the delay count."""
    source_lengths: np.ndarray
    """(N,) float64 |X|."""
    reference_lengths: np.ndarray
    """(N,) float64 |Y*|, NaN where there is no reference."""


@dataclass(frozen=True)
class LatencyInputs:
    """One output stream of a corpus, as plain data (N instances); validated when built.

    Raises:
        ValueError: naming the instance and field, for NaN, inf or negative times, decreasing
            delays, fractional delays or source lengths for text input, ``elapsed`` of the wrong
            length, ``source_lengths <= 0``, or a reference length that is not a positive int.
    """

    delays: Sequence[Sequence[float]]
    """Per instance, one delay per output unit (ms for speech input, source tokens for text)."""
    elapsed: Sequence[Sequence[float]]
    """Per instance, wall-clock delays in the same unit: as many as delays, or none."""
    source_lengths: Sequence[float]
    """Per instance, |X|: ms of audio for speech input, source tokens for text input."""
    reference_lengths: Sequence[int | None]
    """Per instance, |Y*| in the latency unit, or None when there is no reference."""
    source_type: SourceType
    """``"speech"`` or ``"text"``: decides the delay unit and ATD's token lengths."""
    _flat: _Flat = field(init=False, repr=False, compare=False)
    """The same data as validated flat arrays (built here, read by ``compute_latency``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_flat", _validate(self))


def _flatten(rows: Sequence[Sequence[float]], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ragged rows into one float64 array; return it with the (N,) row lengths."""
    try:
        counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter(itertools.chain.from_iterable(rows), np.float64, int(counts.sum()))
    except (TypeError, ValueError) as error:
        for position, row in enumerate(rows):
            try:
                np.asarray(row, dtype=np.float64).reshape(len(row))
            except (TypeError, ValueError):
                raise ValueError(
                    f"`{name}` of instance {position} must be a sequence of numbers, but is {row!r}."
                ) from error
        raise
    return flat, counts


def _check_values(flat: np.ndarray, counts: np.ndarray, name: str, source_type: str) -> None:
    """Raise ValueError naming the instance and unit of the first invalid value."""
    offsets = np.concatenate([[0], np.cumsum(counts)])
    checks = [(~np.isfinite(flat), "be finite"), (flat < 0, "be >= 0")]
    if name == "delays" and source_type == "text":
        checks.append((flat != np.floor(flat), "be whole numbers (source tokens read)"))
    if name == "delays" and flat.size > 1:
        falls = np.concatenate([[False], flat[1:] < flat[:-1]])
        falls[offsets[1:-1][offsets[1:-1] < flat.size]] = False  # a new instance may start lower
        checks.append((falls, "be non-decreasing"))
    for bad, expected in checks:
        if bad.any():
            where = int(np.argmax(bad))
            row = int(np.searchsorted(offsets, where, side="right") - 1)
            raise ValueError(
                f"`{name}[{where - offsets[row]}]` of instance {row} must {expected}, but is "
                f"{flat[where]} instead."
            )


def _validate(inputs: LatencyInputs) -> _Flat:
    """Check every field in one place and flatten the ragged ones."""
    if inputs.source_type not in ("speech", "text"):
        raise ValueError(
            f"`source_type` must be 'speech' or 'text', but is {inputs.source_type!r} instead."
        )
    count = len(inputs.delays)
    for name in ("elapsed", "source_lengths", "reference_lengths"):
        if len(getattr(inputs, name)) != count:
            raise ValueError(
                f"`{name}` must hold one entry per instance ({count}), but holds "
                f"{len(getattr(inputs, name))} instead."
            )
    delays, delay_counts = _flatten(inputs.delays, "delays")
    elapsed, elapsed_counts = _flatten(inputs.elapsed, "elapsed")
    wrong = (elapsed_counts != 0) & (elapsed_counts != delay_counts)
    if wrong.any():
        row = int(np.argmax(wrong))
        raise ValueError(
            f"`elapsed` of instance {row} must hold {delay_counts[row]} values (one per delay) or "
            f"none, but holds {elapsed_counts[row]} instead."
        )
    _check_values(delays, delay_counts, "delays", inputs.source_type)
    _check_values(elapsed, elapsed_counts, "elapsed", inputs.source_type)
    text = inputs.source_type == "text"
    for position, length in enumerate(inputs.source_lengths):
        try:
            value = float(length)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0 and (not text or value.is_integer())):
            expected = "a positive whole number" if text else "finite and > 0"
            raise ValueError(
                f"`source_lengths[{position}]` must be {expected}, but is {length} instead."
            )
    references = np.full(count, np.nan)
    for position, length in enumerate(inputs.reference_lengths):
        if length is None:
            continue
        if isinstance(length, bool) or not (isinstance(length, (int, np.integer)) and length >= 1):
            raise ValueError(
                f"`reference_lengths[{position}]` must be a positive int or None, but is "
                f"{length!r} instead."
            )
        references[position] = length
    return _Flat(
        delays=delays,
        delay_counts=delay_counts,
        elapsed=elapsed,
        elapsed_counts=elapsed_counts,
        source_lengths=np.asarray(inputs.source_lengths, dtype=np.float64).reshape(count),
        reference_lengths=references,
    )


def corpus_mean(values: np.ndarray) -> float:
    """SimulEval's corpus score: ``statistics.mean`` of the non-NaN values, NaN if there are none.

    ``statistics.mean`` rounds the exact sum once (``sum / len`` can differ in the last ulp).
    The same exact sum comes much faster as a few ``math.fsum`` terms: the rounded sum, then the
    rounded rest, until the rest is zero.
    """
    kept = np.asarray(values, dtype=np.float64)
    data = kept[~np.isnan(kept)].tolist()
    if not data:
        return math.nan
    try:
        terms = [math.fsum(data)]
        while rest := math.fsum(itertools.chain(data, (-term for term in terms))):
            terms.append(rest)
    except (OverflowError, ValueError):  # inf among the values, or a sum beyond float range
        return float(statistics.mean(data))
    if not math.isfinite(terms[0]):
        return float(statistics.mean(data))
    return float(sum(map(Fraction, terms), Fraction(0)) / len(data))


@dataclass(frozen=True)
class _Block:
    """Instances of similar length, padded to the longest: B rows, L columns (output units).

    Padding repeats each row's last value, so no chunk boundary falls in the padding.
    """

    lengths: np.ndarray
    """(B,) number of output units |Y| (int64)."""
    mask: np.ndarray
    """(B, L) True on real units."""
    times: np.ndarray
    """(B, L) the clock being scored: delays, or elapsed when computation-aware."""
    delays: np.ndarray
    """(B, L) delays (ATD's chunks come from them even when computation-aware)."""
    compute: np.ndarray | None
    """(B, L) ATD's per-unit compute time, or None when not computation-aware."""
    source: np.ndarray
    """(B,) |X|."""
    target: np.ndarray
    """(B,) |Y*|, or |Y| without a reference or with ``use_ref_len`` off (float64)."""


#: Cells (rows x columns) per block: its (B, L) float64 arrays, 128 KiB each, stay in cache.
_BLOCK_CELLS = 16384


def _blocks(lengths: np.ndarray) -> list[np.ndarray]:
    """Positions in blocks of similar length (within a factor 2**0.25: padding wastes <= 19%).

    A block holds about ``_BLOCK_CELLS`` cells; smaller blocks cost more Python calls, larger
    ones leave the CPU cache (measured: 16384 is about 30% faster than unbounded blocks).
    """
    keys = np.floor(np.log2(np.maximum(lengths, 1)) * 4).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    blocks = []
    for group in np.split(order, np.flatnonzero(np.diff(keys[order])) + 1) if order.size else []:
        rows_per_block = max(1, _BLOCK_CELLS // int(lengths[group].max()))
        blocks.extend(np.split(group, range(rows_per_block, group.size, rows_per_block)))
    return blocks


def _padded(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(B, L) rows of ``flat`` starting at ``starts``, padded by repeating each last value."""
    columns = np.arange(int(lengths.max()))
    return flat[starts[:, None] + np.minimum(columns, lengths[:, None] - 1)]


def _last(block: _Block) -> np.ndarray:
    return block.times[np.arange(block.lengths.size), block.lengths - 1]


def _lagging_rows(block: _Block, oracle_length: np.ndarray) -> np.ndarray:
    """AL with the given oracle length, per row (see ``average_lagging``).

    SimulEval's shortcut (d_1 > |X| gives d_1) needs no branch: the cut-off then has tau = 1,
    and d_1 - 0 / gamma is d_1.
    """
    source = block.source
    gamma = oracle_length / source
    running = np.cumsum(block.times - np.arange(block.times.shape[1]) / gamma[:, None], axis=1)
    reached = block.mask & (block.times >= source[:, None])
    tau = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, block.lengths)
    return running[np.arange(tau.size), tau - 1] / tau


def _dal_rows(block: _Block) -> np.ndarray:
    """DAL per row (see ``differentiable_average_lagging``); the recurrence runs by column."""
    gamma = block.lengths / block.source
    lagged = block.times[:, 0].copy()
    total = lagged - 0 / gamma
    for column in range(1, block.times.shape[1]):
        lagged = np.maximum(block.times[:, column], lagged + 1 / gamma)
        total = np.where(block.mask[:, column], total + (lagged - column / gamma), total)
    return total / block.lengths


def _divmod_token_ms(span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Python's ``divmod(span, 300.0)`` for ``span >= 0``, elementwise, 20 times faster.

    Exact: a quotient below an integer k cannot round up to k, as 300 k - span >= ulp(span)
    >= 256 ulp(k); and ``span - 300 q`` is exact (Sterbenz: 300 q <= span < 2 * 300 q).
    """
    whole = np.floor(span / SPEECH_SOURCE_TOKEN_MS)
    return whole, span - whole * SPEECH_SOURCE_TOKEN_MS


def _speech_source_end(
    delays: np.ndarray,
    previous_delay: np.ndarray,
    whole: np.ndarray,
    counts: np.ndarray,
    read_before: np.ndarray,
    start_column: np.ndarray,
    source: np.ndarray,
) -> np.ndarray:
    """(B, L) end time, in ms, of source token ``source`` (1-based; 0 means none) of each row.

    The source tokens of the chunk that starts at column c end at ``previous_delay[c] + 300 p``
    for p = 1 .. ``whole[c]``, then (remainder token) at ``delays[c]``.  SimulEval adds the token
    lengths one by one instead, which is the same number whenever the sums are exact (delays in
    whole ms or 16 kHz samples), and a few ulp away otherwise.

    The token lies in the target token's own chunk when ``source > read_before``; otherwise
    ``source`` is the target token's index t <= L, so only a row's first L source tokens need
    their chunk: each chunk writes its start column at its first token, and a running maximum
    fills the rest.
    """
    size, width = delays.shape
    columns = np.arange(width)
    first_token = np.where((counts > 0) & (read_before < width), read_before, width)
    holder = np.zeros((size, width + 1), dtype=np.int64)  # the last column takes the rest
    np.put_along_axis(holder, first_token, np.broadcast_to(columns, (size, width)), axis=1)
    holder = np.maximum.accumulate(holder[:, :width], axis=1)
    earlier = np.take_along_axis(holder, np.clip(source - 1, 0, width - 1), axis=1)
    found = np.where(source > read_before, start_column, earlier)
    found = found + (np.arange(size) * width)[:, None]  # flat index of the chunk's start column
    position = source - read_before.ravel()[found]
    inside = previous_delay.ravel()[found] + position * SPEECH_SOURCE_TOKEN_MS
    return np.where(position <= whole.ravel()[found], inside, delays.ravel()[found])


def _atd_rows(block: _Block, source_type: SourceType) -> np.ndarray:
    """ATD per row (see ``average_token_delay``), with chunks found by comparing columns."""
    delays, mask = block.delays, block.mask
    size, width = delays.shape
    columns = np.arange(width)
    target_token_length = 1.0 if source_type == "text" else 0.0
    if block.compute is None and target_token_length == 0:
        target_end = delays  # end_t = max(d_t, end_{t-1}) = d_t, as delays never decrease
    else:
        target_end = np.empty_like(delays)
        previous = np.zeros(size)
        for column in range(width):
            previous = np.maximum(delays[:, column], previous) + target_token_length
            if block.compute is not None:
                previous = previous + block.compute[:, column]
            target_end[:, column] = previous

    previous_delay = np.concatenate([np.zeros((size, 1)), delays[:, :-1]], axis=1)
    chunk_start = mask & ((delays != previous_delay) | (columns == 0))
    span = delays - previous_delay  # source read since the previous chunk, at chunk starts
    if source_type == "text":
        whole, rest = span, np.zeros_like(span)
    else:
        whole, rest = _divmod_token_ms(span)
    counts = np.where(chunk_start, whole.astype(np.int64) + (rest != 0), 0)
    read = np.cumsum(counts, axis=1)  # source tokens up to and including this chunk
    start_column = np.maximum.accumulate(np.where(chunk_start, columns, 0), axis=1)
    read_before = read - np.take_along_axis(counts, start_column, axis=1)
    # columns + 1 is t; start_column is AccY and read_before AccX.
    source = np.minimum(columns + 1 - np.maximum(0, start_column - read_before), read)
    if source_type == "text":
        source_end = source.astype(np.float64)  # unit-length tokens end at their index
    else:
        source_end = _speech_source_end(
            delays, previous_delay, whole, counts, read_before, start_column, source
        )
    return np.where(mask, target_end - source_end, 0.0).sum(axis=1) / block.lengths


_KERNELS: dict[str, Callable[[_Block, SourceType], np.ndarray]] = {
    "AL": lambda block, _: _lagging_rows(block, block.target),
    "LAAL": lambda block, _: _lagging_rows(block, np.maximum(block.lengths, block.target)),
    "AP": lambda block, _: (
        np.cumsum(np.where(block.mask, block.times, 0.0), axis=1)[:, -1]
        / (block.source * block.target)
    ),
    "DAL": lambda block, _: _dal_rows(block),
    "ATD": _atd_rows,
    "StartOffset": lambda block, _: block.times[:, 0],
    "EndOffset": lambda block, _: _last(block) - block.source,
    "RTF": lambda block, _: _last(block) / block.source,
    "NumChunks": lambda block, _: block.lengths.astype(np.float64),
}


def compute_latency(
    inputs: LatencyInputs,
    metrics: Sequence[str] = LATENCY_METRICS,
    *,
    computation_aware: bool = False,
    use_ref_len: bool = True,
) -> dict[str, np.ndarray]:
    """Score every instance of a corpus stream, with SimulEval 1.1.4's definitions.

    Args:
        inputs: the corpus stream (N instances).
        metrics: names from ``LATENCY_METRICS``.
        computation_aware: score ``elapsed`` instead of ``delays`` (SimulEval's ``NAME_CA``:
            AL's shortcut and cut-off are then judged on elapsed); ATD adds compute times.
        use_ref_len: take |Y*| from ``reference_lengths`` where given (SimulEval's default).

    Returns:
        For each metric, (N,) float64 per-instance values, NaN where SimulEval skips the
        instance (no delays, or no elapsed when ``computation_aware``).

    Raises:
        ValueError: for a metric name not in ``LATENCY_METRICS``.
    """
    unknown = [name for name in metrics if name not in _KERNELS]
    if unknown:
        raise ValueError(
            f"`metrics` must be among {', '.join(LATENCY_METRICS)}, but has {unknown} instead."
        )
    flat = inputs._flat
    count = flat.delay_counts.size
    results = {name: np.full(count, np.nan) for name in metrics}
    targets = flat.delay_counts.astype(np.float64)
    if use_ref_len:
        targets = np.where(np.isnan(flat.reference_lengths), targets, flat.reference_lengths)
    delay_starts = np.cumsum(flat.delay_counts) - flat.delay_counts
    elapsed_starts = np.cumsum(flat.elapsed_counts) - flat.elapsed_counts
    scored = np.flatnonzero(flat.elapsed_counts if computation_aware else flat.delay_counts)

    for block_rows in _blocks(flat.delay_counts[scored]):
        rows = scored[block_rows]
        lengths = flat.delay_counts[rows]
        delays = _padded(flat.delays, delay_starts[rows], lengths)
        times, compute = delays, None
        if computation_aware:
            times = _padded(flat.elapsed, elapsed_starts[rows], lengths)
            overhead = times - delays
            compute = overhead - np.concatenate([np.zeros((rows.size, 1)), overhead[:, :-1]], 1)
            compute[~(times != 0).any(axis=1)] = 0.0
        block = _Block(
            lengths=lengths,
            mask=np.arange(delays.shape[1]) < lengths[:, None],
            times=times,
            delays=delays,
            compute=compute,
            source=flat.source_lengths[rows],
            target=targets[rows],
        )
        for name in metrics:
            results[name][rows] = _KERNELS[name](block, inputs.source_type)
    return results

"""Corpus latency scoring, vectorised with numpy; the API is re-exported by ``simul.eval.latency``.

Why vectorised: SimulEval scores every instance in a Python loop over tokens, which takes
seconds on a corpus of tens of thousands of instances.  Here instances of similar output
length form blocks, each block is padded into time-major (L, B) arrays (L output positions, B
instances), and every formula runs down the positions, one vector operation over the B
instances per position.  The floating-point operations are SimulEval's, in its order, so the
results are bit-identical: sums and DAL's recurrence run position by position (like Python's
``+=`` loop).  The one exception is ATD, which can be a few ulp away: SimulEval rounds its mean
per instance once from the exact sum (``statistics.mean``), adds the 300 ms source tokens one
by one where we multiply, and runs the target-time recurrence that we take in closed form.  The
readable per-instance definitions are in ``simul.eval.latency``; the tests check this module
against them and against SimulEval 1.1.4.
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np

from simul.eval.names import LATENCY_METRICS

__all__ = ["LATENCY_METRICS", "LatencyInputs", "compute_latency", "corpus_mean"]

SourceType = Literal["speech", "text"]

#: Every metric ``compute_latency`` knows, in SimulEval's names.

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

    @functools.cached_property
    def _atd_source_ends(self) -> np.ndarray:
        """(sum of delay counts,) ATD's paired source end per output unit, shared by both clocks."""
        return _flat_atd_source_ends(self._flat, self.source_type)


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
    """Instances of similar length, padded to the longest, time-major: L positions x B instances.

    Time-major, so that every recurrence along the output (running sums and maxima, DAL's
    lag) is L vector operations over the B instances.  Padding repeats each instance's last
    value, so no chunk boundary falls in the padding.
    """

    lengths: np.ndarray
    """(B,) number of output units |Y| (int64)."""
    mask: np.ndarray
    """(L, B) True on real units."""
    times: np.ndarray
    """(L, B) the clock being scored: delays, or elapsed when computation-aware."""
    delays: np.ndarray
    """(L, B) delays (ATD's chunks come from them even when computation-aware)."""
    overhead: np.ndarray | None
    """(L, B) compute time so far, ``elapsed - delays`` (0 where an instance's elapsed are all
    0), for ATD; None when not computation-aware."""
    source: np.ndarray
    """(B,) |X|."""
    target: np.ndarray
    """(B,) |Y*|, or |Y| without a reference or with ``use_ref_len`` off (float64)."""
    atd_source_end: np.ndarray | None
    """(L, B) ``_atd_source_ends`` of the block, or None when ATD is not scored."""


#: Cells (positions x instances) per block: its float64 arrays, 256 KiB each, stay in cache.
_BLOCK_CELLS = 32768


def _blocks(lengths: np.ndarray) -> list[np.ndarray]:
    """Positions in blocks of similar length (within a factor 2**0.25: padding wastes <= 19%).

    A block holds about ``_BLOCK_CELLS`` cells; smaller blocks cost more Python calls, larger
    ones leave the CPU cache.
    """
    keys = np.floor(np.log2(np.maximum(lengths, 1)) * 4).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    blocks = []
    for group in np.split(order, np.flatnonzero(np.diff(keys[order])) + 1) if order.size else []:
        rows_per_block = max(1, _BLOCK_CELLS // int(lengths[group].max()))
        blocks.extend(np.split(group, range(rows_per_block, group.size, rows_per_block)))
    return blocks


def _padding_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(L, B) where in a flat array each cell of a block is: its instance's unit, or the last."""
    positions = np.arange(int(lengths.max()))[:, None]
    return starts + np.minimum(positions, lengths - 1)


def _running(op: np.ufunc, values: np.ndarray) -> np.ndarray:
    """(L, B) the running ``op`` (``np.add``, ``np.maximum``) of ``values`` down the positions.

    One vector operation per position, in order: ``np.add`` rounds as Python's ``+=`` loop
    does.  (numpy's ``ufunc.accumulate`` gives the same values but runs element by element,
    about 10 times slower here.)
    """
    out = np.empty_like(values)
    out[0] = values[0]
    for position in range(1, values.shape[0]):
        op(out[position - 1], values[position], out=out[position])
    return out


def _total(values: np.ndarray) -> np.ndarray:
    """(B,) the sum down the positions of (L, B) ``values``, in order (SimulEval's ``+=``).

    Explicitly sequential: ``values.sum(axis=0)`` may pair the terms (pairwise summation)
    depending on the block's shape, which rounds differently, so that an instance would not
    score the same in every batch.
    """
    total = values[0].copy()
    for row in values[1:]:
        total += row
    return total


def _last(block: _Block) -> np.ndarray:
    return block.times[block.lengths - 1, np.arange(block.lengths.size)]


def _lagging_rows(block: _Block, oracle_length: np.ndarray) -> np.ndarray:
    """AL with the given oracle length, per instance (see ``average_lagging``).

    SimulEval's shortcut (d_1 > |X| gives d_1) needs no branch: the cut-off then has tau = 1,
    and d_1 - 0 / gamma is d_1.
    """
    source = block.source
    gamma = oracle_length / source
    positions = np.arange(block.times.shape[0])[:, None]
    reached = block.mask & (block.times >= source)
    tau = np.where(reached.any(axis=0), reached.argmax(axis=0) + 1, block.lengths)
    # (finite terms times a mask: the same sum as np.where(..., 0.0), faster)
    return _total((block.times - positions / gamma) * (positions < tau)) / tau


def _dal_rows(block: _Block) -> np.ndarray:
    """DAL per instance (see ``differentiable_average_lagging``).

    The recurrence g'_i = max(d_i, g'_{i-1} + 1/gamma) runs position by position: a closed
    form would round differently.
    """
    times = block.times
    gamma = block.lengths / block.source
    step = 1 / gamma
    lagged = np.empty_like(times)
    lagged[0] = times[0]
    for position in range(1, times.shape[0]):
        np.add(lagged[position - 1], step, out=lagged[position])
        np.maximum(times[position], lagged[position], out=lagged[position])
    positions = np.arange(times.shape[0])[:, None]
    return _total((lagged - positions / gamma) * block.mask) / block.lengths


def _divmod_token_ms(span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Python's ``divmod(span, 300.0)`` for ``span >= 0``, elementwise, 20 times faster.

    Exact: a quotient below an integer k cannot round up to k, as 300 k - span >= ulp(span)
    >= 256 ulp(k); and ``span - 300 q`` is exact (Sterbenz: 300 q <= span < 2 * 300 q).
    """
    whole = np.floor(span / SPEECH_SOURCE_TOKEN_MS)
    return whole, span - whole * SPEECH_SOURCE_TOKEN_MS


def _target_ends(block: _Block, token_length: float) -> np.ndarray:
    """(L, B) ATD's target token end times: ``end_t = max(d_t, end_{t-1}) + length + c_t``.

    With P_t = t * length + overhead_t (t 1-based: the running sum of length + compute time),
    the recurrence is ``end_t = P_t + max_{j <= t} (d_j - P_{j-1})``: one running maximum.
    Exact for text without compute times (whole numbers), within a few ulp otherwise.
    """
    delays = block.delays
    if block.overhead is None and token_length == 0:
        return delays  # end_t = max(d_t, end_{t-1}) = d_t, as delays never decrease
    ran = np.arange(1, delays.shape[0] + 1)[:, None] * token_length
    ran = ran + block.overhead if block.overhead is not None else np.broadcast_to(ran, delays.shape)
    before = np.concatenate([np.zeros((1, delays.shape[1])), ran[:-1]])
    return _running(np.maximum, delays - before) + ran


def _atd_source_ends(delays: np.ndarray, source_type: SourceType) -> np.ndarray:
    """(L, B) for ATD, the end time of the source token paired with each target token.

    It depends on the delays only, not on the clock, so ``LatencyInputs`` computes it once for
    both.  Target token t (position t - 1) of chunk k: AccY is the chunk's first position, AccX
    the source tokens read before the chunk, ``read`` those read up to it; its source token is
    ``s = min(t - max(0, AccY - AccX), read)``.  Chunk values never decrease, so a running
    maximum spreads them over the chunk.  When ``t > max(AccY, AccX)``, s lies in the token's
    own chunk; otherwise ``s = t <= AccX`` lies in an earlier one, found by writing each
    chunk's first position at its first source token and spreading it forward.  Speech source
    token p of a chunk ends at ``min(prev + 300 p, d)`` (prev: the delay before the chunk,
    d: the chunk's); SimulEval adds the 300 ms one by one, which is the same number whenever
    the sums are exact (delays in whole ms or 16 kHz samples), and a few ulp away otherwise.

    Args:
        delays: (L, B) padded delays (padding repeats the last delay: no chunk starts there).
        source_type: ``"text"`` (unit-length source tokens) or ``"speech"`` (300 ms tokens).
    """
    width, size = delays.shape
    positions = np.arange(width)[:, None]
    previous_delay = np.concatenate([np.zeros((1, size)), delays[:-1]])
    # Every chunk reads some source; padding and a first delay of 0 start none.
    chunk_start = delays != previous_delay
    span = delays - previous_delay  # source read since the previous chunk; 0 off chunk starts
    if source_type == "text":
        counts = span.astype(np.int64)
    else:
        whole, rest = _divmod_token_ms(span)
        counts = whole.astype(np.int64) + (rest != 0)
    read = _running(np.add, counts)  # source tokens up to and including this chunk
    # (x * chunk_start: x at chunk starts, else 0; much faster than np.where on such masks)
    start = _running(np.maximum, positions * chunk_start)  # AccY
    read_before = _running(np.maximum, (read - counts) * chunk_start)  # AccX
    offset = positions + 1 - np.maximum(start, read_before)  # t - max(AccY, AccX)
    own = read_before + np.minimum(offset, read - read_before)  # s, when offset > 0
    if source_type == "text":  # unit-length tokens end at their index
        return np.where(offset > 0, own, positions + 1).astype(np.float64)
    chunk_previous = _running(np.maximum, previous_delay * chunk_start)
    inside = np.minimum(chunk_previous + (own - read_before) * SPEECH_SOURCE_TOKEN_MS, delays)
    # Source token t <= L of an earlier chunk: that chunk's first position, by token.
    first_token = np.where(chunk_start & (read_before < width), read_before, width)
    holder = np.zeros((width + 1, size), dtype=np.int64)  # the last row takes the rest
    np.put_along_axis(holder, first_token, np.broadcast_to(positions, (width, size)), axis=0)
    found = _running(np.maximum, holder[:width]) * size + np.arange(size)  # flat index
    earlier = np.minimum(
        chunk_previous.ravel()[found]
        + (positions + 1 - read_before.ravel()[found]) * SPEECH_SOURCE_TOKEN_MS,
        delays.ravel()[found],
    )
    return np.where(offset > 0, inside, earlier)


def _flat_atd_source_ends(flat: _Flat, source_type: SourceType) -> np.ndarray:
    """``_atd_source_ends`` of every instance, flat like ``flat.delays``."""
    ends = np.zeros_like(flat.delays)
    starts = np.cumsum(flat.delay_counts) - flat.delay_counts
    written = np.flatnonzero(flat.delay_counts)
    for block_rows in _blocks(flat.delay_counts[written]):
        rows = written[block_rows]
        lengths = flat.delay_counts[rows]
        index = _padding_index(starts[rows], lengths)
        real = np.arange(index.shape[0])[:, None] < lengths
        ends[index[real]] = _atd_source_ends(flat.delays[index], source_type)[real]
    return ends


def _atd_rows(block: _Block, source_type: SourceType) -> np.ndarray:
    """ATD per instance (see ``average_token_delay``): mean of target end - paired source end."""
    target_end = _target_ends(block, 1.0 if source_type == "text" else 0.0)
    return _total((target_end - block.atd_source_end) * block.mask) / block.lengths


_KERNELS: dict[str, Callable[[_Block, SourceType], np.ndarray]] = {
    "AL": lambda block, _: _lagging_rows(block, block.target),
    "LAAL": lambda block, _: _lagging_rows(block, np.maximum(block.lengths, block.target)),
    "AP": lambda block, _: _total(block.times * block.mask) / (block.source * block.target),
    "DAL": lambda block, _: _dal_rows(block),
    "ATD": _atd_rows,
    "StartOffset": lambda block, _: block.times[0],
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
        index = _padding_index(delay_starts[rows], lengths)
        delays = flat.delays[index]
        times, overhead = delays, None
        if computation_aware:
            times = flat.elapsed[index + (elapsed_starts - delay_starts)[rows]]
            overhead = (times - delays) * (times != 0).any(axis=0)
        block = _Block(
            lengths=lengths,
            mask=np.arange(delays.shape[0])[:, None] < lengths,
            times=times,
            delays=delays,
            overhead=overhead,
            source=flat.source_lengths[rows],
            target=targets[rows],
            atd_source_end=inputs._atd_source_ends[index] if "ATD" in metrics else None,
        )
        for name in metrics:
            results[name][rows] = _KERNELS[name](block, inputs.source_type)
    return results

"""One instance's timeline: when each output word was written, against the source, per stream.

Why: a corpus LAAL hides where the lag comes from (a slow start, a stall at a reordering, a burst
at the end).  For one instance of an ``instances.log`` (read by
:func:`simul.eval.log_io.read_instances_log`), :func:`word_timeline` lists every word with its
delay (ms of source read when it was written), its computation-aware elapsed time, and LAAL's
ideal delay ``d*_i = (i - 1) * |X| / max(|Y|, |Y*|)`` (|X| the source length in ms, |Y| the output
words, |Y*| the reference's), so ``lag = delay - ideal`` is what LAAL averages (up to the first
word written after the whole source).  :func:`plot_timeline` draws it: one panel per stream
(a joint model writes ``asr`` and ``st``), words up, source time across, the ideal writer as the
diagonal from the origin.

Limits: speech input with word-unit delays (``simul eval``'s and SimulEval's default); a log
scored in characters or sentencepiece pieces is refused with its instance named.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simul.eval.latency import reference_length
from simul.eval.records import InstanceOutput
from simul.eval.scoring import ScoringConfig, score

__all__ = ["find_instance", "plot_timeline", "word_timeline"]

#: Above this many words a panel's y axis shows numbers instead of the words.
_MAX_WORD_TICKS = 40


def find_instance(instances: Sequence[InstanceOutput], index: int | None = None) -> InstanceOutput:
    """The instance whose ``index`` is ``index`` (``None``: the first one).

    Raises:
        ValueError: no instances, or none with that index (the error gives the range there is).
    """
    if not instances:
        raise ValueError("`instances` must hold at least one instance, but is empty.")
    if index is None:
        return instances[0]
    for instance in instances:
        if instance.index == index:
            return instance
    indices = sorted(instance.index for instance in instances)
    raise ValueError(
        f"`index` must be one of the log's {len(indices)} instance indices ({indices[0]}..{indices[-1]}), "
        f"but is {index!r} instead."
    )


def word_timeline(instance: InstanceOutput) -> pd.DataFrame:
    """Every written word of every stream of ``instance`` with its times (see the module doc).

    Returns:
        One row per word, streams in the instance's order: ``stream``, ``position`` (1-based),
        ``word``, ``delay_ms``, ``elapsed_ms`` (NaN when the log has no elapsed times),
        ``ideal_ms`` (LAAL's d*_i) and ``lag_ms`` (``delay_ms - ideal_ms``).

    Raises:
        ValueError: naming the instance, for text input or for delays that are not one per word.
    """
    if instance.source_type != "speech":
        raise ValueError(
            f"{instance.where}: the timeline needs speech input (delays in ms), but the source is "
            f"{instance.source_type}."
        )
    rows = []
    for name, stream in instance.streams.items():
        words = stream.prediction.split()
        if len(words) != len(stream.delays):
            raise ValueError(
                f"{instance.where}: stream `{name}` has {len(stream.delays)} delays for {len(words)} "
                "words; the timeline reads word-unit logs (simul eval's and SimulEval's default)."
            )
        reference = (
            len(words) if stream.reference is None else reference_length(stream.reference, "word")
        )
        ideal_step_ms = instance.source_length / max(len(words), reference, 1)
        elapsed = stream.elapsed or (np.nan,) * len(words)
        for position, (word, delay, wall) in enumerate(
            zip(words, stream.delays, elapsed, strict=True)
        ):
            ideal = position * ideal_step_ms
            rows.append({
                "stream": name, "position": position + 1, "word": word, "delay_ms": float(delay),
                "elapsed_ms": float(wall), "ideal_ms": ideal, "lag_ms": float(delay) - ideal,
            })  # fmt: skip
    columns = ["stream", "position", "word", "delay_ms", "elapsed_ms", "ideal_ms", "lag_ms"]
    return pd.DataFrame(rows, columns=columns)


def _stream_laal(instance: InstanceOutput) -> pd.DataFrame:
    """The instance's LAAL (and LAAL_CA when it has elapsed times) per stream, by the scorer."""
    aware = any(stream.elapsed for stream in instance.streams.values())
    config = ScoringConfig(latency_metrics=("LAAL",), quality_metrics=(), computation_aware=aware)
    return score([instance], config).instances.set_index("stream")


def plot_timeline(instance: InstanceOutput) -> Figure:
    """One panel per stream: the words as they were written, against the source time.

    Each panel has the words up (1 at the bottom), time across in ms: the delays (source read
    when a word was written) as a staircase, the computation-aware elapsed times as a second one,
    LAAL's ideal writer as the dashed diagonal through ``(d*_i, i)``, and the end of the source
    as a vertical line.  The title gives the stream's LAAL (and LAAL_CA) on this instance.
    """
    timeline = word_timeline(instance)
    laal = _stream_laal(instance)
    names = list(instance.streams)
    figure = Figure(figsize=(9, 3.6 * len(names)), layout="constrained")
    axes = figure.subplots(len(names), 1, squeeze=False, sharex=True)[:, 0]
    for plot, name in zip(axes, names, strict=True):
        words = timeline[timeline["stream"] == name]
        stream = instance.streams[name]
        title = f"instance {instance.index}, stream {name}: {len(words)} words"
        if stream.reference is not None:
            title += f" (reference {reference_length(stream.reference, 'word')})"
        if name in laal.index and not words.empty:
            title += f", LAAL {laal.loc[name, 'LAAL']:.0f} ms"
            if "LAAL_CA" in laal and pd.notna(laal.loc[name, "LAAL_CA"]):
                title += f", LAAL_CA {laal.loc[name, 'LAAL_CA']:.0f} ms"
        if not words.empty:
            plot.step(words["delay_ms"], words["position"], where="post", marker="o", markersize=4,
                      label="delay (source read)")  # fmt: skip
            if words["elapsed_ms"].notna().all():
                plot.step(words["elapsed_ms"], words["position"], where="post", marker=".", alpha=0.8,
                          label="elapsed (computation-aware)")  # fmt: skip
            plot.plot(words["ideal_ms"], words["position"], linestyle="--", color="gray",
                      label="ideal writer (LAAL's d*)")  # fmt: skip
            if len(words) <= _MAX_WORD_TICKS:
                plot.set_yticks(words["position"].tolist(), words["word"].tolist(), fontsize=7)
        plot.axvline(instance.source_length, color="black", linewidth=1, label="end of source")
        plot.set_ylabel("word written")
        plot.set_title(title, fontsize=10)
        plot.grid(alpha=0.3)
        plot.legend(fontsize=7, loc="lower right")
    axes[-1].set_xlabel("time (ms of source)")
    return figure

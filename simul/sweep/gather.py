"""Gather a sweep's finished runs into one table (TSV and Markdown) and one plot (PNG).

One row per (run, output stream): the curve's label, the policy, the varied parameters' values,
the segment size, every quality and latency column of the run's ``scores.json`` (``*_CA`` for
computation-aware latency), its wall time and the ``simul eval`` command that reproduces it; the
oracle's rows have latency only: the exact oracle (label ``oracle``) and the oracle at each of the
grid's segment sizes (label ``oracle @ 320 ms``, every delay rounded up to a segment's end).  Only the runs of the current grid are gathered (a run directory
left from an older grid is ignored), in grid order; unfinished runs are absent.

The plot draws the quality metric against each latency axis (``latency_axes``), plain and, when
scored, computation-aware: one line per curve and segment size through its points (labelled by
their varied values), a single marker for a one-point entry (a transducer's native operating
point), the oracle's latency as a dashed vertical line and the segment-size oracles' as dotted ones.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from simul.analysis.curves import ORACLE_LABEL, latency_values, plot_latency_quality
from simul.eval.report import NO_OUTPUT, is_latency_column, wrote_nothing
from simul.io import atomic_write_bytes, atomic_write_text
from simul.sweep.config import SweepConfig, expand
from simul.sweep.runner import ORACLE_DIR, RUNS_DIR, finished_result

__all__ = ["ORACLE_LABEL", "gather", "markdown_table", "plot_curves", "write_outputs"]


def gather(config: SweepConfig) -> pd.DataFrame:
    """The table of the finished runs of ``config`` (see the module doc); empty if none."""
    output = Path(config.output_dir)
    rows: list[dict[str, Any]] = []
    for spec in expand(config):
        result = finished_result(output / RUNS_DIR / spec.run_id, spec)
        if result is None:
            continue
        varied = ", ".join(f"{name}={value}" for name, value in spec.varied.items())
        for stream, scores in result["scores"].items():
            rows.append({
                "label": spec.label, "policy": spec.policy, "varied": varied,
                **{f"param.{name}": value for name, value in spec.varied.items()},
                "segment_ms": spec.segment_ms, "stream": stream, **scores,
                "wall_seconds": result["wall_seconds"], "run_id": spec.run_id, "command": result["command"],
            })  # fmt: skip
    if config.oracle.enabled:
        oracle = finished_result(output / ORACLE_DIR)
        if oracle is not None:
            for stream, scores in oracle["scores"].items():
                rows.append(
                    {"label": ORACLE_LABEL, "policy": ORACLE_LABEL, "stream": stream, **scores}
                )
            for size, streams in oracle.get("segment_scores", {}).items():
                for stream, scores in streams.items():
                    rows.append({"label": f"{ORACLE_LABEL} @ {size} ms", "policy": ORACLE_LABEL,
                                 "segment_ms": int(size), "stream": stream, **scores})  # fmt: skip
    table = pd.DataFrame(rows)
    if "segment_ms" in table:
        table["segment_ms"] = table["segment_ms"].astype("Int64")  # the oracle's is missing
    return table


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown_table(table: pd.DataFrame, columns: list[str]) -> str:
    """A Markdown table of ``columns`` (those present), numbers with 2 decimals.

    A run whose instances wrote nothing shows ``no output`` in its latency cells (its quality
    is scored, against empty hypotheses); other missing values are ``–``.
    """
    present = [c for c in columns if c in table.columns]
    lines = ["| " + " | ".join(present) + " |", "|" + "|".join("---" for _ in present) + "|"]
    for _, row in table.iterrows():
        empty = row.get("policy") != ORACLE_LABEL and wrote_nothing(row)
        cells = [NO_OUTPUT if empty and is_latency_column(c) else _cell(row[c]) for c in present]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(table: pd.DataFrame, config: SweepConfig) -> Figure:
    """Quality against each latency axis, plain and computation-aware (see the module doc).

    The curves are :func:`simul.analysis.plot_latency_quality`'s; the oracle line is the oracle
    row's latency.
    """
    curves = table[table["policy"] != ORACLE_LABEL] if "policy" in table else table
    oracle = table[table["label"] == ORACLE_LABEL] if "label" in table else table.iloc[:0]
    segment_oracles = table[(table["policy"] == ORACLE_LABEL) & (table["label"] != ORACLE_LABEL)] \
        if "policy" in table else table.iloc[:0]  # fmt: skip
    if not oracle.empty:  # the same stream as the exact oracle's line
        segment_oracles = segment_oracles[segment_oracles["stream"] == oracle.iloc[0]["stream"]]
    return plot_latency_quality(
        curves, quality=config.quality_metric, latency_axes=config.latency_axes,
        computation_aware=config.computation_aware, title=config.name,
        oracle=latency_values(oracle.iloc[0]) if not oracle.empty else None,
        segment_oracles={int(row["segment_ms"]): latency_values(row.drop("segment_ms"))
                         for _, row in segment_oracles.iterrows()},
    )  # fmt: skip


def write_outputs(config: SweepConfig, table: pd.DataFrame) -> list[Path]:
    """Write ``results.tsv``, ``results.md`` and ``curves.png`` into the sweep's directory, atomically."""
    output = Path(config.output_dir)
    buffer = io.StringIO()
    table.to_csv(buffer, sep="\t", index=False, float_format="%.6g")
    paths = [output / "results.tsv", output / "results.md", output / "curves.png"]
    atomic_write_text(paths[0], buffer.getvalue())
    quality_columns = [c for c in ("BLEU", "chrF") if c in table.columns]
    latency = [f"{m}{v}" for m in config.latency_metrics for v in ("", "_CA")]
    columns = [
        "label",
        "varied",
        "segment_ms",
        "stream",
        *quality_columns,
        *latency,
        "wall_seconds",
    ]
    atomic_write_text(paths[1], markdown_table(table, columns))
    image = io.BytesIO()
    plot_curves(table, config).savefig(image, format="png", dpi=110)
    atomic_write_bytes(paths[2], image.getvalue())
    return paths

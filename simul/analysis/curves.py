"""Latency–quality curves: the runs' scores as one table, their Pareto front, and the plot.

Why here: a sweep's table (:func:`simul.sweep.gather`) and a handful of ``simul eval`` or
``simul score`` output directories (:func:`read_runs`) are the same kind of table, one row per
(run, output stream), so one plot (:func:`plot_latency_quality`, which ``simul sweep`` draws
into ``curves.png``) and one Pareto front serve both, in the notebooks and in the sweep.

The table's columns: ``label`` (the curve), ``policy``, ``varied`` (the parameters that tell
the curve's points apart, ``"k=3"``), ``param.NAME`` (their values), ``segment_ms``, ``stream``,
then every quality and latency column of the run's scores (``NAME_CA``: computation-aware).
The oracle's rows have ``label`` :data:`ORACLE_LABEL` and latency only.

Quality per stream: the first of :func:`simul.eval.scoring.default_quality_metrics` that the
table holds (WER on ``asr``, BLEU on a translation stream).  WER, CER and TER are better lower.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simul.eval.scoring import default_quality_metrics

__all__ = [
    "LOWER_IS_BETTER",
    "ORACLE_LABEL",
    "latency_values",
    "oracle_latency",
    "pareto_front",
    "pareto_table",
    "plot_latency_quality",
    "plot_streams",
    "read_runs",
    "read_scores",
    "stream_quality_metric",
]

#: The label of the oracle's rows.
ORACLE_LABEL = "oracle"

#: Quality metrics where a smaller value is better.
LOWER_IS_BETTER = frozenset({"WER", "CER", "TER"})

_SCORES_FILE = "scores.tsv"
_FULL_SCORES_FILE = "corpus_scores.tsv"
_PROVENANCE_FILE = "scores.json"


def read_scores(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One run's corpus scores and provenance (``simul eval``/``score``/``data oracle``'s files).

    The full-precision ``corpus_scores.tsv`` and the provenance of ``scores.json``; a run written
    before those existed has them in ``scores.tsv``, after ``# KEY: JSON`` header lines.

    Args:
        path: the run's output directory (``simul score``'s is ``LOG_DIR/simul-scores``), or
            one of its score files.

    Returns:
        The table, one row per stream (column ``stream``), and the provenance
        (``{"inputs": {...}, "scoring": {...}, ...}``).

    Raises:
        FileNotFoundError: no score file there.
        ValueError: a file that is not simul's (SimulEval's own ``scores.tsv`` has no stream).
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    full = directory / _FULL_SCORES_FILE
    if full.is_file():
        table = pd.read_csv(full, sep="\t")
        document = directory / _PROVENANCE_FILE
        provenance = (
            json.loads(document.read_text(encoding="utf-8"))["provenance"]
            if document.is_file()
            else {}
        )
        path = full
    else:
        path = directory / _SCORES_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"no {_SCORES_FILE} at {path}; give a `simul eval` or `simul score` output directory."
            )
        table, provenance = _read_commented_scores(path)
    if "stream" not in table.columns:
        raise ValueError(
            f"{path} must have a `stream` column (simul's scores), but has {list(table.columns)}; "
            "for SimulEval's own scores.tsv, score its log with `simul score`."
        )
    return table, provenance


def _read_commented_scores(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A ``scores.tsv`` as simul wrote it before ``corpus_scores.tsv``: ``# KEY: JSON`` lines, then
    the full-precision table."""
    provenance: dict[str, Any] = {}
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.startswith("# "):
                break
            key, separator, value = line[2:].partition(": ")
            try:
                if not separator:
                    raise ValueError("no `: `")
                provenance[key] = json.loads(value)
            except ValueError:  # json.JSONDecodeError too
                raise ValueError(
                    f"{path}:{line_number}: a header line must be `# KEY: JSON`, but is {line.strip()!r}."
                ) from None
    return pd.read_csv(path, sep="\t", comment="#"), provenance


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _model_name(description: Mapping[str, Any]) -> str | None:
    name = description.get("checkpoint") or description.get("model")
    return None if name is None else str(name)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _differing(run: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of ``run`` (but ``segment_ms``) whose value differs in one of ``others``."""
    return {
        key: value for key, value in run["parameters"].items()
        if key != "segment_ms" and any(json.dumps(o["parameters"].get(key)) != json.dumps(value) for o in others)
    }  # fmt: skip


def read_runs(directories: Sequence[Path], *, oracle: Path | None = None) -> pd.DataFrame:
    """The table (see the module doc) of ``simul eval`` / ``simul score`` output directories.

    The curves come from the runs' provenance: the runs of one policy and one model whose policy
    parameters differ only in numbers form one curve, ``label`` the policy name followed by the
    settings that tell it from the policy's other curves (``monotonic, source_step=last``), and
    the model when the runs come from several.  Its points differ by the numbers in ``varied``
    (``threshold=0.5``).  A ``simul score`` directory records no policy: its label is the run's
    directory name, a single point.

    Args:
        directories: the runs' output directories, in the order of the table's rows.
        oracle: a ``simul data oracle`` output directory, whose rows get label ``oracle``.

    Raises:
        FileNotFoundError, ValueError: from :func:`read_scores`, naming the file.
    """
    runs = []
    for directory in directories:
        table, provenance = read_scores(directory)
        inputs = provenance.get("inputs") or {}
        policy = inputs.get("policy") if isinstance(inputs.get("policy"), Mapping) else None
        name = Path(directory).name
        if name == "simul-scores":  # simul score's default output: name the run's directory
            name = Path(directory).resolve().parent.name
        runs.append({
            "directory": str(directory), "table": table, "name": name,
            "policy": None if policy is None else str(policy.get("name")),
            "parameters": {} if policy is None else _flat(policy.get("parameters") or {}),
            "segment_ms": inputs.get("segment_ms"), "target_lang": inputs.get("target_lang"),
            "model": _model_name(inputs.get("model") or {}),
        })  # fmt: skip
    several_models = len({run["model"] for run in runs if run["policy"] is not None}) > 1
    for run in runs:  # the curve: policy, model, and the settings that are not numbers
        run["label"], run["curve"] = run["name"], None
        if run["policy"] is None:
            continue
        differing = _differing(
            run, [o for o in runs if (o["policy"], o["model"]) == (run["policy"], run["model"])]
        )
        settings = {key: value for key, value in differing.items() if not _is_number(value)}
        run["curve"] = (run["policy"], run["model"], json.dumps(settings, sort_keys=True))
        run["label"] = ", ".join(
            [run["policy"], *(f"{key}={value}" for key, value in settings.items())]
        )
        if several_models:
            run["label"] += f" ({run['model']})"
    rows: list[dict[str, Any]] = []
    for run in runs:
        varied = {}
        if run["curve"] is not None:  # its points: the numbers that differ along the curve
            varied = _differing(run, [other for other in runs if other["curve"] == run["curve"]])
        for scores in run["table"].to_dict(orient="records"):
            rows.append({
                "label": run["label"], "policy": run["policy"],
                "varied": ", ".join(f"{key}={value}" for key, value in varied.items()),
                **{f"param.{key}": value for key, value in varied.items()},
                "segment_ms": run["segment_ms"], **scores, "target_lang": run["target_lang"],
                "model": run["model"], "run_dir": run["directory"],
            })  # fmt: skip
    if oracle is not None:
        table, _ = read_scores(oracle)
        for scores in table.to_dict(orient="records"):
            rows.append(
                {"label": ORACLE_LABEL, "policy": ORACLE_LABEL, **scores, "run_dir": str(oracle)}
            )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["segment_ms"] = table["segment_ms"].astype("Int64")
    return table


def stream_quality_metric(table: pd.DataFrame, stream: str) -> str | None:
    """The quality column plotted for ``stream``: the first default metric with a value, or None."""
    rows = table[table["stream"] == stream]
    for metric in default_quality_metrics(stream):
        if metric in rows and rows[metric].notna().any():
            return metric
    return None


def oracle_latency(
    table: pd.DataFrame, stream: str, *, oracle_lang: str | None = None
) -> dict[str, float]:
    """The oracle's latency values (``{"LAAL": ...}``) for ``stream``, or ``{}`` without an oracle.

    The oracle's translation streams are named by language (``de``; the transcript's is
    ``asr``): the one of the ``st`` stream is ``oracle_lang``, or, without it, the oracle's only
    translation stream when it has one.
    """
    if "label" not in table:
        return {}
    oracle = table[table["label"] == ORACLE_LABEL]
    rows = oracle[oracle["stream"] == stream]
    if rows.empty and stream == "st":
        if oracle_lang is not None:
            rows = oracle[oracle["stream"] == oracle_lang]
        else:
            translations = oracle[oracle["stream"] != "asr"]
            rows = translations if translations["stream"].nunique() == 1 else rows
    return {} if rows.empty else latency_values(rows.iloc[0])


def latency_values(row: pd.Series) -> dict[str, float]:
    """The numeric, present values of one row of the table, but its instance count."""
    return {
        str(column): float(value) for column, value in row.items()
        if column != "num_instances" and isinstance(value, (int, float, np.number))
        and not isinstance(value, bool) and not pd.isna(value)
    }  # fmt: skip


def pareto_front(
    latency: Sequence[float], quality: Sequence[float], *, higher_is_better: bool = True
) -> np.ndarray:
    """Which points no other point beats: lower or equal latency and better or equal quality,
    strictly better in one of the two.

    Args:
        latency: (N,) latency of each point.
        quality: (N,) quality of each point.
        higher_is_better: ``False`` for WER-like quality.

    Returns:
        (N,) bool; points with a NaN coordinate are never on the front (and beat none).
    """
    x = np.asarray(latency, dtype=np.float64)
    y = np.asarray(quality, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"`latency` and `quality` must be 1-D of one length, but have shapes {x.shape} and {y.shape}."
        )
    if not higher_is_better:
        y = -y
    valid = np.isfinite(x) & np.isfinite(y)
    xv, yv = x[valid][None, :], y[valid][None, :]  # (1, M): the others
    beaten = (
        (xv <= x[:, None]) & (yv >= y[:, None]) & ((xv < x[:, None]) | (yv > y[:, None]))
    ).any(axis=1)
    return valid & ~beaten


def pareto_table(
    table: pd.DataFrame, latency_axes: Sequence[str] = ("LAAL", "LAAL_CA")
) -> pd.DataFrame:
    """``table`` with a bool column ``pareto_AXIS`` per latency axis present (per stream, over all
    curves, against the stream's quality metric; the oracle's rows are never on it)."""
    result = table.copy()
    points = result["label"] != ORACLE_LABEL
    for axis in latency_axes:
        if axis not in result:
            continue
        column = pd.Series(False, index=result.index)
        for stream in result.loc[points, "stream"].unique():
            quality = stream_quality_metric(result[points], stream)
            rows = points & (result["stream"] == stream)
            if quality is None:
                continue
            front = pareto_front(
                result.loc[rows, axis].to_numpy(dtype=float), result.loc[rows, quality].to_numpy(dtype=float),
                higher_is_better=quality not in LOWER_IS_BETTER,
            )  # fmt: skip
            column[rows] = front
        result[f"pareto_{axis}"] = column
    return result


def _instances_note(points: pd.DataFrame) -> str:
    """`` (50 instances)`` for the title: a reader must know how many utterances a point averages."""
    if "num_instances" not in points or points["num_instances"].dropna().empty:
        return ""
    counts = sorted({int(n) for n in points["num_instances"].dropna()})
    shown = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f" ({shown} instances)"


def _no_data_note(points: pd.DataFrame, x_name: str, quality: str) -> str:
    """What an empty panel says: no run at all, or runs without a latency (they wrote nothing)."""
    if points.empty:
        return "no data: no finished run"
    if x_name not in points or quality not in points:
        return f"no data: the runs have no {x_name if x_name not in points else quality} column"
    if points[x_name].isna().all():
        return f"no data: none of the {len(points)} runs wrote any output\n(no {x_name} to plot)"
    return f"no data: no run has both {x_name} and {quality}"


def plot_latency_quality(
    points: pd.DataFrame,
    *,
    quality: str,
    latency_axes: Sequence[str] = ("LAAL", "AL"),
    computation_aware: bool = True,
    oracle: Mapping[str, float] | None = None,
    segment_oracles: Mapping[int, Mapping[str, float]] | None = None,
    title: str = "",
) -> Figure:
    """Quality against each latency axis, plain and (with ``computation_aware``) ``_CA``.

    One subplot per axis and variant: one line per (``label``, ``segment_ms``) through its
    points, sorted by latency and annotated with their varied value, a star for a one-point
    curve, the oracle's latency on that axis as a dashed vertical line, and the oracle at each
    segment size (every delay rounded up to a segment's end: the floor of that segment size's
    curves) as a dotted one.

    Args:
        points: the curves' rows (no oracle row), columns as in the module doc.
        quality: the y column (``BLEU``, ``WER``, ...).
        latency_axes: the x columns' plain names.
        computation_aware: also draw each axis's ``_CA`` column.
        oracle: the oracle's latency by column name (:func:`oracle_latency`).
        segment_oracles: the segment-size oracles' latencies, by segment size in ms.
        title: the plot's name, at the start of each subplot's title.
    """
    oracle = oracle or {}
    segment_oracles = segment_oracles or {}
    variants = [""] + (["_CA"] if computation_aware else [])
    axes_names = [(axis, variant) for axis in latency_axes for variant in variants]
    columns = len(variants)
    rows = math.ceil(len(axes_names) / columns)
    figure = Figure(figsize=(6.5 * columns, 4.8 * rows), layout="constrained")
    groups = ["label", "segment_ms"] if "segment_ms" in points else ["label"]
    if "label" not in points:  # an empty table
        points = pd.DataFrame(columns=groups)
    for index, (axis, variant) in enumerate(axes_names):
        plot = figure.add_subplot(rows, columns, index + 1)
        x_name = f"{axis}{variant}"
        drawn = curve = 0
        for key, group in points.groupby(groups, sort=False, dropna=False):
            label, segment_ms = (key[0], key[1]) if len(groups) == 2 else (key[0], None)
            if x_name not in group or quality not in group:
                continue
            group = group.dropna(subset=[x_name, quality]).sort_values(x_name)
            if group.empty:
                continue
            drawn += len(group)
            name = (
                label
                if segment_ms is None or pd.isna(segment_ms)
                else f"{label} ({int(segment_ms)} ms)"
            )
            if len(group) == 1:
                (line,) = plot.plot(
                    group[x_name],
                    group[quality],
                    marker="*",
                    markersize=14,
                    linestyle="none",
                    label=name,
                )
            else:
                (line,) = plot.plot(group[x_name], group[quality], marker="o", label=name)
            # Labels name the parameter ("k=3") in the curve's colour; alternate curves put theirs
            # above-left and below-right of the points, so two close curves' labels do not overlap.
            above = curve % 2 == 0
            curve += 1
            for _, point in group.iterrows():
                varied = point.get("varied")
                if isinstance(varied, str) and varied:
                    plot.annotate(varied, (point[x_name], point[quality]), textcoords="offset points",
                                  xytext=(-4, 5) if above else (4, -11), ha="right" if above else "left",
                                  fontsize=7, color=line.get_color())  # fmt: skip
        if axis in oracle:
            plot.axvline(oracle[axis], color="gray", linestyle="--", label=f"oracle {axis}")
        for segment_ms, values in sorted(segment_oracles.items()):
            if axis in values:
                plot.axvline(values[axis], color="gray", linestyle=":",
                             label=f"oracle {axis}, {segment_ms} ms segments")  # fmt: skip
                # which dotted line is which, on the line itself
                plot.text(values[axis], 0.99, f" {segment_ms} ms", transform=plot.get_xaxis_transform(),
                          rotation=90, va="top", ha="right", fontsize=7, color="gray")  # fmt: skip
        if drawn == 0:  # an empty panel must not pass for a plot whose points fell off its axes
            plot.text(0.5, 0.5, _no_data_note(points, x_name, quality), transform=plot.transAxes,
                      ha="center", va="center", fontsize=11, color="tab:red", wrap=True)  # fmt: skip
        kind = "computation-aware" if variant else "non computation-aware"
        plot.margins(x=0.08, y=0.08)  # an oracle line at the smallest latency stays off the spine
        plot.set_xlabel(f"{x_name} (ms)")
        plot.set_ylabel(quality)
        heading = (
            f"{title}: {quality} vs {axis}, {kind}" if title else f"{quality} vs {axis}, {kind}"
        )
        plot.set_title(heading + _instances_note(points), fontsize=10)
        plot.grid(alpha=0.3)
        if plot.get_legend_handles_labels()[0]:
            plot.legend(fontsize=7)
    return figure


def plot_streams(
    table: pd.DataFrame,
    *,
    latency_axes: Sequence[str] = ("LAAL",),
    oracle_lang: str | None = None,
    title: str = "",
) -> dict[str, Figure]:
    """One :func:`plot_latency_quality` figure per output stream that has a quality metric.

    Computation-aware subplots are drawn when the table has ``AXIS_CA`` columns; the oracle line
    of each stream is :func:`oracle_latency`'s.
    """
    points = table[table["label"] != ORACLE_LABEL]
    figures = {}
    for stream in points["stream"].unique():
        rows = points[points["stream"] == stream]
        quality = stream_quality_metric(rows, stream)
        if quality is None:
            continue
        aware = any(
            f"{axis}_CA" in rows and rows[f"{axis}_CA"].notna().any() for axis in latency_axes
        )
        figures[stream] = plot_latency_quality(
            rows, quality=quality, latency_axes=latency_axes, computation_aware=aware,
            oracle=oracle_latency(table, stream, oracle_lang=oracle_lang),
            title=f"{title} {stream}".strip(),
        )  # fmt: skip
    return figures

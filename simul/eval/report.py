"""Write scores to disk with their provenance, and format them for a terminal.

Files (all written atomically, and only after every score was computed, so a failed run leaves
nothing partial behind):
- ``scores.tsv``: the corpus table, one row per stream, rounded to 3 decimals as SimulEval's
  ``scores.tsv`` is, and nothing else in the file, so ``pandas.read_csv(path, sep="\\t")`` reads it
  as SimulEval users read SimulEval's (simul's has a ``stream`` column first: one row per stream);
- ``corpus_scores.tsv``: the same table at full precision (``%.17g``);
- ``instance_scores.tsv``: per (instance, stream) values, full precision;
- ``scores.json``: the corpus table, metric signatures, settings and provenance in one object
  (the provenance lives only here: comment lines in a TSV break the readers' habits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from simul.eval.names import LATENCY_METRICS
from simul.eval.scoring import Scores
from simul.io import atomic_write_text
from simul.provenance import provenance

__all__ = [
    "DISPLAY_DECIMALS",
    "NO_OUTPUT",
    "format_scores",
    "is_latency_column",
    "scores_provenance",
    "wrote_nothing",
    "write_scores",
]

#: What a table shows in the latency cells of a row whose instances wrote nothing.
NO_OUTPUT = "no output"


def is_latency_column(name: str) -> bool:
    """Whether ``name`` is a latency metric's column, plain or computation-aware (``AL_CA``)."""
    return name.removesuffix("_CA") in LATENCY_METRICS


def wrote_nothing(row: Mapping[str, Any]) -> bool:
    """Whether a scores row has latency columns and every one is missing.

    Latency is averaged over the instances that wrote something (as SimulEval does), so all its
    columns are missing exactly when no instance wrote a word: an untrained model, or a policy
    that never writes.  A table must say so, not show an empty cell that reads as "not scored".
    """
    values = [value for name, value in row.items() if is_latency_column(str(name))]
    return bool(values) and all(value is None or value != value for value in values)


def scores_provenance(scores: Scores, **inputs: Any) -> dict[str, Any]:
    """Provenance of a scoring run: software, scoring settings, signatures and ``inputs``."""
    return provenance(scoring=scores.config.as_dict(), signatures=scores.signatures, inputs=inputs)


#: Decimals of ``scores.tsv``, SimulEval's (``round(value, 3)``).
DISPLAY_DECIMALS = 3


def _cells(values: pd.Series, decimals: int | None = None) -> list[str]:
    """One column as ``to_csv(sep="\\t", float_format="%.17g")`` writes it (NaN: empty); with
    ``decimals``, each float as ``round(value, decimals)`` prints (SimulEval's ``54.809``)."""
    if values.dtype.kind == "f":
        if decimals is not None:
            return [
                "" if value != value else repr(round(value, decimals)) for value in values.tolist()
            ]
        return ["" if value != value else f"{value:.17g}" for value in values.tolist()]
    if values.dtype.kind in "iub":
        return list(map(str, values.tolist()))
    cells = []
    for value in values.tolist():
        text = "" if value is None or value != value else str(value)
        if any(c in text for c in '\t"\n\r'):  # the csv module's minimal quoting
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return cells


def _table_text(frame: pd.DataFrame, decimals: int | None = None) -> str:
    """``frame.to_csv(sep="\\t", index=False, float_format="%.17g")``'s text, 10x faster.

    Why our own: pandas formats the 20,000-row per-instance table cell by cell through its
    generic formatters (0.3 s, a fifth of ``simul score``); ``tests/test_report_tsv.py`` checks
    that the text is the same.  ``decimals`` rounds the floats instead (see :func:`_cells`).
    """
    columns = [_cells(frame[name], decimals) for name in frame.columns]
    header = "\t".join(_cells(pd.Series(list(map(str, frame.columns)), dtype=object)))
    return "".join(line + "\n" for line in (header, *map("\t".join, zip(*columns, strict=True))))


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_scores(directory: Path, scores: Scores, **inputs: Any) -> list[Path]:
    """Write ``scores.tsv``, ``corpus_scores.tsv``, ``instance_scores.tsv`` and ``scores.json``
    into ``directory`` (see the module doc)."""
    directory = Path(directory)
    header = scores_provenance(scores, **inputs)
    corpus = {
        stream: {metric: _json_number(value) for metric, value in row.items()}
        for stream, row in scores.corpus.to_dict(orient="index").items()
    }
    documents = {
        directory / "scores.tsv": _table_text(scores.corpus.reset_index(), DISPLAY_DECIMALS),
        directory / "corpus_scores.tsv": _table_text(scores.corpus.reset_index()),
        directory / "instance_scores.tsv": _table_text(scores.instances),
        directory / "scores.json": json.dumps({"corpus": corpus, "provenance": header}, indent=2)
        + "\n",
    }
    for path, text in documents.items():
        atomic_write_text(path, text)
    return list(documents)


def format_scores(scores: Scores, decimals: int = 3) -> str:
    """The corpus table as aligned text, rounded like SimulEval's report (3 decimals).

    A stream whose instances wrote nothing shows ``no output`` in its latency columns.
    """
    table = scores.corpus.reset_index()
    table["num_instances"] = table["num_instances"].astype(int)
    empty = [position for position, row in table.iterrows() if wrote_nothing(row)]
    if not empty:  # pandas' own layout (its numbers keep room for a sign), as SimulEval's report
        return table.to_string(index=False, float_format=lambda x: f"{x:.{decimals}f}", na_rep="-")

    def cell(value: Any) -> Any:
        return f"{value:.{decimals}f}" if isinstance(value, float) and value == value else value

    text = pd.DataFrame(
        {name: [cell(value) for value in table[name].tolist()] for name in table.columns},
        dtype=object,
    )
    for position in empty:
        for name in table.columns:
            if is_latency_column(str(name)):
                text.at[position, name] = NO_OUTPUT
    return text.to_string(index=False, na_rep="-")

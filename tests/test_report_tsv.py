"""The score tables simul writes are the text pandas' ``to_csv`` would write (issue 16 speed-up)."""

from __future__ import annotations

import io
import math

import pandas as pd

from simul.eval.report import _table_text


def test_table_text_equals_pandas_to_csv() -> None:
    frame = pd.DataFrame(
        {
            "index": [0, 1, 2],
            "stream": ["main", 'a"b', "tab\there"],
            "BLEU": [1 / 3, math.nan, 100.0],
            "AL": [1e-300, -0.0, math.inf],
            "flag": [True, False, True],
            "NumChunks": [3.0, 4.0, 5.0],
        }
    )
    expected = io.StringIO()
    frame.to_csv(expected, sep="\t", index=False, float_format="%.17g")
    assert _table_text(frame) == expected.getvalue()
    corpus = frame.set_index("stream")
    expected = io.StringIO()
    corpus.to_csv(expected, sep="\t", index=True, float_format="%.17g")
    assert _table_text(corpus.reset_index()) == expected.getvalue()

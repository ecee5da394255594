"""The example SimulEval runs shipped in data/examples/: simul's scores equal SimulEval's own.

Each example is a real ``simuleval`` 1.1.4 run (``data/examples/make_simuleval_examples.py``)
with the scores SimulEval printed and saved.  simul, scoring the same ``instances.log``, must give
the same numbers to SimulEval's 3 decimals, except where simul deliberately differs:

- ``--computation-aware`` (SimulEval issue 44): SimulEval's plain columns are then
  computation-aware too; simul's ``NAME_CA`` equal SimulEval's, and simul's plain columns stay
  plain (equal to SimulEval's run without the flag);
- text-input ATD: scoring a log, SimulEval takes the speech constants (300 ms source tokens,
  0-length target tokens); simul takes the text ones, as SimulEval does on live text instances.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from simul.eval.log_io import read_instances_log
from simul.eval.scoring import ScoringConfig, score

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
SPEECH = EXAMPLES / "simuleval_speech"
TEXT = EXAMPLES / "simuleval_text"

logging.getLogger("simuleval").setLevel(logging.ERROR)


def _simuleval_scores(directory: Path) -> dict[str, float]:
    """SimulEval's own scores.tsv (one row, rounded to 3 decimals by SimulEval)."""
    row = pd.read_csv(directory / "scores.tsv", sep="\t").iloc[0]
    return {name: float(value) for name, value in row.items()}


def _simul_scores(directory: Path, metrics: list[str], computation_aware: bool = False) -> dict:
    latency = tuple(name for name in metrics if name != "BLEU" and not name.endswith("_CA"))
    config = ScoringConfig(
        latency_metrics=latency, quality_metrics=("BLEU",), computation_aware=computation_aware
    )
    (row,) = score(read_instances_log(directory), config).corpus.to_dict(orient="index").values()
    return row


def test_speech_example_equals_simuleval_scores_tsv() -> None:
    theirs = _simuleval_scores(SPEECH)
    ours = _simul_scores(SPEECH, list(theirs))
    assert len(theirs) == 10  # BLEU and nine latency metrics
    for name, value in theirs.items():
        assert round(ours[name], 3) == value, name


def test_speech_example_computation_aware_equals_simuleval_but_keeps_plain_columns() -> None:
    """SimulEval issue 44, on the shipped run: its plain columns repeat the _CA ones; ours do not."""
    header, values = (SPEECH / "score_only_computation_aware.txt").read_text().splitlines()
    printed = dict(zip(header.split(), map(float, values.split()[1:]), strict=True))
    ours = _simul_scores(SPEECH, list(printed), computation_aware=True)
    plain = _simuleval_scores(SPEECH)  # SimulEval without --computation-aware
    latency = [name for name in plain if name != "BLEU"]
    for name in latency:
        assert round(ours[f"{name}_CA"], 3) == printed[f"{name}_CA"], name
        assert printed[name] == printed[f"{name}_CA"], name  # the bug, as shipped
        assert round(ours[name], 3) == plain[name], name
    # The example is slow enough (wall clock) for the bug to show in at least one column.
    assert any(printed[name] != plain[name] for name in latency)


def test_text_example_equals_simuleval_except_log_atd() -> None:
    theirs = _simuleval_scores(TEXT)
    ours = _simul_scores(TEXT, list(theirs))
    for name, value in theirs.items():
        if name != "ATD":
            assert round(ours[name], 3) == value, name
    assert theirs["ATD"] == 0.0  # speech constants on text delays
    assert ours["ATD"] == pytest.approx(_simuleval_live_text_atd(TEXT), rel=1e-12)
    assert ours["ATD"] > 0


def _simuleval_live_text_atd(directory: Path) -> float:
    """SimulEval's ATD on live text-to-text instances rebuilt from the log (text constants)."""
    from simuleval.evaluator.instance import TextToTextInstance
    from simuleval.evaluator.scorers.latency_scorer import ATDScorer

    instances = {}
    for line in (directory / "instances.log").read_text().splitlines():
        record = json.loads(line)
        instance = TextToTextInstance(record["index"], None, None)
        instance.latency_unit = "word"
        instance.source = record["source"].split()
        instance.reference = record["reference"]
        instance.delays = record["delays"]
        instance.elapsed = record["elapsed"]
        instances[record["index"]] = instance
    return float(ATDScorer()(instances))


@pytest.mark.slow
def test_the_examples_regenerate_exactly_but_for_wall_clock_times(tmp_path: Path) -> None:
    """The script and agent still reproduce the shipped logs (first instances), bar `elapsed`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_examples", EXAMPLES / "make_simuleval_examples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "work").mkdir()
    module.make(tmp_path / "work", tmp_path / "out", speech_segments=2, text_segments=2)
    for name in ("simuleval_speech", "simuleval_text"):
        fresh = (tmp_path / "out" / name / "instances.log").read_text().splitlines()
        shipped = (EXAMPLES / name / "instances.log").read_text().splitlines()[: len(fresh)]
        assert len(fresh) == 2
        for new, old in zip(map(json.loads, fresh), map(json.loads, shipped), strict=True):
            if name == "simuleval_speech":
                assert len(new.pop("elapsed")) == len(old.pop("elapsed"))
            assert new == old

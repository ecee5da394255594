"""Scores broken down by construction: each row is the harness's score of that subset."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simul.analysis.phenomena import read_phenomena, scores_by_phenomenon
from simul.eval.log_io import write_instances_log
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.scoring import ScoringConfig, score

CONFIG = ScoringConfig(latency_metrics=("LAAL", "AL"), quality_metrics=("BLEU",))
PHENOMENA = {
    "a": frozenset({"subordinate", "plural"}),
    "b": frozenset({"plural"}),
    "c": frozenset({"separable_verb"}),
    "d": frozenset(),
}


def _record(
    index: int, instance_id: str, prediction: str, reference: str, lag_ms: float
) -> InstanceOutput:
    words = prediction.split()
    stream = StreamOutput(
        prediction=prediction,
        delays=tuple(lag_ms + 300.0 * k for k in range(len(words))),
        elapsed=(),
        reference=reference,
    )
    return InstanceOutput(index=index, source_type="speech", source_length=3000.0,
                          streams={"st": stream}, extra={"id": instance_id}, origin=f"test {instance_id}")  # fmt: skip


RECORDS = [
    _record(0, "a", "der Hund die Katze sieht", "der Hund die Katze sieht", 1500.0),
    _record(1, "b", "die Hunde laufen", "die Hunde laufen schnell", 200.0),
    _record(2, "c", "er ruft an", "er ruft sie an", 900.0),
    _record(3, "d", "ja gut", "ja gut", 100.0),
]


def test_each_row_is_the_score_of_its_subset(tmp_path: Path) -> None:
    table = scores_by_phenomenon(RECORDS, PHENOMENA, CONFIG)
    assert list(table["phenomenon"]) == [
        "(all)", "(no reordering)", "plural", "separable_verb", "subordinate",
    ]  # fmt: skip
    rows = table.set_index("phenomenon")
    expected = {
        "(all)": RECORDS, "(no reordering)": [RECORDS[1], RECORDS[3]],
        "plural": RECORDS[:2], "separable_verb": [RECORDS[2]], "subordinate": [RECORDS[0]],
    }  # fmt: skip
    for name, members in expected.items():
        corpus = score(members, CONFIG).corpus.loc["st"]
        assert rows.loc[name, "num_instances"] == len(members)
        for column in ("BLEU", "LAAL", "AL"):
            assert rows.loc[name, column] == pytest.approx(corpus[column])
    # the same from the run's directory
    write_instances_log(tmp_path / "run", RECORDS)
    pd.testing.assert_frame_equal(scores_by_phenomenon(tmp_path / "run", PHENOMENA, CONFIG), table)
    assert scores_by_phenomenon(RECORDS, PHENOMENA, CONFIG, min_instances=2)["phenomenon"].tolist() == [
        "(all)", "(no reordering)", "plural",
    ]  # fmt: skip


def test_unknown_ids_and_bad_corpus_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="instance 'd' must be in the corpus"):
        scores_by_phenomenon(RECORDS, {k: v for k, v in PHENOMENA.items() if k != "d"}, CONFIG)
    txt = tmp_path / "test" / "txt"
    txt.mkdir(parents=True)
    (txt / "test.jsonl").write_text(
        json.dumps({"id": "a", "phenomena": ["plural"]}) + "\n" + json.dumps({"id": "b"}) + "\n"
    )
    with pytest.raises(ValueError, match=r"test\.jsonl:2: .*phenomena"):
        read_phenomena(tmp_path, "test")
    (txt / "test.jsonl").write_text(json.dumps({"id": "a", "phenomena": ["plural"]}) + "\n")
    assert read_phenomena(tmp_path, "test") == {"a": frozenset({"plural"})}
    with pytest.raises(FileNotFoundError, match="simul data synth"):
        read_phenomena(tmp_path, "dev")

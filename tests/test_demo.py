"""``simul demo``: the whole platform on the tiny built-in corpus, resumable stage by stage."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from simul.cli.demo import parse_waitk
from simul.cli.main import build_parser
from simul.data.oracle import transcript_oracle_outputs
from simul.data.readers.mustc import read_mustc
from simul.demo import STAGES, DemoConfig, run_demo
from simul.eval.log_io import read_instances_log
from simul.eval.scoring import ScoringConfig, score

NUM_TEST = 3
TRAIN = ("trainer.max_steps=3", "trainer.num_threads=1")


def _config(tmp_path: Path, *overrides: str) -> DemoConfig:
    return DemoConfig(
        out_dir=tmp_path / "out", size="tiny", corpus_dir=tmp_path / "corpus",
        overrides=(*TRAIN, *overrides), max_instances=NUM_TEST, jobs=1, progress=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_demo_runs_every_stage_then_skips_them_and_resumes_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    threads = torch.get_num_threads()
    first = run_demo(_config(tmp_path))
    assert first.skipped == ()
    assert torch.get_num_threads() == threads  # training and evaluation set their own
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    assert json.loads((corpus / "manifest.json").read_text())["size"] == "tiny"
    assert not (tmp_path / "corpus.partial").exists()
    for path in (corpus / "spm_asr128.model", corpus / "cmvn.npz", out / "demo.json",
                 out / "corpus.json", out / "train" / "checkpoints" / "best.pt",
                 out / "train" / "finished.json", out / "eval" / "oracle" / "instances.log"):  # fmt: skip
        assert path.is_file(), path
    assert json.loads((out / "train" / "finished.json").read_text())["step"] == 3
    runs = sorted((out / "eval" / "runs").iterdir())
    assert [run.name.rsplit("-", 1)[0] for run in runs] == [
        "native-320ms", "wait-k-k2-320ms", "wait-k-k4-320ms",
    ]  # fmt: skip
    for run in runs:
        assert len(read_instances_log(run)) == NUM_TEST
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    table = pd.read_csv(out / "results.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert list(table["policy"]) == ["transducer", "waitk", "waitk", "oracle", "oracle"]
    assert list(table["params"].fillna("")) == ["", "k=2", "k=4", "", ""]
    assert set(table["stream"]) == {"asr"}
    systems, oracle, segment_oracle = table.iloc[:3], table.iloc[3], table.iloc[4]
    # the floor of 320 ms segments: every oracle delay rounded up to a segment's end
    assert segment_oracle["segment_ms"] == 320 and segment_oracle["LAAL"] >= oracle["LAAL"]
    assert (systems["num_instances"] == NUM_TEST).all()
    assert systems["WER"].notna().all() and math.isnan(oracle["WER"])
    # The policies only delay what the search emits: the same words, later for a larger k.
    assert systems["WER"].nunique() == 1
    assert systems["LAAL"].iloc[1] <= systems["LAAL"].iloc[2]
    # Computation-aware latency adds the compute time to each delay.
    assert (systems["LAAL_CA"] >= systems["LAAL"]).all()
    # The oracle is the transcript's (each word when it ends) on the same instances.
    instances = read_mustc(corpus, "test", tgt_langs=[])[:NUM_TEST]
    floor = score(
        transcript_oracle_outputs(instances),
        ScoringConfig(latency_metrics=("LAAL",), quality_metrics=()),
    ).corpus.loc["asr", "LAAL"]
    assert oracle["LAAL"] == pytest.approx(floor) and floor > 0
    assert math.isnan(oracle["LAAL_CA"])
    markdown = (out / "results.md").read_text()
    assert markdown == first.markdown and len(markdown.splitlines()) == 2 + 5
    assert "| LAAL_CA |" in markdown.splitlines()[0]

    # Again: every stage is skipped, and the table is the same.
    tsv = (out / "results.tsv").read_bytes()
    caplog.clear()
    second = run_demo(_config(tmp_path))
    assert second.skipped == STAGES
    assert sum("skip" in record.getMessage() for record in caplog.records) >= len(STAGES)
    pd.testing.assert_frame_equal(second.table, first.table)
    assert (out / "results.tsv").read_bytes() == tsv

    # A longer run resumes training from the last checkpoint and evaluates the new model.
    caplog.clear()
    third = run_demo(_config(tmp_path, "trainer.max_steps=5"))
    assert third.skipped == ("corpus", "vocabulary", "cmvn", "oracle")
    assert any("resumed from" in record.getMessage() for record in caplog.records)
    assert json.loads((out / "train" / "finished.json").read_text())["step"] == 5
    assert len(list((out / "eval").glob("checkpoint-*.pt"))) == 1
    assert len(list((out / "eval" / "runs").iterdir())) == 6  # the older runs are kept, unused
    assert set(third.table["run_id"].dropna()).isdisjoint(first.table["run_id"].dropna())


def test_a_bad_out_dir_or_recipe_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="must be a directory"):
        run_demo(DemoConfig(out_dir=a_file, size="tiny", corpus_dir=tmp_path / "c"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files"):
        run_demo(DemoConfig(out_dir=other, size="tiny", corpus_dir=tmp_path / "c"))
    fresh = _config(tmp_path, "trainer.no_such_key=1")
    with pytest.raises(ValueError, match="no_such_key"):
        run_demo(fresh)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        run_demo(DemoConfig(out_dir=tmp_path / "out", config=tmp_path / "missing.yaml"))
    aed = Path(__file__).resolve().parents[1] / "experiments" / "st_aed_tiny.yaml"
    with pytest.raises(ValueError, match="transducer"):
        run_demo(DemoConfig(out_dir=tmp_path / "out", size="tiny", config=aed,
                            corpus_dir=tmp_path / "c", overrides=TRAIN))  # fmt: skip
    assert not (tmp_path / "out").exists() and not (tmp_path / "c").exists()


def test_a_corpus_dir_that_is_not_the_demo_corpus_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    (foreign / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match="complete corpus .* or empty"):
        run_demo(DemoConfig(out_dir=tmp_path / "a", size="tiny", corpus_dir=foreign))
    assert list(foreign.iterdir()) == [foreign / "train"]  # untouched
    small = tmp_path / "small"
    small.mkdir()
    (small / "manifest.json").write_text(
        json.dumps({"command": "simul data synth", "size": "small"})
    )
    with pytest.raises(ValueError, match="--size tiny"):
        run_demo(DemoConfig(out_dir=tmp_path / "b", size="tiny", corpus_dir=small))


def test_demo_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="`size`"):
        DemoConfig(out_dir=Path("x"), size="full")
    with pytest.raises(ValueError, match=r"`waitk\[1\]` must be an int >= 1"):
        DemoConfig(out_dir=Path("x"), waitk=(2, 0))
    with pytest.raises(ValueError, match="distinct"):
        DemoConfig(out_dir=Path("x"), waitk=(2, 2))
    with pytest.raises(ValueError, match="`max_instances`"):
        DemoConfig(out_dir=Path("x"), max_instances=0)
    assert DemoConfig(out_dir=Path("x")).corpus == Path("data/built/synth-small")


def test_the_command_line_parses_into_the_demo_settings() -> None:
    assert parse_waitk("2,4") == (2, 4)
    assert parse_waitk(" 3 ") == (3,)
    assert parse_waitk("") == ()
    with pytest.raises(argparse.ArgumentTypeError, match="integers separated by commas"):
        parse_waitk("two")
    args = build_parser().parse_args(
        ["demo", "runs/demo", "--size", "tiny", "--set", "trainer.max_steps=3", "--waitk", "1,3",
         "--max-instances", "3"]
    )  # fmt: skip
    assert (args.command, args.out_dir, args.size) == ("demo", Path("runs/demo"), "tiny")
    assert (args.overrides, args.waitk, args.max_instances, args.threads) == (
        ["trainer.max_steps=3"], (1, 3), 3, 1,
    )  # fmt: skip


def test_an_installed_simul_without_the_recipes_says_to_run_from_a_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install .` ships no experiments/: the demo must say so, not fail on a missing path."""
    from simul.demo import prepare

    size = prepare.DEMO_SIZES["tiny"]
    monkeypatch.setitem(
        prepare.DEMO_SIZES, "tiny", dataclasses.replace(size, recipe=tmp_path / "asr_tt_tiny.yaml")
    )
    with pytest.raises(FileNotFoundError, match=r"runs from a clone of the repository .* --config"):
        run_demo(DemoConfig(out_dir=tmp_path / "out", size="tiny", corpus_dir=tmp_path / "c"))
    assert not (tmp_path / "out").exists()

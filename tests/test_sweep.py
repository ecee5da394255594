"""Sweeps on the toy model: grid expansion, runs as simul eval, resume after an interrupt, gathering."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from simul.cli import sweep as sweep_cli
from simul.data.corpus_writer import write_instances
from simul.data.instance import Instance, WordSpan
from simul.sweep import expand, gather, load_sweep_config, markdown_table, run_sweep, write_outputs
from simul.sweep.config import DataSection, GridEntry, ModelSection, SweepConfig
from simul.sweep.runner import RESULT_FILE, RUNS_DIR, eval_arguments, execute_run
from simul.sweep.status import PointState, sweep_status

SR = 16_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A MuST-C split of three noise utterances whose references are the toy model's output,
    with gold word times and alignments (for the oracle)."""
    root = tmp_path_factory.mktemp("corpus")
    split_dir = root / "test"
    (split_dir / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    instances = []
    for index, seconds in enumerate((1.3, 2.0, 0.7)):
        path = split_dir / "wav" / f"talk{index}.wav"
        num_samples = int(seconds * SR)
        soundfile.write(
            path, (0.1 * rng.standard_normal(num_samples)).astype(np.float32), SR, subtype="PCM_16"
        )
        num_words = int(seconds * 1000) // 280  # the toy writes one word per 280 ms
        words = tuple(WordSpan(f"s{j}", j * 280 * 16, (j + 1) * 280 * 16) for j in range(num_words))
        instances.append(Instance(
            id=f"talk{index}_0", audio_path=path, offset_samples=0, num_samples=num_samples, sample_rate=SR,
            source_text=" ".join(w.word for w in words), target_texts={"de": " ".join(f"w{j}-1" for j in range(num_words))},
            speaker_id="spk", source_words=words, alignments={"de": tuple((j, j) for j in range(num_words))},
        ))  # fmt: skip
    write_instances(split_dir, "test", instances, ("de",))
    return root


def _write_config(path: Path, corpus: Path, output: Path, **extra) -> Path:
    config = {
        "name": "toy", "output_dir": str(output), "workers": 0, "computation_aware": True,
        "data": {"dir": str(corpus), "split": "test", "tgt_lang": "de"},
        "model": {"toy": True},
        "oracle": {"enabled": True, "lang": "de"},
        "grid": [
            {"label": "wait-k", "policy": "waitk", "segment_ms": [320], "vary": {"k": [1, 3]}},
            {"label": "AlignAtt", "policy": "alignatt", "segment_ms": [280, 560], "vary": {"frames": [2]},
             "fixed": {"attention": {"layer": 2}}},
        ],
        **extra,
    }  # fmt: skip
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def test_a_grid_expands_to_the_product_of_segments_and_values():
    config = SweepConfig(
        output_dir="out", data=DataSection(dir="d"), model=ModelSection(toy=True),
        grid=[
            GridEntry(label="a", policy="edatt", segment_ms=[320, 800],
                      vary={"alpha": [0.1, 0.2, 0.4], "attention.layer": [2, 3]},
                      fixed={"frames": 2, "attention": {"normalization": "l2"}}),
            GridEntry(label="b", policy="waitk"),
        ],
    )  # fmt: skip
    runs = expand(config)
    assert len(runs) == 2 * 3 * 2 + 1
    first = runs[0]
    assert first.parameters == {"alpha": 0.1, "frames": 2, "attention": {"normalization": "l2", "layer": 2},
                                "segment_ms": 320}  # fmt: skip
    assert first.varied == {"alpha": 0.1, "attention.layer": 2}
    assert [r.segment_ms for r in runs[:6]] == [320] * 6 and runs[-1].parameters == {
        "segment_ms": 320
    }
    assert len({r.run_id for r in runs}) == len(runs)
    assert first.run_id.startswith("a-alpha0.1-layer2-320ms-")
    assert expand(config)[0].run_id == first.run_id  # stable: resuming finds the same directories
    argv = eval_arguments(first, Path("o"))
    assert 'policy.attention.normalization="l2"' in argv and "policy.alpha=0.1" in argv
    assert (
        argv[argv.index("--segment-ms") + 1] == "320" and "--model" in argv and "--resume" in argv
    )


def test_bad_configs_name_the_problem(tmp_path, corpus):
    path = _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out")
    with pytest.raises(ValueError, match="colour"):
        load_sweep_config(path, ["colour=red"])
    with pytest.raises(ValueError, match="executor"):
        load_sweep_config(path, ["executor=cloud"])
    with pytest.raises(FileNotFoundError):
        load_sweep_config(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="grid"):
        SweepConfig(output_dir="o", data=DataSection(dir="d"), model=ModelSection(toy=True))
    with pytest.raises(ValueError, match="unique"):
        SweepConfig(output_dir="o", model=ModelSection(toy=True),
                    grid=[GridEntry(label="x", policy="waitk"), GridEntry(label="x", policy="edatt")])  # fmt: skip
    with pytest.raises(ValueError, match="exactly one"):
        SweepConfig(output_dir="o", grid=[GridEntry(label="x", policy="waitk")])


class _CountingRun:
    """execute_run, counting calls, optionally interrupted (Ctrl-C) before the n-th run."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.interrupt_at = interrupt_at
        self.calls: list[str] = []

    def __call__(self, spec, output_dir):
        if self.interrupt_at is not None and len(self.calls) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(spec.run_id)
        return execute_run(spec, output_dir)


def _plain_columns(table: pd.DataFrame) -> pd.DataFrame:
    keep = [
        "label",
        "varied",
        "segment_ms",
        "stream",
        "BLEU",
        "chrF",
        "LAAL",
        "AL",
        "AP",
        "DAL",
        "ATD",
    ]
    return table[keep].reset_index(drop=True)


def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(tmp_path, corpus):
    config = load_sweep_config(_write_config(tmp_path / "s.yaml", corpus, tmp_path / "out"))
    runs = expand(config)
    assert len(runs) == 4
    interrupted = _CountingRun(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, run=interrupted)
    assert len(interrupted.calls) == 2
    finished = sorted(p.parent.name for p in (tmp_path / "out" / RUNS_DIR).glob(f"*/{RESULT_FILE}"))
    assert finished == sorted(interrupted.calls)
    resumed = _CountingRun()
    outcome = run_sweep(config, run=resumed)
    assert sorted(outcome.reused) == sorted(interrupted.calls)
    assert sorted(resumed.calls) == sorted(
        r.run_id for r in runs if r.run_id not in interrupted.calls
    )
    assert outcome.failed == {} and outcome.skipped == ()
    again = _CountingRun()
    assert run_sweep(config, run=again).executed == () and again.calls == []

    table = gather(config)
    segment_oracles = [f"oracle @ {size} ms" for size in (280, 320, 560)]  # the grid's sizes
    labels = ["wait-k", "wait-k", "AlignAtt", "AlignAtt", "oracle", *segment_oracles]
    assert list(table["label"]) == labels
    assert table.loc[table["policy"] != "oracle", "BLEU"].tolist() == pytest.approx([100.0] * 4)
    segment_oracle = table[table["label"] == "oracle @ 320 ms"].iloc[0]
    assert segment_oracle["segment_ms"] == 320
    assert segment_oracle["AL"] >= table[table["label"] == "oracle"].iloc[0]["AL"]
    assert {"LAAL_CA", "AL_CA", "command", "run_id"} <= set(table.columns)
    waitk = table[table["label"] == "wait-k"].set_index("param.k")
    assert waitk.loc[3, "AL"] > waitk.loc[1, "AL"]  # waiting longer costs latency
    oracle = table[table["label"] == "oracle"].iloc[0]
    assert oracle["AL"] <= table.loc[table["policy"] != "oracle", "AL"].min()
    # the command of a run reproduces it
    result = json.loads((tmp_path / "out" / RUNS_DIR / runs[0].run_id / RESULT_FILE).read_text())
    assert result["command"].startswith("simul eval ") and "--policy waitk" in result["command"]

    fresh = load_sweep_config(_write_config(tmp_path / "t.yaml", corpus, tmp_path / "fresh"))
    run_sweep(fresh)
    pd.testing.assert_frame_equal(_plain_columns(gather(fresh)), _plain_columns(table))

    paths = write_outputs(config, table)
    assert [p.name for p in paths] == ["results.tsv", "results.md", "curves.png"]
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| wait-k | k=1 | 320 | st |" in paths[1].read_text()
    assert (
        len(pd.read_csv(paths[0], sep="\t")) == 8
    )  # 4 runs, the oracle and 3 segment-size oracles


def test_a_run_without_its_result_file_is_run_again(tmp_path, corpus):
    config = load_sweep_config(
        _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out"), ["oracle.enabled=false"]
    )
    run_sweep(config)
    first = expand(config)[0]
    (tmp_path / "out" / RUNS_DIR / first.run_id / RESULT_FILE).unlink()  # killed before it finished
    again = _CountingRun()
    assert run_sweep(config, run=again).executed == (first.run_id,) and again.calls == [
        first.run_id
    ]


def test_failed_and_optional_entries_do_not_stop_the_others(tmp_path, corpus):
    path = _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out", oracle={"enabled": False}, grid=[
        {"label": "ok", "policy": "waitk", "vary": {"k": [2]}},
        {"label": "broken", "policy": "transducer"},  # the toy model has no transducer
        {"label": "later", "policy": "transducer", "model": {"checkpoint": str(tmp_path / "tt.pt"), "optional": True}},
    ])  # fmt: skip
    config = load_sweep_config(path)
    outcome = run_sweep(config)
    assert len(outcome.executed) == 1 and len(outcome.skipped) == 1
    (message,) = outcome.failed.values()
    assert "needs transducer" in message
    assert list(gather(config)["label"]) == ["ok"]


def test_a_bad_policy_parameter_fails_the_sweep_at_load_naming_the_entry(tmp_path, corpus):
    # It used to fail every run of the grid one by one, each after its model had loaded.
    path = _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out", oracle={"enabled": False}, grid=[
        {"label": "ok", "policy": "waitk", "vary": {"k": [2]}},
        {"label": "typo", "policy": "waitk", "vary": {"kk": [1, 2]}},
    ])  # fmt: skip
    config = load_sweep_config(path)
    ran = _CountingRun()
    with pytest.raises(ValueError, match=r"sweep grid entry 'typo' \(kk=1, segment_ms=320\): .*kk"):
        run_sweep(config, run=ran)
    assert ran.calls == []
    path = _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out", grid=[
        {"label": "zero", "policy": "waitk", "vary": {"k": [3, 0]}},
    ])  # fmt: skip
    with pytest.raises(
        ValueError, match=r"'zero' \(k=0, segment_ms=320\): .*`k` must be an int >= 1"
    ):
        expand(load_sweep_config(path))


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: toy\ngrid:\n  - {label: a, policy: waitk\n")
    with pytest.raises(
        ValueError, match=rf"^sweep config {path}:4:1: not valid YAML: .*\.$"
    ) as error:
        load_sweep_config(path)
    assert "\n" not in str(error.value)


_SLEEPING_RUN = """
import os, time
from pathlib import Path

def run(spec, output_dir):
    (Path(output_dir) / f"worker-{os.getpid()}").touch()
    time.sleep(600)
"""

_SWEEP_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
import sleeping
from simul.sweep import load_sweep_config, run_sweep
run_sweep(load_sweep_config(sys.argv[1]), run=sleeping.run)
"""


@pytest.mark.slow  # two spawned workers import torch
def test_a_killed_sweep_leaves_no_worker_behind(tmp_path, corpus):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "helper").mkdir()
    (tmp_path / "helper" / "sleeping.py").write_text(_SLEEPING_RUN)
    out = tmp_path / "out"
    path = _write_config(tmp_path / "s.yaml", corpus, out, workers=2, oracle={"enabled": False})
    sweep = subprocess.Popen(
        [sys.executable, "-c", _SWEEP_SCRIPT, str(path), str(tmp_path / "helper")],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "helper"), *sys.path])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("worker-*"))) < 2:
            assert time.monotonic() < deadline and sweep.poll() is None, "the workers never started"
            time.sleep(0.2)
        workers = [int(p.name.split("-")[1]) for p in out.glob("worker-*")]
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [pid for pid in workers if _alive(pid)]
        assert alive == [], f"workers {alive} outlived the killed sweep"
    finally:
        sweep.kill()
        for p in out.glob("worker-*"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(p.name.split("-")[1]), signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow  # submitit starts a fresh interpreter per job (seconds of imports)
def test_the_command_runs_gathers_and_can_use_submitits_local_executor(tmp_path, corpus, capsys):
    path = _write_config(tmp_path / "s.yaml", corpus, tmp_path / "out", executor="submitit_local", grid=[
        {"label": "wait-k", "policy": "waitk", "vary": {"k": [2]}},
    ])  # fmt: skip
    parser = argparse.ArgumentParser(prog="simul")
    sweep_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", str(path), "data.max_instances=2"])
    assert args.run(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| label | varied |") and "| wait-k | k=2 |" in printed
    assert (tmp_path / "out" / "submitit").is_dir() and (tmp_path / "out" / "curves.png").is_file()
    table = pd.read_csv(tmp_path / "out" / "results.tsv", sep="\t")
    assert list(table["label"]) == ["wait-k", "oracle", "oracle @ 320 ms"]
    gather_only = parser.parse_args(["sweep", str(path), "data.max_instances=2", "--gather-only"])
    assert gather_only.run(gather_only) == 0


def test_a_run_that_wrote_nothing_says_no_output_in_the_markdown_table():
    table = pd.DataFrame([
        {"label": "wait-k", "policy": "waitk", "stream": "asr", "WER": 100.0, "LAAL": float("nan"), "LAAL_CA": float("nan")},
        {"label": "native", "policy": "transducer", "stream": "asr", "WER": 80.0, "LAAL": 700.0, "LAAL_CA": 750.0},
        {"label": "oracle", "policy": "oracle", "stream": "asr", "WER": float("nan"), "LAAL": 200.0, "LAAL_CA": float("nan")},
    ])  # fmt: skip
    lines = markdown_table(table, ["label", "WER", "LAAL", "LAAL_CA"]).splitlines()
    assert lines[2:] == [
        "| wait-k | 100.00 | no output | no output |",
        "| native | 80.00 | 700.00 | 750.00 |",
        "| oracle | – | 200.00 | – |",
    ]


def test_sweep_status_names_every_point_and_gather_only_fails_when_points_are_missing(
    tmp_path, corpus, capsys
):
    """--gather-only silently left out failed and unfinished points and exited 0; no command said why."""
    grid = [
        {"label": "ok", "policy": "waitk", "vary": {"k": [2]}},
        {"label": "broken", "policy": "transducer"},  # the toy model has no transducer
        {"label": "later", "policy": "transducer", "model": {"checkpoint": str(tmp_path / "tt.pt"), "optional": True}},
    ]  # fmt: skip
    first = _write_config(
        tmp_path / "a.yaml", corpus, tmp_path / "out", oracle={"enabled": False}, grid=grid
    )
    run_sweep(load_sweep_config(first))
    grid[0]["vary"]["k"] = [2, 3, 4]  # k=3 never ran; k=4 was cut off after one instance
    grown = load_sweep_config(_write_config(tmp_path / "b.yaml", corpus, tmp_path / "out",
                                            oracle={"enabled": False}, grid=grid))  # fmt: skip
    cut = next(s for s in expand(grown) if s.varied == {"k": 4})
    (tmp_path / "out" / RUNS_DIR / cut.run_id / ".partial" / "0000000").mkdir(parents=True)
    (
        tmp_path / "out" / RUNS_DIR / cut.run_id / ".partial" / "0000000" / "instances.log"
    ).write_text("{}\n")
    points = sweep_status(grown)
    assert [(p.spec.label, p.spec.varied, p.state) for p in points] == [
        ("ok", {"k": 2}, PointState.FINISHED), ("ok", {"k": 3}, PointState.NOT_STARTED),
        ("ok", {"k": 4}, PointState.PARTIAL), ("broken", {}, PointState.FAILED), ("later", {}, PointState.SKIPPED),
    ]  # fmt: skip
    assert points[2].instances_done == 1 and "needs transducer" in points[3].detail

    parser = argparse.ArgumentParser(prog="simul")
    sweep_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    capsys.readouterr()
    status = parser.parse_args(["sweep", "status", str(tmp_path / "b.yaml")])
    assert status.run(status) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("finished     ok k=2 320 ms  [ok-k2-320ms-")
    assert printed[2].endswith("(1 instances done)") and printed[3].startswith(
        "failed       broken 320 ms"
    )
    assert printed[-1] == "5 points: 1 finished, 1 failed, 1 partial, 1 not started, 1 skipped"
    gather_only = parser.parse_args(["sweep", str(tmp_path / "b.yaml"), "--gather-only"])
    assert gather_only.run(gather_only) == 1


def test_a_long_form_sweep_streams_talks_and_scores_stream_laal(tmp_path, corpus):
    config = SweepConfig(
        output_dir=str(tmp_path / "out"), data=DataSection(dir=str(corpus), tgt_lang="de", long_form=True),
        model=ModelSection(toy=True), clock="real_time",
        grid=[GridEntry(label="wait-k", policy="waitk", vary={"k": [2]})],
    )  # fmt: skip
    (spec,) = expand(config)
    assert "--long-form" in eval_arguments(spec, tmp_path / "run")
    result = execute_run(spec, str(tmp_path / "out"))
    assert "StreamLAAL" in result["scores"]["st"]
    run_dir = tmp_path / "out" / RUNS_DIR / spec.run_id
    assert (run_dir / "segments.yaml").is_file() and (run_dir / "references.st").is_file()
    # a sentence-level sweep's run ids do not change with the new field
    sentence = SweepConfig(output_dir="o", data=DataSection(dir="d"), model=ModelSection(toy=True),
                           grid=[GridEntry(label="a", policy="waitk")])  # fmt: skip
    assert "long_form" not in expand(sentence)[0].data

"""Nothing lost, nothing mixed up: file modes, output-folder locks, eval resume, bad inputs named.

Each test is a case that once went wrong: files written 0600 whatever the umask, two ``simul
eval`` runs into one folder deleting each other's partial results, a rerun silently discarding
finished instances, inputs (YAML, audio, logs, checkpoints) failing with a traceback or without
naming their place, and ``simul score --output`` writing over SimulEval's own ``scores.tsv``.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simul import evaluation
from simul.cli.main import main as simul_main
from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.readers import read_corpus_split
from simul.eval.log_io import read_instances_log
from simul.families.checkpoint import load_checkpoint
from simul.io import DirectoryLockedError, atomic_write_text, lock_directory
from simul.streaming import corpus as streaming_corpus
from simul.train import load_train_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "simuleval_speech"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A SimulEval-list corpus (test split) of three noise wavs with German references."""
    root = tmp_path / "corpus"
    root.mkdir()
    rng = np.random.default_rng(0)
    names = []
    for index, seconds in enumerate((1.3, 2.0, 0.7)):
        names.append(f"utt{index}.wav")
        samples = (0.1 * rng.standard_normal(int(seconds * 16_000))).astype(np.float32)
        soundfile.write(root / names[-1], samples, 16_000, subtype="FLOAT")
    (root / "test.wav_list").write_text("\n".join(names) + "\n")
    (root / "test.de").write_text("a b\nc d\ne f\n")
    return root


def _eval_argv(corpus: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", str(corpus), "--model", "toy", "--policy", "waitk", "--output", str(out),
            "--no-progress", *extra]  # fmt: skip


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- files follow the umask ------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)  # mkstemp made every file 0600, unreadable to a group sharing the folder
    atomic_write_text(tmp_path / "new.txt", "x")
    (tmp_path / "old.txt").write_text("old")
    os.chmod(tmp_path / "old.txt", 0o600)
    atomic_write_text(tmp_path / "old.txt", "replaced")  # the umask, not the old file's mode
    for name in ("new.txt", "old.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_eval_run_writes_group_readable_results(
    corpus: Path, tmp_path: Path, umask: None
) -> None:
    os.umask(0o027)
    out = tmp_path / "out"
    assert simul_main(_eval_argv(corpus, out)) == 0
    for name in ("instances.log", "config.yaml", "scores.tsv", "scores.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name


# -- one run per output folder ---------------------------------------------------------------


def test_a_locked_folder_is_refused_until_its_holder_ends(tmp_path: Path) -> None:
    with lock_directory(tmp_path / "out"):
        with pytest.raises(
            DirectoryLockedError, match=rf"in use by another run \(pid {os.getpid()}\)"
        ):
            with lock_directory(tmp_path / "out"):
                pass
    with lock_directory(tmp_path / "out"):  # released
        pass
    # Another process's lock, then that process killed: the kernel drops the lock.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from simul.io import lock_directory\n"
         "with lock_directory(sys.argv[1]):\n    print('locked', flush=True); time.sleep(600)",
         str(tmp_path / "out")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DirectoryLockedError, match=rf"pid {holder.pid}"):
            with lock_directory(tmp_path / "out"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with lock_directory(tmp_path / "out"):
        pass


def test_two_evals_into_one_folder_refuse_the_second_and_keep_the_first(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    started, release = threading.Event(), threading.Event()
    real = evaluation.simulate_corpus

    def slow_first_run(*args, **kwargs):
        if not started.is_set():
            started.set()
            assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "simulate_corpus", slow_first_run)
    status: list[int] = []
    first = threading.Thread(target=lambda: status.append(simul_main(_eval_argv(corpus, out))))
    first.start()
    try:
        assert started.wait(60)
        # The second run used to delete the first's live .partial folder (OSError, or a mix).
        assert simul_main(_eval_argv(corpus, out, "--set", "policy.k=5")) == 2
        error = capsys.readouterr().err.strip()
        assert error == (
            f"simul eval: error: {out} is in use by another simul eval (pid {os.getpid()}); wait "
            "for it to end or choose another output folder."
        )
    finally:
        release.set()
        first.join(120)
    assert status == [0]
    records = read_instances_log(out)
    assert len(records) == 3
    assert all(len(r.streams["st"].delays) > 0 for r in records)
    assert not (out / streaming_corpus.PARTIAL_DIR).exists()


class _Killed(RuntimeError):
    pass


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Make the loop raise (as a kill would end it) before its ``count + 1``-th instance."""
    real = streaming_corpus.simulate
    calls = []

    def simulate(*args, **kwargs):
        if len(calls) == count:
            raise _Killed("killed")
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(streaming_corpus, "simulate", simulate)


def test_eval_resumes_by_default_and_names_what_changed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        with pytest.raises(_Killed):
            simul_main(_eval_argv(corpus, out, "--set", "policy.k=2"))
    # --resume with other settings: refused, naming the setting.
    assert simul_main(_eval_argv(corpus, out, "--set", "policy.k=3", "--resume")) == 2
    error = capsys.readouterr().err
    assert "changed: policy.parameters.k;" in error and error.count("\n") == 1
    # The same settings without a flag: resumed, the two finished instances kept.
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with caplog.at_level(logging.INFO):
            assert simul_main(_eval_argv(corpus, out, "--set", "policy.k=2")) == 0
    assert "resuming: 2 instances already done" in caplog.text
    assert len(read_instances_log(out)) == 3
    # Other settings without a flag: the unfinished run is replaced, loudly.
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(_Killed):
            simul_main(_eval_argv(corpus, out, "--set", "policy.k=2"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert simul_main(_eval_argv(corpus, out, "--set", "policy.k=4")) == 0
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "discarding 1 finished instances" in warning.getMessage()
    assert "its settings differ: policy.parameters.k" in warning.getMessage()


# -- bad inputs name their place, in one line ------------------------------------------------


def test_non_finite_audio_names_the_instance_in_eval_and_cmvn(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples, rate = soundfile.read(corpus / "utt1.wav", dtype="float32")
    samples[100] = np.nan  # a float wav decodes fine and used to reach CMVN and training
    soundfile.write(corpus / "utt1.wav", samples, rate, subtype="FLOAT")
    assert simul_main(_eval_argv(corpus, tmp_path / "out")) == 2
    error = capsys.readouterr().err
    listed = f"{corpus / 'test.wav_list'}:2"
    assert error.startswith(f"simul eval: error: stopped at instance 1 ('utt1', {listed}) of 3: ")
    assert "sample 100 (of 1 in [0, 32000)) is NaN or infinite" in error
    assert error.count("\n") == 1
    instances = [item.instance for item in read_corpus_split(corpus, "simuleval", "test")]
    with pytest.raises(ValueError, match=r"CMVN stopped at instance 1 \('utt1'\) of 3: .* NaN"):
        compute_cmvn(instances, FbankConfig(), progress=False)


def test_yaml_syntax_errors_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("model:\n  family: transducer\n  preset: [tiny\noptim:\n  lr: 1\n")
    with pytest.raises(
        ValueError,
        match=rf"^training config {config}:4:6: not valid YAML: did not find expected ',' or ']'",
    ):
        load_train_config(config)
    assert simul_main(["train", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"simul train: error: training config {config}:4:6:")
    assert error.count("\n") == 1
    log_dir = tmp_path / "run"
    shutil.copytree(EXAMPLE, log_dir)
    (log_dir / "config.yaml").write_text("source_type: speech\ntarget_type: [speech\n")
    assert simul_main(["score", str(log_dir)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"simul score: error: {log_dir / 'config.yaml'}:3:1: not valid YAML")
    assert error.count("\n") == 1


def test_a_boolean_source_length_is_refused(tmp_path: Path) -> None:
    line = (EXAMPLE / "instances.log").read_text().splitlines()[0]
    log = tmp_path / "instances.log"
    log.write_text(line.replace('"source_length": ', '"source_length": true, "was": ') + "\n")
    with pytest.raises(ValueError, match=rf"{log}:1: `source_length` .* but is True instead"):
        read_instances_log(log, source_type="speech")


def test_a_checkpoint_with_code_is_refused_without_advice_to_run_it(tmp_path: Path) -> None:
    path = tmp_path / "hostile.pt"
    torch.save({"format": "simul-checkpoint", "payload": Path("x")}, path)  # any class
    with pytest.raises(ValueError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path} is not a simul checkpoint: Unsupported global")
    assert "weights_only" not in message and "\n" not in message


# -- simul score never writes over SimulEval's scores ----------------------------------------


def test_score_output_in_the_logs_own_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "run"
    shutil.copytree(EXAMPLE, log_dir)
    theirs = (log_dir / "scores.tsv").read_bytes()
    assert simul_main(["score", str(log_dir), "--output", str(log_dir / ".")]) == 2
    assert "`--output` must not be the log's own folder" in capsys.readouterr().err
    assert (log_dir / "scores.tsv").read_bytes() == theirs
    assert simul_main(["score", str(log_dir), "--output", str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "scores.tsv").is_file()

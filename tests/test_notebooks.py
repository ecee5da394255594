"""The notebooks in notebooks/ run on a tiny sweep of a joint ASR/ST toy model and draw their figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from simul.analysis import read_runs
from simul.data.corpus_writer import write_instances
from simul.data.instance import Instance, WordSpan
from simul.sweep import gather, load_sweep_config, run_sweep
from simul.sweep.runner import ORACLE_DIR, RUNS_DIR

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SR = 16_000
WORD_MS = 280
NUM_SCRIPT_WORDS = 8


def _joint_toy_options() -> dict:
    """A toy that transcribes word j when it ends and translates it one word later."""
    pieces, frames = [], []
    frames_per_word = WORD_MS // 40
    for j in range(NUM_SCRIPT_WORDS):
        pieces += ["<asr>", f"▁s{j}", "<st>", f"▁w{j}"]
        frames += [frames_per_word * (j + 1) - 1] * 2 + [frames_per_word * (j + 2) - 1] * 2
    return {"streams": ["asr", "st"], "pieces": pieces, "frames": frames}


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A finished sweep (wait-k, AlignAtt; oracle) of the joint toy over two noise utterances."""
    root = tmp_path_factory.mktemp("notebooks")
    split_dir = root / "corpus" / "test"
    (split_dir / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    instances = []
    for index, seconds in enumerate((1.3, 2.0)):
        path = split_dir / "wav" / f"talk{index}.wav"
        num_samples = int(seconds * SR)
        soundfile.write(
            path, (0.1 * rng.standard_normal(num_samples)).astype(np.float32), SR, subtype="PCM_16"
        )
        num_words = int(seconds * 1000) // WORD_MS
        words = tuple(
            WordSpan(f"s{j}", j * WORD_MS * 16, (j + 1) * WORD_MS * 16) for j in range(num_words)
        )
        instances.append(Instance(
            id=f"talk{index}_0", audio_path=path, offset_samples=0, num_samples=num_samples, sample_rate=SR,
            source_text=" ".join(w.word for w in words), target_texts={"de": " ".join(f"w{j}" for j in range(num_words))},
            speaker_id="spk", source_words=words, alignments={"de": tuple((j, j) for j in range(num_words))},
        ))  # fmt: skip
    write_instances(split_dir, "test", instances, ("de",))
    config = {
        "name": "toy_joint", "output_dir": str(root / "sweep"), "workers": 0, "computation_aware": True,
        "data": {"dir": str(root / "corpus"), "split": "test", "tgt_lang": "de"},
        "model": {"toy": True, "options": _joint_toy_options()},
        "oracle": {"enabled": True, "lang": "de"},
        "latency_metrics": ["LAAL", "AL"],
        "grid": [
            {"label": "wait-k", "policy": "waitk", "vary": {"k": [1, 3]}},
            {"label": "AlignAtt", "policy": "alignatt", "vary": {"frames": [2, 4]}, "fixed": {"attention": {"layer": 2}}},
        ],
    }  # fmt: skip
    (root / "sweep.yaml").write_text(json.dumps(config))  # JSON is YAML
    outcome = run_sweep(load_sweep_config(root / "sweep.yaml"))
    assert outcome.failed == {} and len(outcome.executed) == 4
    return root / "sweep"


def _execute(name: str, monkeypatch, **environment: str):
    """Run notebooks/NAME in its own directory (as Jupyter does) with ``environment`` set."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    return notebook


def _outputs(notebook, mime: str) -> list[str]:
    return [
        output["data"][mime] for cell in notebook.cells for output in cell.get("outputs", [])
        if mime in output.get("data", {})
    ]  # fmt: skip


def test_the_committed_notebooks_have_no_outputs_and_parameters_first():
    nbformat = pytest.importorskip("nbformat")
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.name for p in paths] == ["instance_timeline.ipynb", "latency_quality.ipynb"]
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.outputs == [] and cell.execution_count is None for cell in code), path
        assert 'os.environ.get("SIMUL_NB_' in code[0].source, path


def test_read_runs_of_the_sweeps_eval_directories_equals_its_gathered_table(sweep_dir):
    gathered = gather(load_sweep_config(sweep_dir / "sweep.yaml", [f"output_dir={sweep_dir}"]))
    runs = sorted((sweep_dir / RUNS_DIR).iterdir())
    table = read_runs(runs, oracle=sweep_dir / ORACLE_DIR)
    key = ["policy", "varied", "stream"]
    columns = ["BLEU", "WER", "LAAL", "LAAL_CA", "AL"]
    expected = gathered.dropna(subset=["varied"]).set_index(key).sort_index()[columns]
    got = table[table["label"] != "oracle"].set_index(key).sort_index()[columns]
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert set(table["label"]) == {"waitk", "alignatt", "oracle"}
    assert set(table["stream"]) == {"asr", "st", "de"}


@pytest.mark.parametrize("source", ["sweep", "runs"])
def test_latency_quality_draws_one_figure_per_stream(sweep_dir, monkeypatch, source):
    if source == "sweep":
        environment = {"SIMUL_NB_SWEEP": str(sweep_dir)}
    else:
        runs = os.pathsep.join(str(p) for p in sorted((sweep_dir / RUNS_DIR).iterdir()))
        environment = {"SIMUL_NB_RUNS": runs, "SIMUL_NB_ORACLE": str(sweep_dir / ORACLE_DIR)}
    notebook = _execute("latency_quality.ipynb", monkeypatch, **environment)
    assert len(_outputs(notebook, "image/png")) == 2  # asr (WER) and st (BLEU)
    tables = _outputs(notebook, "text/html")
    assert any("pareto_LAAL_CA" in html and "WER" in html for html in tables)


def test_instance_timeline_draws_the_streams_of_one_instance(sweep_dir, monkeypatch):
    run = sorted((sweep_dir / RUNS_DIR).iterdir())[0]
    notebook = _execute(
        "instance_timeline.ipynb", monkeypatch, SIMUL_NB_LOG=str(run), SIMUL_NB_INDEX="1"
    )
    assert len(_outputs(notebook, "image/png")) == 1
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert printed.startswith("instance 1: 2000 ms of ") and "  asr: s0 s1" in printed
    (words,) = _outputs(notebook, "text/html")
    assert "lag_ms" in words and "w0" in words

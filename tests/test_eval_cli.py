"""``simul eval``: a test set through the toy model and a policy, logged, scored, with provenance."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from simul.cli import eval as eval_cli
from simul.config import parse_overrides
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.eval.log_io import read_instances_log
from simul.families.checkpoint import Checkpoint, save_checkpoint
from simul.families.transducer import model as presets
from simul.families.transducer.model import Transducer


def _run(argv: list[str]) -> int:
    """Parse ``simul eval ...`` arguments with the real parser and run the command."""
    parser = argparse.ArgumentParser(prog="simul")
    eval_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", *argv])
    return args.run(args)


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
        soundfile.write(root / names[-1], samples, 16_000, subtype="PCM_16")
    (root / "test.wav_list").write_text("\n".join(names) + "\n")
    (root / "test.de").write_text(
        "w0-1 w1-1 w2-1 w3-1\nw0-1 w1-1 w2-1 w3-1 w4-1 w5-1 w6-1\nw0-1 w1-1\n"
    )
    return root


def test_eval_with_the_toy_model_writes_log_scores_and_provenance(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    status = _run([
        str(corpus), "--model", "toy", "--policy", "alignatt", "--set", "policy.frames=2",
        "--set", "policy.attention.layer=2", "--segment-ms", "320", "--output", str(out),
        "--computation-aware", "--latency-metrics", "AL", "LAAL", "StartOffset", "--no-progress",
    ])  # fmt: skip
    assert status == 0
    records = read_instances_log(out)
    assert [r.streams["st"].prediction for r in records] == [
        "w0-1 w1-1 w2-1 w3-1", "w0-1 w1-1 w2-1 w3-1 w4-1 w5-1 w6-1", "w0-1 w1-1",
    ]  # fmt: skip
    assert records[0].streams["st"].delays == (640.0, 960.0, 960.0, 1280.0)
    corpus_scores = pd.read_csv(out / "scores.tsv", sep="\t", index_col="stream")
    assert corpus_scores.loc["st", "chrF"] == pytest.approx(100.0)
    assert {"AL", "AL_CA", "LAAL_CA", "StartOffset"} <= set(corpus_scores.columns)
    provenance = json.loads((out / "scores.json").read_text())["provenance"]
    inputs = provenance["inputs"]
    assert inputs["policy"]["name"] == "alignatt"
    assert inputs["policy"]["parameters"]["frames"] == 2
    assert inputs["policy"]["parameters"]["attention"]["layer"] == 2
    assert inputs["segment_ms"] == 320
    assert inputs["model"]["model"] == "toy"
    assert inputs["data"]["num_instances"] == 3 and inputs["data"]["format"] == "simuleval"
    assert provenance["libraries"]["simuleval"] == "1.1.4"
    assert provenance["scoring"]["computation_aware"] is True


def test_eval_options_select_instances_segments_and_model_settings(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = [
        str(corpus), "--model", "toy", "--policy", "waitk", "--set", "policy.k=2",
        "--set", "model.ms_per_word=320", "--set", "model.pieces_per_word=1",
        "--set", "policy.segment_ms=500", "--max-instances", "2", "--output", str(out), "--no-progress",
        "--threads", "1",
    ]  # fmt: skip
    threads = torch.get_num_threads()
    try:
        assert _run(argv) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    inputs = json.loads((out / "scores.json").read_text())["provenance"]["inputs"]
    assert inputs["torch_threads"] == 1
    records = read_instances_log(out)
    assert len(records) == 2
    assert records[0].streams["st"].delays[:2] == (1000.0, 1300.0)  # wait-2 on 500 ms segments
    assert records[0].streams["st"].prediction.split()[0] == "w0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "frames=2"], "must look like policy.FIELD=VALUE"),
        (["--set", "policy.frame=2"], "Key 'frame' not in 'AlignAtt'"),
        (["--set", "model.nope=1"], "toy model options"),
        (["--split", "dev"], r"`--split` must be one of the splits .*\['test'\]"),
        (["--segment-ms", "200", "--set", "policy.segment_ms=300"], "disagree"),
        (["--threads", "0"], "`--threads` must be >= 1"),
    ],
)
def test_bad_options_are_clear_errors(
    corpus: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    argv = [
        str(corpus),
        "--model",
        "toy",
        "--policy",
        "alignatt",
        "--output",
        str(tmp_path / "o"),
        "--no-progress",
    ]
    with pytest.raises(ValueError, match=message):
        _run([*argv, *extra])


def test_parse_overrides() -> None:
    assert parse_overrides(
        ["policy.frames=4", "policy.attention.heads=[0,1]", "model.beam_size=2"]
    ) == {
        "policy": {"frames": 4, "attention": {"heads": [0, 1]}},
        "model": {"beam_size": 2},
    }


def test_eval_streams_a_transducer_checkpoint(corpus: Path, tmp_path: Path) -> None:
    tokenizer = train_sentencepiece(
        tmp_path / "spm", SpmConfig(vocab_size=20), texts=["w0 w1 w2 w3 satz eins zwei"] * 5
    )
    torch.manual_seed(0)
    config = dataclasses.replace(presets.tiny(), vocab_size=tokenizer.vocab_size, blank_id=1)
    model = Transducer(config)
    path = tmp_path / "tt.pt"
    save_checkpoint(path, Checkpoint(
        family="transducer", model_config=dataclasses.asdict(config), state_dict=model.state_dict(),
        tokenizer_model=tokenizer.model_path.read_bytes(), fbank_config=FbankConfig().to_dict(),
        cmvn=None, train_config={"data": {"target": "st:de"}}, step=3, epoch=0,
    ))  # fmt: skip
    out = tmp_path / "out"
    argv = [
        str(corpus), "--checkpoint", str(path), "--policy", "transducer",
        "--set", "model.max_symbols_per_frame=1", "--max-instances", "1", "--output", str(out), "--no-progress",
    ]  # fmt: skip
    assert _run(argv) == 0
    (record,) = read_instances_log(out)
    assert list(record.streams) == [
        "st"
    ]  # an st:de checkpoint writes the st stream, scored against de
    assert record.streams["st"].reference == "w0-1 w1-1 w2-1 w3-1"
    inputs = json.loads((out / "scores.json").read_text())["provenance"]["inputs"]
    assert inputs["model"]["family"] == "transducer" and inputs["model"]["step"] == 3
    assert inputs["target_lang"] == "de"


def test_eval_logs_that_it_mixes_down_and_resamples_a_44k_stereo_recording(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    stereo = (0.1 * np.random.default_rng(0).standard_normal((44_100, 2))).astype(np.float32)
    soundfile.write(root / "talk.wav", stereo, 44_100, subtype="PCM_16")
    soundfile.write(root / "mono.wav", stereo[:, 0], 16_000, subtype="PCM_16")
    (root / "test.wav_list").write_text("talk.wav\nmono.wav\n")
    (root / "test.de").write_text("w0-1 w1-1\nw0-1\n")
    with caplog.at_level("INFO", logger="simul.evaluation"):
        status = _run([str(root), "--model", "toy", "--policy", "waitk", "--output", str(tmp_path / "out"),
                       "--no-progress"])  # fmt: skip
    assert status == 0
    assert (
        "the audio of 1 of 2 instances is mixed down from 2 channels to mono and resampled from "
        "44100 Hz to 16000 Hz (soxr, HQ) for the model" in caplog.messages
    )


def test_the_default_output_folder_names_every_set_so_runs_do_not_overwrite_each_other() -> None:
    """k=3 then k=5 both went to runs/eval/toy-waitk-320ms, the second replacing the first."""
    k3 = eval_cli.default_output("toy", "waitk", {"k": 3, "segment_ms": 320}, {}, 320)
    k5 = eval_cli.default_output("toy", "waitk", {"k": 5, "segment_ms": 320}, {}, 320)
    assert (k3, k5) == (
        Path("runs/eval/toy-waitk-k=3-320ms"),
        Path("runs/eval/toy-waitk-k=5-320ms"),
    )
    assert eval_cli.default_output("toy", "waitk", {}, {}, 320) == Path("runs/eval/toy-waitk-320ms")
    assert eval_cli.default_output(
        "best",
        "alignatt",
        {"frames": 4, "attention": {"layer": -1}},
        {"decoding": {"beam_size": 2}},
        640,
    ) == Path(
        "runs/eval/best-alignatt-frames=4-attention.layer=-1-model.decoding.beam_size=2-640ms"
    )
    assert eval_cli.default_output("toy", "x", {"heads": [0, 1], "p": "a/b c"}, {}, 320) == Path(
        "runs/eval/toy-x-heads=0,1-p=a_b_c-320ms"
    )


def test_two_runs_without_output_keep_both_folders(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for k in (3, 5):
        assert (
            _run(
                [
                    str(corpus),
                    "--model",
                    "toy",
                    "--policy",
                    "waitk",
                    "--set",
                    f"policy.k={k}",
                    "--no-progress",
                ]
            )
            == 0
        )
    for k in (3, 5):
        assert (tmp_path / "runs" / "eval" / f"toy-waitk-k={k}-320ms" / "scores.json").is_file()

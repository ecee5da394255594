"""simul's SimulEval agent in-process: SimulEval's own instances and segments, the one loop's output.

The agent is driven here by SimulEval 1.1.4's ``SpeechToTextInstance`` and ``GenericAgent.pushpop``
in the order ``SentenceLevelEvaluator.__call__`` uses them (one ``pushpop`` per segment, the loop
over when the last segment was sent, ``reset()`` after a finished prediction).  The real
``simuleval`` command runs it in ``tests/test_simuleval_agent.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from simuleval import options
from simuleval.data.dataloader import GenericDataloader
from simuleval.evaluator.instance import SpeechToTextInstance
from simuleval.utils import EVALUATION_SYSTEM_LIST

import simul.agents
from policies import WaitK
from simul.agents import SimulSpeechAgent
from simul.agents.command import (
    SimulEvalInputs,
    simuleval_command,
    simuleval_quality_metrics,
    write_simuleval_inputs,
)
from simul.cli import eval as eval_cli
from simul.data.features.audio import load_waveform, resample, to_mono
from simul.data.instance import Instance
from simul.eval.log_io import read_instances_log
from simul.streaming import ToyConfig, ToyModel, simulate_waveform

SAMPLE_RATE = 16_000
JOINT_TOY = [
    "--set", "model.streams=[asr,st]",
    "--set", "model.pieces=[<asr>,▁a,▁b,<st>,▁x,-x,<asr>,▁c,<st>,▁y,▁z]",
    "--set", "model.frames=[0,5,15,16,17,18,30,35,36,37,50]",
]  # fmt: skip
JOINT_CONFIG = ToyConfig(
    streams=("asr", "st"),
    pieces=("<asr>", "▁a", "▁b", "<st>", "▁x", "-x", "<asr>", "▁c", "<st>", "▁y", "▁z"),
    frames=(0, 5, 15, 16, 17, 18, 30, 35, 36, 37, 50),
)


def _parser() -> argparse.ArgumentParser:
    """SimulEval's parser (general, evaluator and data options) with the agent's options."""
    parser = options.general_parser()
    options.add_evaluator_args(parser)
    GenericDataloader.add_args(parser)
    SimulSpeechAgent.add_args(parser)
    return parser


def _agent(*argv: str) -> SimulSpeechAgent:
    return SimulSpeechAgent.from_args(_parser().parse_args(list(argv)))


def _instance(index: int, waveform: torch.Tensor, rate: int = SAMPLE_RATE) -> SpeechToTextInstance:
    """SimulEval 1.1.4's speech-to-text instance over an in-memory waveform."""
    instance = SpeechToTextInstance(index, None, Namespace(eval_latency_unit="word"))
    instance.sample_list = waveform.tolist()
    instance.sample_rate_value = rate
    instance.audio_info = Namespace(samplerate=rate)
    instance.reference = ""
    instance.tgt_lang = None
    return instance


def _evaluate(
    agent: SimulSpeechAgent, waveforms: list[torch.Tensor], segment_ms: int, rate: int = SAMPLE_RATE
) -> list[tuple]:
    """``SentenceLevelEvaluator.__call__``'s loop; returns (instance, output segments) per waveform."""
    runs = []
    agent.reset()
    for index, waveform in enumerate(waveforms):
        instance = _instance(index, waveform, rate)
        outputs = []
        while not instance.source_finished_reading:
            output = agent.pushpop(instance.send_source(segment_ms))
            instance.receive_prediction(output)
            outputs.append(output)
            if instance.finish_prediction:
                agent.reset()
        runs.append((instance, outputs))
    return runs


def _waveforms() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(n, generator=generator) for n in (32_000, 20_800, 40_000)]


def test_simuleval_sees_the_loops_words_and_delays_and_the_last_call_flushes() -> None:
    agent = _agent("--model", "toy", "--policy", "waitk", "--set", "policy.k=2",
                   "--source-segment-size", "320")  # fmt: skip
    waveforms = _waveforms()
    for (instance, outputs), waveform in zip(
        _evaluate(agent, waveforms, 320), waveforms, strict=True
    ):
        expected = simulate_waveform(ToyModel(ToyConfig()), WaitK(k=2, segment_ms=320), waveform)
        assert instance.prediction == " ".join(w.text for w in expected.emissions)
        assert instance.delays == [w.source_ms for w in expected.emissions]
        assert instance.source_length == expected.source_ms
        *earlier, last = outputs
        assert last.finished and not any(o.finished for o in earlier)
        # The end of the source came with several words: all of them in that one call.
        tail = [w for w in expected.emissions if w.source_ms == expected.source_ms]
        assert len(tail) >= 2 and last.content == " ".join(w.text for w in tail)
    assert agent.states.session is None and agent.states.source == []


def test_a_second_sentence_does_not_see_the_first() -> None:
    agent = _agent("--model", "toy", "--policy", "waitk", "--source-segment-size", "320")
    waveform = _waveforms()[0]
    (first, _), (second, _) = _evaluate(agent, [waveform, waveform], 320)
    assert first.prediction == second.prediction and first.delays == second.delays


def test_primary_stream_is_what_simuleval_sees_and_simuls_log_has_every_stream(
    tmp_path: Path,
) -> None:
    waveforms = _waveforms()[:2]
    (tmp_path / "source.txt").write_text("a.wav\nb.wav\n")
    (tmp_path / "ref.st").write_text("x y z\nx x\n")
    (tmp_path / "ref.asr").write_text("a b c\n a b \n")
    agent = _agent(
        "--model", "toy", "--policy", "alignatt", *JOINT_TOY, "--primary-stream", "st",
        "--reference", f"asr={tmp_path / 'ref.asr'}", "--source", str(tmp_path / "source.txt"),
        "--target", str(tmp_path / "ref.st"), "--source-segment-size", "320",
        "--output", str(tmp_path / "out"),
    )  # fmt: skip
    runs = _evaluate(agent, waveforms, 320)
    records = read_instances_log(tmp_path / "out" / "simul")
    assert [r.index for r in records] == [0, 1]
    for (instance, _), record, waveform in zip(runs, records, waveforms, strict=True):
        policy = agent.setup.policy
        expected = simulate_waveform(ToyModel(JOINT_CONFIG), policy, waveform)
        st = expected.words("st")
        assert instance.prediction == " ".join(w.text for w in st)
        assert st and expected.words("asr")
        assert instance.delays == [w.source_ms for w in st]
        for stream in ("asr", "st"):
            words = expected.words(stream)
            assert record.streams[stream].prediction == " ".join(w.text for w in words)
            assert record.streams[stream].delays == tuple(w.source_ms for w in words)
        assert record.source_length == expected.source_ms
    assert records[1].streams["asr"].reference == "a b"  # stripped, as SimulEval strips
    assert records[0].streams["st"].reference == "x y z" and records[0].source == "a.wav"
    description = json.loads((tmp_path / "out" / "simul" / "agent.json").read_text())
    assert description["agent"]["primary_stream"] == "st"
    assert description["agent"]["policy"]["parameters"]["segment_ms"] == 320


def test_continue_unfinished_resumes_at_simulevals_index(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / "ref.st").write_text("a\nb\nc\n")
    base = ["--model", "toy", "--policy", "waitk", "--source-segment-size", "320",
            "--target", str(tmp_path / "ref.st"), "--output", str(out)]  # fmt: skip
    first = _agent(*base)
    _evaluate(first, _waveforms()[:2], 320)  # instances 0 and 1
    (out / "instances.log").write_text(json.dumps({"index": 0}) + "\n")  # SimulEval kept only 0
    resumed = _agent(*base, "--continue-unfinished")
    assert resumed.stream_log is not None and resumed.stream_log.next_index == 1
    assert [r.index for r in resumed.stream_log.records] == [0]
    fresh = _agent(*base)
    assert fresh.stream_log is not None and fresh.stream_log.records == []


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (["--set", "policy.segment_ms=500"], ValueError, "disagree"),
        (["--set", "policy.k=0"], ValueError, "`k` must be an int >= 1"),
        (["--primary-stream", "asr"], ValueError, r"one of the model's streams \('st',\)"),
        (["--reference", "asr"], ValueError, "STREAM=FILE"),
        (["--reference", "asr=x.en"], ValueError, "writes only"),
        (["--max-tokens", "0"], ValueError, "`--max-tokens` must be >= 1"),
        (["--target", "missing.de", "--output", "out"], FileNotFoundError, "missing.de"),
    ],
)
def test_bad_options_are_clear_errors(
    extra: list[str],
    error: type[Exception],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        _agent("--model", "toy", "--policy", "waitk", "--source-segment-size", "320", *extra)


def test_fp16_and_another_device_are_refused() -> None:
    agent = _agent("--model", "toy", "--policy", "waitk", "--source-segment-size", "320")
    agent.to("cpu", fp16=False)
    with pytest.raises(ValueError, match="float32"):
        agent.to("cpu", fp16=True)
    with pytest.raises(ValueError, match="built on cpu"):
        agent.to("cuda")


def test_44k_stereo_audio_is_mixed_down_and_resampled_as_simul_eval_does_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Real recordings: SimulEval sends the file's samples, 44.1 kHz and two channels here."""
    generator = torch.Generator().manual_seed(1)
    stereo = [0.1 * torch.randn(n, 2, generator=generator) for n in (88_200, 61_740)]
    agent = _agent("--model", "toy", "--policy", "waitk", "--set", "policy.k=2",
                   "--source-segment-size", "320")  # fmt: skip
    with caplog.at_level("INFO", logger="simul.agents.speech"):
        runs = _evaluate(agent, stereo, 320, rate=44_100)
    for (instance, _), waveform in zip(runs, stereo, strict=True):
        mono = to_mono(waveform.numpy())
        expected = simulate_waveform(  # what simul eval reads: mixed down, then resampled
            ToyModel(ToyConfig()),
            WaitK(k=2, segment_ms=320),
            torch.from_numpy(resample(mono, 44_100, 16_000)),
        )
        assert instance.prediction == " ".join(w.text for w in expected.emissions)
        assert instance.source_length == pytest.approx(1000 * len(waveform) / 44_100)
    notes = [r.getMessage() for r in caplog.records if "mixed down" in r.getMessage()]
    assert notes == [
        "the source audio is mixed down from 2 channels to mono and resampled from 44100 Hz to "
        "16000 Hz (soxr, HQ) for the model, as simul eval does"
    ]


def test_agent_options_leave_simulevals_alone() -> None:
    """SimulEval's parser silently replaces a conflicting option: ours must all be new."""
    simuleval = options.general_parser()
    options.add_evaluator_args(simuleval)
    options.add_slurm_args(simuleval)
    GenericDataloader.add_args(simuleval)
    theirs = set(simuleval._option_string_actions)
    ours = argparse.ArgumentParser(add_help=False)
    SimulSpeechAgent.add_args(ours)
    assert not set(ours._option_string_actions) & theirs


def test_the_agent_file_registers_only_the_agent_and_the_package_registers_nothing() -> None:
    before = list(EVALUATION_SYSTEM_LIST)
    try:
        importlib.reload(simul.agents)
        assert EVALUATION_SYSTEM_LIST == before  # `--agent-class simul.agents.X` finds it once
        path = Path(simul.agents.__file__).parent / "simuleval_agent.py"
        spec = importlib.util.spec_from_file_location("agents", path)  # as SimulEval imports it
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert EVALUATION_SYSTEM_LIST[len(before) :] == [module.SimulSpeechAgent]
        assert module.SimulSpeechAgent.__name__ == "SimulSpeechAgent"
    finally:
        EVALUATION_SYSTEM_LIST[:] = before


# -- the simuleval command of a simul eval run -----------------------------------------------


def _talk(
    tmp_path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE, subtype: str = "PCM_16"
) -> Path:
    path = tmp_path / f"talk_{rate}_{subtype}_{samples.ndim}.wav"
    soundfile.write(path, samples, rate, subtype=subtype)
    return path


def test_inputs_keep_whole_files_and_cut_everything_else_sample_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mono = _talk(tmp_path, (0.2 * rng.standard_normal(16_000)).astype(np.float32))
    stereo = _talk(tmp_path, (0.2 * rng.standard_normal((8_000, 2))).astype(np.float32))
    other_rate = _talk(tmp_path, (0.2 * rng.standard_normal(22_050)).astype(np.float32), 22_050)

    def instance(
        name: str, path: Path, offset: int, count: int, rate: int = SAMPLE_RATE
    ) -> Instance:
        return Instance(id=name, audio_path=path, offset_samples=offset, num_samples=count,
                        sample_rate=rate, source_text=f"{name} text")  # fmt: skip

    instances = [
        instance("whole", mono, 0, 16_000),
        instance("segment/1", mono, 4_000, 6_000),
        instance("stereo", stereo, 0, 8_000),
        instance("resampled", other_rate, 0, 22_050, 22_050),
    ]
    references = [
        {"asr": i.source_text, "st": None if i.id == "whole" else "ref"} for i in instances
    ]
    inputs = write_simuleval_inputs(tmp_path / "sim", instances, references,
                                    sample_rate=SAMPLE_RATE, progress=False)  # fmt: skip
    paths = inputs.source_list.read_text().splitlines()
    assert paths[0] == str(mono.resolve())
    assert paths[1].endswith("wav/0000001_segment_1.wav")
    subtypes = [soundfile.info(p).subtype for p in paths]
    assert subtypes == ["PCM_16", "PCM_16", "FLOAT", "FLOAT"]  # a mix or resampling is not 16-bit
    for path, item in zip(paths, instances, strict=True):
        samples, rate = soundfile.read(path, dtype="float32")  # as SimulEval reads it
        assert rate == SAMPLE_RATE
        assert np.array_equal(samples, load_waveform(item, SAMPLE_RATE).numpy())
    assert inputs.reference_files["st"].read_text() == "\nref\nref\nref\n"
    assert inputs.reference_files["asr"].read_text().splitlines()[1] == "segment/1 text"


def test_simuleval_command_maps_every_setting() -> None:
    inputs = SimulEvalInputs(
        source_list=Path("/d/source.txt"),
        reference_files={"asr": Path("/d/reference.asr"), "st": Path("/d/reference.st")},
    )
    command = simuleval_command(
        inputs=inputs, model_options=["--checkpoint", "/c.pt"], policy="waitk",
        overrides=["policy.k=3", "model.beam_size=2"], segment_ms=500, primary_stream="st",
        max_tokens=200, clock="real_time", device="cuda", latency_metrics=["AL", "ATD"],
        quality_metrics=["BLEU"], computation_aware=True, output=Path("/d/output"),
    )  # fmt: skip
    assert shlex.join(command) == (
        "simuleval --agent-class simul.agents.SimulSpeechAgent --checkpoint /c.pt --policy waitk "
        "--set policy.k=3 --set model.beam_size=2 --primary-stream st --max-tokens 200 "
        "--clock real_time --reference asr=/d/reference.asr --source /d/source.txt "
        "--target /d/reference.st --source-segment-size 500 --device cuda --quality-metrics BLEU "
        "--latency-metrics AL ATD --computation-aware --output /d/output"
    )
    with pytest.raises(ValueError, match="primary stream 'asr' has no references"):
        simuleval_command(**{**_command_options(inputs), "primary_stream": "asr",
                             "inputs": SimulEvalInputs(Path("/s"), {"st": Path("/r")})})  # fmt: skip
    assert simuleval_quality_metrics(None, "asr") == ("WER",)
    assert simuleval_quality_metrics(None, "st") == ("BLEU",)
    assert simuleval_quality_metrics(["chrF", "BLEU", "WER"], "st") == ("BLEU", "WER")
    assert simuleval_quality_metrics(["chrF"], "st") == ("BLEU",)


def _command_options(inputs: SimulEvalInputs) -> dict:
    return dict(
        inputs=inputs, model_options=["--model", "toy"], policy="waitk", overrides=[],
        segment_ms=320, primary_stream="st", max_tokens=10, clock="simuleval", device="cpu",
        latency_metrics=["AL"], quality_metrics=["BLEU"], computation_aware=False,
        output=Path("/o"),
    )  # fmt: skip


def test_simul_eval_simuleval_prints_the_command_and_writes_its_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(1)
    for name in ("u0", "u1"):
        soundfile.write(corpus / f"{name}.wav", (0.1 * rng.standard_normal(20_000)).astype(np.float32),
                        SAMPLE_RATE, subtype="PCM_16")  # fmt: skip
    (corpus / "test.wav_list").write_text("u0.wav\nu1.wav\n")
    (corpus / "test.de").write_text("w0-1 w1-1\nw0-1\n")
    parser = argparse.ArgumentParser(prog="simul")
    eval_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "out"
    args = parser.parse_args([
        "eval", str(corpus), "--model", "toy", "--policy", "waitk", "--set", "policy.k=2",
        "--segment-ms", "400", "--output", str(out), "--no-progress", "--simuleval",
    ])  # fmt: skip
    assert args.run(args) == 0
    printed = capsys.readouterr().out.splitlines()
    command = (out / "simuleval" / "command.sh").read_text().strip()
    assert printed[-1] == command and "command.sh" in printed[-2]
    argv = shlex.split(command)
    value = {name: argv[argv.index(name) + 1] for name in ("--source", "--target", "--output")}
    assert Path(value["--source"]).read_text().splitlines() == [
        str((corpus / "u0.wav").resolve()),
        str((corpus / "u1.wav").resolve()),
    ]  # whole files at the model's rate are read in place
    assert Path(value["--target"]).read_text() == "w0-1 w1-1\nw0-1\n"
    assert value["--output"] == str((out / "simuleval" / "output").resolve())
    assert argv[argv.index("--source-segment-size") + 1] == "400"
    assert argv[argv.index("--policy") + 1 : argv.index("--primary-stream")] == [
        "waitk",
        "--set",
        "policy.k=2",
    ]

"""The corpus driver: instances.log in SimulEval's format, references per stream, resuming."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from policies import AlignAtt, TransducerEmission, WaitK
from simul.data.instance import Instance
from simul.data.readers import read_corpus_split
from simul.eval.log_io import read_instances_log
from simul.eval.scoring import score
from simul.streaming import (
    Requirements,
    Signals,
    StreamingModel,
    Token,
    ToyConfig,
    ToyModel,
    simulate_corpus,
    stream_references,
)
from simul.streaming.corpus import PARTIAL_DIR
from simul.streaming.toy import ToyState


def _corpus(root: Path, seconds: Sequence[float] = (1.3, 2.0, 0.7)) -> list[Instance]:
    """A SimulEval-list corpus of noise wavs with German references and English transcripts."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for index, duration in enumerate(seconds):
        name = f"utt{index}.wav"
        samples = (0.1 * rng.standard_normal(int(duration * 16_000))).astype(np.float32)
        soundfile.write(root / name, samples, 16_000, subtype="PCM_16")
        names.append(name)
    (root / "test.wav_list").write_text("\n".join(names) + "\n")
    (root / "test.de").write_text("".join(f"w0-1 w1-1 satz {i}\n" for i in range(len(names))))
    (root / "test.en").write_text("".join(f"sentence {i}\n" for i in range(len(names))))
    return [item.instance for item in read_corpus_split(root, "simuleval", "test")]


class _Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


class _FailsOnInstance(StreamingModel[ToyState]):
    """The toy, except that the `fail_at`-th utterance (0-based) raises; counts utterances."""

    def __init__(self, fail_at: int | None) -> None:
        self.toy = ToyModel()
        self.fail_at = fail_at
        self.started = 0

    capabilities = property(lambda self: self.toy.capabilities)
    sample_rate = property(lambda self: self.toy.sample_rate)
    output_streams = property(lambda self: self.toy.output_streams)

    def new_state(self) -> ToyState:
        self.started += 1
        if self.fail_at is not None and self.started == self.fail_at + 1:
            raise RuntimeError("killed")
        return self.toy.new_state()

    def read(self, state: ToyState, samples: torch.Tensor, *, source_finished: bool) -> ToyState:
        return self.toy.read(state, samples, source_finished=source_finished)

    def signals(self, state: ToyState, requirements: Requirements) -> Signals:
        return self.toy.signals(state, requirements)

    def write(self, state: ToyState, tokens: Sequence[Token]) -> ToyState:
        return self.toy.write(state, tokens)

    def describe(self) -> dict:
        return {"model": "toy"}


def test_corpus_run_writes_a_simuleval_log_with_references(tmp_path: Path) -> None:
    instances = _corpus(tmp_path / "data")
    out = tmp_path / "out"
    records = simulate_corpus(ToyModel(), AlignAtt(frames=2), instances, out, progress=False)
    assert not (out / PARTIAL_DIR).exists()
    logged = read_instances_log(out)
    assert [r.streams for r in logged] == [r.streams for r in records]
    assert [r.extra["id"] for r in logged] == ["utt0", "utt1", "utt2"]
    first = logged[0].streams["st"]
    assert first.prediction == "w0-1 w1-1 w2-1 w3-1"
    assert first.delays == (640.0, 960.0, 960.0, 1280.0)
    assert first.reference == "w0-1 w1-1 satz 0"
    assert logged[0].source_length == 1300.0
    assert score(logged).corpus.loc["st", "num_instances"] == 3


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    instances = _corpus(tmp_path / "data")
    policy = WaitK(k=2)
    clean = simulate_corpus(
        ToyModel(), policy, instances, tmp_path / "clean", progress=False, timer=_Timer()
    )
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="killed"):
        simulate_corpus(
            _FailsOnInstance(fail_at=2), policy, instances, out, progress=False, timer=_Timer()
        )
    assert not (out / "instances.log").exists()
    assert len([p for p in (out / PARTIAL_DIR).iterdir() if p.is_dir()]) == 2
    model = _FailsOnInstance(fail_at=None)
    resumed = simulate_corpus(
        model, policy, instances, out, resume=True, progress=False, timer=_Timer()
    )
    assert model.started == 1  # only the last instance ran again
    assert [r.streams["st"].delays for r in resumed] == [r.streams["st"].delays for r in clean]
    assert [r.streams["st"].prediction for r in read_instances_log(out)] == [
        r.streams["st"].prediction for r in clean
    ]
    assert not (out / PARTIAL_DIR).exists()


def test_resuming_a_run_with_other_settings_is_refused(tmp_path: Path) -> None:
    instances = _corpus(tmp_path / "data")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        simulate_corpus(_FailsOnInstance(fail_at=1), WaitK(k=2), instances, out, progress=False)
    with pytest.raises(
        ValueError,
        match=r"unfinished run with other settings than this one \(changed: model.config, policy.k;",
    ):
        simulate_corpus(ToyModel(), WaitK(k=3), instances, out, resume=True, progress=False)
    # By default the unfinished run is replaced (with a warning naming why).
    records = simulate_corpus(ToyModel(), WaitK(k=3), instances, out, progress=False)
    assert len(records) == 3


def test_a_rerun_with_the_same_settings_resumes_by_default(tmp_path: Path) -> None:
    instances = _corpus(tmp_path / "data")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        simulate_corpus(_FailsOnInstance(fail_at=2), WaitK(k=2), instances, out, progress=False)
    model = _FailsOnInstance(fail_at=None)
    assert len(simulate_corpus(model, WaitK(k=2), instances, out, progress=False)) == 3
    assert model.started == 1  # it used to start over, discarding the finished two
    with pytest.raises(RuntimeError):
        simulate_corpus(_FailsOnInstance(fail_at=2), WaitK(k=2), instances, out, progress=False)
    model = _FailsOnInstance(fail_at=None)
    simulate_corpus(model, WaitK(k=2), instances, out, resume=False, progress=False)
    assert model.started == 3  # resume=False starts over


def test_stream_references() -> None:
    instance = Instance(
        id="x", audio_path=Path("x.wav"), offset_samples=0, num_samples=10, sample_rate=16_000,
        source_text="hello", target_texts={"de": "hallo", "es": "hola"},
    )  # fmt: skip
    assert stream_references(instance, ("asr", "st"), "es") == {"asr": "hello", "st": "hola"}
    assert stream_references(instance, ("asr", "de", "es"), None) == {
        "asr": "hello",
        "de": "hallo",
        "es": "hola",
    }
    with pytest.raises(
        ValueError, match=r"choose the `st` stream's target language \(`simul eval --tgt-lang`"
    ):
        stream_references(instance, ("st",), None)


def test_a_mismatch_is_refused_before_any_instance(tmp_path: Path) -> None:
    instances = _corpus(tmp_path / "data", seconds=(0.5,))
    with pytest.raises(ValueError, match="needs transducer"):
        simulate_corpus(ToyModel(ToyConfig()), TransducerEmission(), instances, tmp_path / "out")
    assert not (tmp_path / "out").exists()

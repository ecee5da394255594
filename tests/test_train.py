"""``simul train``: configs and overrides, schedules, a tiny run end to end, exact resume."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import pytest
import torch
from train_corpus import TinyCorpus, write_tiny_corpus

from simul.data.tokenizer import Tokenizer
from simul.families.checkpoint import build_model, load_checkpoint
from simul.families.registry import family_names
from simul.families.transducer.model import Transducer
from simul.io import DirectoryLockedError, lock_directory
from simul.train import load_train_config, train
from simul.train.config import TrainConfig
from simul.train.schedule import encoder_lr_factor, lr_factor

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> TinyCorpus:
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"))


def tiny_run_config(corpus: TinyCorpus, output_dir: Path, *overrides: str) -> TrainConfig:
    """The tiny experiment on the test corpus, a few seconds of training."""
    return load_train_config(
        EXPERIMENTS / "asr_tt_tiny.yaml",
        [
            f"data.corpus_dir={corpus.root}",
            f"data.spm_model={corpus.spm_model}",
            f"data.cmvn={corpus.cmvn}",
            f"trainer.output_dir={output_dir}",
            "data.max_frames_per_batch=1000",
            "data.num_prefetch=0",
            "trainer.progress=false",
            "trainer.num_threads=1",
            *overrides,
        ],
    )


def test_every_experiment_config_loads() -> None:
    paths = sorted(EXPERIMENTS.glob("*.yaml"))
    assert paths
    for path in paths:
        config = load_train_config(
            path, ["data.corpus_dir=x", "data.spm_model=x", "trainer.output_dir=x"]
        )
        assert config.model.family in family_names()


def test_overrides_apply_and_mistakes_are_named(tmp_path: Path) -> None:
    config = load_train_config(
        None,
        ["data.corpus_dir=c", "data.spm_model=s", "trainer.output_dir=o", "optim.lr=5e-4",
         "model.config.encoder.num_layers=3", "data.tgt_langs=[de,es]"],
    )  # fmt: skip
    assert config.optim.lr == 5e-4
    assert config.model.config == {"encoder": {"num_layers": 3}}
    assert config.data.tgt_langs == ["de", "es"]
    with pytest.raises(ValueError, match="optim.lrr"):
        load_train_config(None, ["optim.lrr=1"])
    with pytest.raises(ValueError, match="max_steps"):
        load_train_config(None, ["trainer.max_steps=many"])
    with pytest.raises(ValueError, match=r"must set .*data.corpus_dir"):
        load_train_config(None, [])
    with pytest.raises(ValueError, match="schedule"):
        load_train_config(None, ["data.corpus_dir=c", "data.spm_model=s", "trainer.output_dir=o",
                                 "optim.schedule=linear"])  # fmt: skip
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_train_config(None, ["optim.lr"])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_train_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_stepz: 3\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*max_stepz"):
        load_train_config(bad)


def test_schedules_warm_up_then_decay() -> None:
    common = {"warmup_steps": 10, "max_steps": 110}
    assert lr_factor(0, schedule="constant", **common) == pytest.approx(0.1)
    assert lr_factor(9, schedule="inverse_sqrt", **common) == 1.0
    assert lr_factor(39, schedule="inverse_sqrt", **common) == pytest.approx(0.5)
    assert lr_factor(59, schedule="cosine", min_lr_ratio=0.1, **common) == pytest.approx(0.55)
    assert lr_factor(109, schedule="cosine", min_lr_ratio=0.1, **common) == pytest.approx(0.1)
    assert lr_factor(500, schedule="cosine", **common) == 0.0
    assert lr_factor(3, schedule="inverse_sqrt", warmup_steps=0, max_steps=9) == 0.5
    with pytest.raises(ValueError, match="schedule"):
        lr_factor(20, schedule="step", **common)


def test_the_encoder_is_frozen_then_ramped_up_at_its_scale() -> None:
    common = {"base": 0.8, "scale": 0.5, "freeze_steps": 10, "rewarmup_steps": 4}
    assert encoder_lr_factor(0, **common) == 0.0
    assert encoder_lr_factor(9, **common) == 0.0
    assert encoder_lr_factor(10, **common) == pytest.approx(0.8 * 0.5 / 4)
    assert encoder_lr_factor(12, **common) == pytest.approx(0.8 * 0.5 * 3 / 4)
    assert encoder_lr_factor(13, **common) == pytest.approx(0.4)
    assert encoder_lr_factor(99, **common) == pytest.approx(0.4)
    assert encoder_lr_factor(0, base=0.3, scale=0.1, freeze_steps=0, rewarmup_steps=0) == (
        pytest.approx(0.03)
    )


def test_a_tiny_run_writes_checkpoints_tensorboard_and_a_scored_test_split(
    corpus: TinyCorpus, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = train(tiny_run_config(corpus, out, "trainer.max_steps=4",
                                   "trainer.validate_every_steps=2"))  # fmt: skip
    assert result.finished and result.step == 4
    assert set(result.metrics) == {"valid/loss", "valid/asr/WER"}
    assert result.test_metrics is not None
    assert {"asr/WER", "asr/CER", "asr/LAAL", "asr/AL"} <= set(result.test_metrics)
    for name in ("checkpoints/last.pt", "checkpoints/best.pt", "config.yaml", "spm.model",
                 "cmvn.npz", "test/instances.log", "test/scores.tsv"):  # fmt: skip
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").iterdir())
    last = load_checkpoint(out / "checkpoints" / "last.pt")
    assert last.step == 4 and last.trainer_state is not None
    assert last.train_config["trainer"]["max_steps"] == 4
    model = build_model(last)
    vocab_size = Tokenizer(corpus.spm_model).vocab_size
    assert isinstance(model, Transducer) and model.config.vocab_size == vocab_size
    assert (out / "spm.model").read_bytes() == last.tokenizer_model


def test_an_interrupted_run_resumes_to_the_same_parameters(
    corpus: TinyCorpus, tmp_path: Path
) -> None:
    # 3 batches per epoch and 2 per step: the interruption falls inside an epoch, and a step
    # spans an epoch boundary; cosine makes the learning rate depend on the step.
    options = ("trainer.max_steps=6", "trainer.checkpoint_every_steps=3",
               "trainer.validate_every_steps=100", "data.test_split=null",
               "optim.grad_accumulation=2", "optim.schedule=cosine")  # fmt: skip
    straight = train(tiny_run_config(corpus, tmp_path / "straight", *options))
    first = train(tiny_run_config(corpus, tmp_path / "resumed", *options), stop_after_steps=3)
    assert not first.finished and first.step == 3
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt").step == 3
    second = train(tiny_run_config(corpus, tmp_path / "resumed", *options))
    assert second.finished and second.step == 6
    assert second.weights_sha256 == straight.weights_sha256
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for name, tensor in a.state_dict.items():
        assert torch.equal(tensor, b.state_dict[name]), name
    assert a.trainer_state["batches_done"] == b.trainer_state["batches_done"]
    assert math.isclose(a.metrics["valid/loss"], b.metrics["valid/loss"])


def test_resuming_with_another_model_is_refused(corpus: TinyCorpus, tmp_path: Path) -> None:
    options = ("trainer.max_steps=1", "data.test_split=null")
    train(tiny_run_config(corpus, tmp_path / "run", *options))
    changed = tiny_run_config(corpus, tmp_path / "run", *options, "model.config.joiner_dim=8")
    with pytest.raises(ValueError, match="different model"):
        train(changed)


def test_resuming_with_another_training_config_is_refused_naming_the_keys(
    corpus: TinyCorpus, tmp_path: Path
) -> None:
    # It used to resume with the old optimiser (lr 3.1e-4) while config.yaml said 1e-9.
    options = ("trainer.max_steps=1", "data.test_split=null")
    train(tiny_run_config(corpus, tmp_path / "run", *options))
    recorded = (tmp_path / "run" / "config.yaml").read_text()
    changed = tiny_run_config(
        corpus, tmp_path / "run", *options, "optim.lr=1e-9", "optim.warmup_steps=7"
    )
    with pytest.raises(ValueError, match=r"another config: optim.lr, optim.warmup_steps changed"):
        train(changed)
    assert (tmp_path / "run" / "config.yaml").read_text() == recorded
    # A key newer than the checkpoint resumes at its default (as the old run ran), not else.
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    del payload["train_config"]["optim"]["freeze_encoder_steps"]
    torch.save(payload, last)
    with pytest.raises(ValueError, match=r"another config: optim.freeze_encoder_steps changed"):
        train(tiny_run_config(corpus, tmp_path / "run", *options, "optim.freeze_encoder_steps=1"))
    # What cannot change the weights may change: the run's length, intervals, threads, bars.
    longer = tiny_run_config(
        corpus, tmp_path / "run", "trainer.max_steps=2", "data.test_split=null",
        "trainer.validate_every_steps=7", "trainer.checkpoint_every_steps=9",
        "trainer.num_threads=2", "trainer.progress=true", "data.num_prefetch=2",
    )  # fmt: skip
    assert train(longer).step == 2
    # Under the cosine schedule the run's length is its horizon: it changes the rate.
    cosine = ("data.test_split=null", "optim.schedule=cosine")
    train(tiny_run_config(corpus, tmp_path / "cosine", "trainer.max_steps=1", *cosine))
    with pytest.raises(ValueError, match=r"trainer.max_steps changed"):
        train(tiny_run_config(corpus, tmp_path / "cosine", "trainer.max_steps=2", *cosine))


def test_a_second_run_into_a_folder_in_use_is_refused(corpus: TinyCorpus, tmp_path: Path) -> None:
    with (
        lock_directory(tmp_path / "run", "simul eval"),
        pytest.raises(
            DirectoryLockedError, match=rf"{tmp_path / 'run'} is in use by another simul eval"
        ),
    ):
        train(tiny_run_config(corpus, tmp_path / "run", "trainer.max_steps=1"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_encoder_initialised_from_another_run_starts_from_its_weights(
    corpus: TinyCorpus, tmp_path: Path
) -> None:
    options = ("trainer.max_steps=2", "data.test_split=null")
    train(tiny_run_config(corpus, tmp_path / "asr", *options))
    source = load_checkpoint(tmp_path / "asr" / "checkpoints" / "last.pt")
    init = f"model.init_encoder_from={tmp_path / 'asr' / 'checkpoints' / 'last.pt'}"
    # One step at a negligible learning rate: the weights are (to 1e-6) where the run started.
    train(tiny_run_config(corpus, tmp_path / "st", *options, init, "trainer.seed=5",
                          "optim.lr=1e-9", "optim.warmup_steps=0"), stop_after_steps=1)  # fmt: skip
    started = load_checkpoint(tmp_path / "st" / "checkpoints" / "last.pt")
    assert started.step == 1
    for name, tensor in source.state_dict.items():
        same = torch.allclose(tensor, started.state_dict[name], rtol=0, atol=1e-6)
        assert same == name.startswith("encoder."), name


def test_a_frozen_encoder_stays_put_then_trains(corpus: TinyCorpus, tmp_path: Path) -> None:
    options = ("data.test_split=null", "trainer.validate_every_steps=100", "trainer.max_steps=3",
               "optim.freeze_encoder_steps=2", "optim.warmup_steps=0", "optim.lr=1e-2")  # fmt: skip

    def after(steps: int) -> dict[str, torch.Tensor]:
        train(tiny_run_config(corpus, tmp_path / "run", *options), stop_after_steps=steps)
        return load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt").state_dict

    one, two, three = after(1), after(2), after(3)
    for name in one:
        frozen = name.startswith("encoder.")
        assert torch.equal(one[name], two[name]) == frozen, name  # the rest learns meanwhile
    # Past the freeze (resumed, too), the encoder learns.
    assert any(not torch.equal(two[n], three[n]) for n in two if n.startswith("encoder."))
    with pytest.raises(ValueError, match="freeze_encoder_steps"):
        load_train_config(None, ["data.corpus_dir=c", "data.spm_model=s",
                                 "trainer.output_dir=o", "optim.freeze_encoder_steps=-1"])  # fmt: skip


def test_a_tiny_run_trains_with_the_pruned_rnnt_loss(corpus: TinyCorpus, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(tiny_run_config(corpus, out, "trainer.max_steps=3", "data.test_split=null",
                                   "trainer.validate_every_steps=3",
                                   "model.config.pruned_loss.prune_range=3"))  # fmt: skip
    assert result.finished and result.step == 3 and math.isfinite(result.metrics["valid/loss"])
    model = build_model(load_checkpoint(out / "checkpoints" / "last.pt"))
    assert isinstance(model, Transducer) and model.config.pruned_loss is not None
    assert model.config.pruned_loss.prune_range == 3 and model.simple_encoder_proj is not None


def test_a_run_without_a_progress_bar_logs_its_loss_into_a_timestamped_train_log(
    corpus: TinyCorpus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch job redirects stderr: with the bar off, no loss was logged at all, and no file kept it."""
    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    train(tiny_run_config(corpus, out, "trainer.max_steps=4", "trainer.log_every_steps=2",
                          "trainer.validate_every_steps=4"))  # fmt: skip
    text = (out / "train.log").read_text()
    assert "\r" not in text
    lines = text.splitlines()
    assert all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) simul\.", line)
        for line in lines
    ), lines
    assert any("step 2/4: loss" in line for line in lines) and any(
        "step 4/4: loss" in line for line in lines
    )
    handlers = [getattr(h, "baseFilename", None) for h in logging.getLogger().handlers]
    assert str(out / "train.log") not in handlers  # removed after the run

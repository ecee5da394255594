"""The four configs of the joint ASR/ST comparison: they load, build, and differ only in the target."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simul.families.registry import get_family
from simul.serialize import JointTarget, get_target_transform
from simul.train import load_train_config
from simul.train.config import TrainConfig, config_to_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "asr_tt_equal": "asr",
    "st_tt_equal": "st:de",
    "joint_tt_asr_st": "joint_alignment:de",
    "joint_tt_one_to_many": "joint_timestamp:de+es",
}
#: Fields in which the four may differ: what is learnt, its vocabulary, where it goes, the metric.
PER_MODEL = (
    ("data", "target"),
    ("data", "spm_model"),
    ("trainer", "output_dir"),
    ("validation", "metric"),
)
VOCAB_SIZE = 128  # the vocabulary size of all four (experiments/joint/run.sh, stage 1)


def _load(name: str, *overrides: str) -> TrainConfig:
    return load_train_config(ROOT / "experiments" / f"{name}.yaml", list(overrides))


def _shared(config: TrainConfig) -> dict:
    values = config_to_dict(config)
    for section, key in PER_MODEL:
        del values[section][key]
    return values


def test_the_four_configs_differ_only_in_target_vocabulary_output_and_metric() -> None:
    configs = {name: _load(name) for name in CONFIGS}
    assert {name: c.data.target for name, c in configs.items()} == CONFIGS
    shared = [_shared(config) for config in configs.values()]
    assert all(values == shared[0] for values in shared[1:])
    assert len({c.trainer.output_dir for c in configs.values()}) == 4
    assert len({c.data.spm_model for c in configs.values()}) == 4
    # A run is scored at its end (experiments/joint/evaluate.py), so the time cap must not end it.
    assert all(
        c.trainer.max_minutes is None or c.trainer.max_minutes >= 30 for c in configs.values()
    )


def test_the_four_models_build_with_equal_sizes() -> None:
    family = get_family("transducer")
    sizes = {}
    for name in CONFIGS:
        config = _load(name)
        model_config = family.resolve_config(
            config.model.preset, config.model.config, vocab_size=VOCAB_SIZE, blank_id=1
        )
        model = family.build(model_config)
        parts = {
            part: sum(p.numel() for p in getattr(model, part).parameters())
            for part in ("encoder", "predictor", "joiner")
        }
        sizes[name] = (dataclasses.asdict(model_config), parts)
        assert model.ctc_head is None  # no CTC: joint targets are longer than their utterances
    first = next(iter(sizes.values()))
    assert all(size == first for size in sizes.values())
    assert 3_000_000 < sum(first[1].values()) < 4_000_000


def test_the_joint_targets_name_the_streams_their_vocabularies_tag() -> None:
    run_script = (ROOT / "experiments" / "joint" / "run.sh").read_text()
    tags = {
        "joint_tt_asr_st": ("<asr>", "<st>"),
        "joint_tt_one_to_many": ("<asr>", "<de>", "<es>"),
    }
    for name, target in CONFIGS.items():
        config = _load(name)
        transform = get_target_transform(target)
        if name in tags:
            assert isinstance(transform, JointTarget)
            assert transform.layout.tags == tags[name]
        # The vocabulary stage of run.sh writes the model the config trains with.
        spm_prefix = Path(config.data.spm_model).with_suffix("").name
        assert f'/{spm_prefix}"' in run_script
        assert f"bpe{VOCAB_SIZE}" in spm_prefix
    assert "--tags '<asr>,<st>'" in run_script and "--tags '<asr>,<de>,<es>'" in run_script


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_stepz"):
        _load("joint_tt_asr_st", "trainer.max_stepz=3")
    text = (ROOT / "experiments" / "joint_tt_one_to_many.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  target: ", "  tagret: joint_alignment:de\n  target: ", 1))
    with pytest.raises(ValueError, match=r"bad\.yaml.*tagret"):
        load_train_config(bad)
    # model.config is checked when the family resolves it.
    config = _load("asr_tt_equal", "model.config.encoder.num_layerz=2")
    with pytest.raises(ValueError, match="num_layerz"):
        get_family("transducer").resolve_config(
            config.model.preset, config.model.config, vocab_size=VOCAB_SIZE, blank_id=1
        )

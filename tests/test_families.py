"""Every model family, built in or installed from another package, end to end: tiny training, a
checkpoint, loading it, and the loop under wait-k and under the family's native policy; and a
policy installed from another package.  The outside family and policy are ``examples/``'s files,
the ones the README's "Write your own" sections show."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from train_corpus import TinyCorpus, write_tiny_corpus

from policies import build_policy, policy_names
from simul import evaluation
from simul.families.registry import BUILTIN_FAMILIES, family_names, get_family
from simul.streaming import ToyModel, simulate_waveform
from simul.train import load_train_config, train

ROOT = Path(__file__).resolve().parents[1]
_RECIPES = {
    "transducer": "asr_tt_tiny.yaml",
    "aed": "st_aed_tiny.yaml",
    "monotonic": "st_mma_tiny.yaml",
    "ctc": "asr_tt_tiny.yaml",  # the outside family trains on the transducer's ASR recipe
}
#: The tiny presets have 2 decoder layers; AlignAtt reads layer 3 by default.
_POLICY_OPTIONS = {"alignatt": {"attention": {"layer": -1}}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> TinyCorpus:
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"), num_train=8)


def _install(root: Path, module: str, group: str, entry: str) -> None:
    """``examples/MODULE.py`` as an installed distribution declaring ``entry`` in ``group``."""
    shutil.copy(ROOT / "examples" / f"{module}.py", root / f"{module}.py")
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")


def _train_evaluate_and_stream(family: str, corpus: TinyCorpus, out: Path) -> None:
    config = load_train_config(
        ROOT / "experiments" / _RECIPES[family],
        [
            f"model.family={family}", f"data.corpus_dir={corpus.root}",
            f"data.spm_model={corpus.spm_model}", f"data.cmvn={corpus.cmvn}",
            f"trainer.output_dir={out / 'train'}", "data.max_frames_per_batch=1000",
            "data.num_prefetch=0", "data.test_split=null", "trainer.progress=false",
            "trainer.num_threads=1", "trainer.max_steps=2", "trainer.validate_every_steps=2",
            "trainer.checkpoint_every_steps=2",
        ],
    )  # fmt: skip
    assert train(config).step == 2
    checkpoint = out / "train" / "checkpoints" / "last.pt"
    instances, data, _ = evaluation.read_test_set(
        evaluation.TestSet(dir=corpus.root, max_instances=2)
    )
    for policy in ("waitk", get_family(family).native_policy):
        request = evaluation.EvaluationRequest(
            model=evaluation.ModelRequest(checkpoint=checkpoint),
            policy=evaluation.PolicyRequest(policy, _POLICY_OPTIONS.get(policy, {})),
            output=out / policy,
            progress=False,
        )
        result = evaluation.evaluate(request, instances, data=data)
        assert len(result.records) == 2 and result.inputs["model"]["family"] == family
        assert (out / policy / "scores.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("family", BUILTIN_FAMILIES.names())
def test_every_built_in_family_trains_saves_loads_and_streams(
    family: str, corpus: TinyCorpus, tmp_path: Path
) -> None:
    _train_evaluate_and_stream(family, corpus, tmp_path)


@pytest.mark.slow
def test_a_family_from_another_package_runs_without_touching_simul(
    corpus: TinyCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "site"
    plugins.mkdir()
    _install(plugins, "simul_example_ctc", "simul.families", "ctc = simul_example_ctc:CtcFamily")
    monkeypatch.syspath_prepend(str(plugins))
    assert "ctc" in family_names() and "simul_example_ctc" not in sys.modules
    _train_evaluate_and_stream("ctc", corpus, tmp_path / "run")


def test_a_policy_from_another_package_runs_through_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(
        tmp_path, "simul_example_policy", "simul.policies",
        "wait_then_sure = simul_example_policy:WaitThenSure",
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "wait_then_sure" in policy_names()
    policy = build_policy("wait_then_sure", {"k": 3, "min_probability": 0.6, "whole_words": False})
    result = simulate_waveform(ToyModel(), policy, torch.zeros(32_000))
    delays = [c.source_ms for c in result.tokens]
    # nothing before the third segment (960 ms); then each token one frame after its own
    assert delays[0] == 960.0 and all(d >= 960.0 for d in delays)


def test_the_readme_shows_the_examples_that_these_tests_run() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    policy = (ROOT / "examples" / "simul_example_policy.py").read_text(encoding="utf-8")
    start = policy.index("@final")
    assert policy[start:].strip() in readme  # the README's policy is the tested file's
    assert "examples/simul_example_ctc.py" in readme and "class CtcFamily(Family" in readme

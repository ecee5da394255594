"""experiments/joint/evaluate.py: four tiny T-Ts trained a few steps, streamed, scored, tabled."""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from omegaconf import OmegaConf

from simul.cli import data_synth
from simul.data import benchmark
from simul.data.benchmark import CorpusSize
from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.instance import Instance, WordSpan
from simul.data.oracle import oracle_outputs
from simul.data.readers import read_mustc
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.eval.log_io import read_instances_log
from simul.eval.scoring import ScoringConfig, score
from simul.families.checkpoint import load_checkpoint
from simul.train import load_train_config, train
from simul.train.config import config_to_dict

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("asr_tt_equal", "st_tt_equal", "joint_tt_asr_st", "joint_tt_one_to_many")
ROWS = [
    ("asr_tt_equal", "asr", "en"),
    ("st_tt_equal", "st", "de"),
    ("joint_tt_asr_st", "asr", "en"),
    ("joint_tt_asr_st", "st", "de"),
    ("joint_tt_one_to_many", "asr", "en"),
    ("joint_tt_one_to_many", "de", "de"),
    ("joint_tt_one_to_many", "es", "es"),
]
NUM_TEST = 2


def _load_script() -> ModuleType:
    path = ROOT / "experiments" / "joint" / "evaluate.py"
    spec = importlib.util.spec_from_file_location("joint_evaluate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


evaluate = _load_script()


def _synth(corpus: Path) -> None:
    parser = argparse.ArgumentParser()
    data_synth.add_parser(parser.add_subparsers())
    args = parser.parse_args(["synth", str(corpus), "--size", "tiny", "--no-progress"])
    size = CorpusSize({"train": 8, "dev": 2, "test": NUM_TEST}, {"train": 2, "dev": 1, "test": 1})
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(benchmark.SIZES, "tiny", size)
        assert args.run(args) == 0


def _tiny_config(name: str, corpus: Path, spm: Path, cmvn: Path, work: Path) -> Path:
    """The experiment's config with a tiny model, the tiny corpus and two training steps."""
    values = config_to_dict(load_train_config(ROOT / "experiments" / f"{name}.yaml"))
    values["model"] = {"family": "transducer", "preset": "tiny", "config": {"ctc_weight": 0.0}}
    values["data"].update(
        corpus_dir=str(corpus), spm_model=str(spm), cmvn=str(cmvn), max_frames_per_batch=2000,
        num_prefetch=0, max_valid_utterances=1,
    )  # fmt: skip
    # A tiny learning rate keeps the weights near their random start, which emits tokens on
    # every frame, so that every latency column has something to measure.
    values["optim"].update(lr=1e-6, warmup_steps=0)
    values["trainer"].update(
        output_dir=str(work / "runs" / name), max_steps=2, validate_every_steps=2,
        checkpoint_every_steps=2, progress=False, num_threads=1,
    )  # fmt: skip
    path = work / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(values), path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Four tiny models of the comparison, two steps each; returns their configs and the corpus."""
    work = tmp_path_factory.mktemp("joint")
    corpus = work / "corpus"
    _synth(corpus)
    train_instances = read_mustc(corpus, "train", tgt_langs=["de", "es"])
    texts = {
        "en": [i.source_text for i in train_instances],
        "de": [i.target_texts["de"] for i in train_instances],
        "es": [i.target_texts["es"] for i in train_instances],
    }
    vocabularies = {  # name -> (languages, tags)
        "asr_tt_equal": (("en",), ()),
        "st_tt_equal": (("de",), ()),
        "joint_tt_asr_st": (("en", "de"), ("<asr>", "<st>")),
        "joint_tt_one_to_many": (("en", "de", "es"), ("<asr>", "<de>", "<es>")),
    }
    cmvn = corpus / "cmvn.npz"
    compute_cmvn(train_instances, FbankConfig(), progress=False).save(cmvn)
    configs = []
    for name in NAMES:
        langs, tags = vocabularies[name]
        spm = train_sentencepiece(
            work / f"spm_{name}", SpmConfig(vocab_size=80, model_type="char", tags=tags),
            texts=[text for lang in langs for text in texts[lang]],
        )  # fmt: skip
        config = _tiny_config(name, corpus, spm.model_path, cmvn, work)
        assert train(load_train_config(config)).finished
        configs.append(config)
    return configs, corpus


def test_the_table_has_every_column_and_a_row_per_model_and_stream(
    trained: tuple[list[Path], Path], tmp_path: Path
) -> None:
    configs, corpus = trained
    out = tmp_path / "eval"
    table = evaluate.evaluate_runs(evaluate.model_runs(configs), out, progress=False)

    assert list(table.columns) == list(evaluate.TABLE_COLUMNS)
    assert list(zip(table["model"], table["stream"], table["lang"], strict=True)) == ROWS
    is_asr = table["stream"] == "asr"
    assert table.loc[is_asr, "WER"].notna().all() and table.loc[~is_asr, "WER"].isna().all()
    for column in ("BLEU", "chrF"):
        assert table.loc[~is_asr, column].notna().all() and table.loc[is_asr, column].isna().all()
    assert table[["oracle_LAAL", "oracle_AL"]].notna().all().all()
    # Latency is scored on every stream that wrote something (the scorer skips empty outputs).
    wrote = [
        any(r.streams[stream].prediction for r in read_instances_log(out / name))
        for name, stream, _ in ROWS
    ]
    assert sum(wrote) >= 3
    for column in ("LAAL", "AL", "LAAL_CA", "AL_CA"):
        assert table[column].notna().tolist() == wrote
    # Computation-aware latency adds this machine's compute time to the plain one.
    timed = table[wrote]
    assert (timed["AL_CA"] >= timed["AL"]).all() and (timed["LAAL_CA"] >= timed["LAAL"]).all()
    for config in configs:
        run = load_train_config(config)
        rows = table[table["model"] == config.stem]
        assert set(rows["vocab"]) == {Tokenizer(Path(run.data.spm_model)).vocab_size}
        state = load_checkpoint(Path(run.trainer.output_dir) / "checkpoints" / "last.pt").state_dict
        assert set(rows["params"]) == {sum(t.numel() for t in state.values())}

    # Each model's row is its own `simul eval`-style scores file, per stream.
    for name in NAMES:
        assert (out / name / "instances.log").is_file()
        scores = pd.read_csv(out / name / "corpus_scores.tsv", sep="\t", index_col="stream")
        rows = table[table["model"] == name].set_index("stream")
        for stream, row in rows.iterrows():
            for column in ("LAAL", "AL", "LAAL_CA", "AL_CA", "WER", "BLEU", "chrF"):
                if column in scores.columns and not math.isnan(scores.loc[stream, column]):
                    assert row[column] == pytest.approx(scores.loc[stream, column])
        assert len(read_instances_log(out / name)) == NUM_TEST

    # The oracle columns are `simul data oracle`'s numbers for each language.
    instances = read_mustc(corpus, "test", tgt_langs=["de", "es"])
    for lang in ("de", "es"):
        expected = score(
            oracle_outputs(instances, lang),
            ScoringConfig(latency_metrics=("AL",), quality_metrics=()),
        )
        rows = table[table["lang"] == lang]
        assert rows["oracle_AL"].tolist() == pytest.approx(
            [expected.corpus.loc[lang, "AL"]] * len(rows)
        )

    # Both tables hold the same rows; the markdown one has every column.
    tsv = pd.read_csv(out / "table.tsv", sep="\t", comment="#")
    assert list(tsv.columns) == list(evaluate.TABLE_COLUMNS) and len(tsv) == len(ROWS)
    pd.testing.assert_series_equal(tsv["AL"], table["AL"], check_exact=False, rtol=1e-5)
    markdown = (out / "table.md").read_text().splitlines()
    assert markdown[0] == "| " + " | ".join(evaluate.TABLE_COLUMNS) + " |"
    assert len(markdown) == 2 + len(ROWS)


def test_an_unfinished_or_missing_run_is_refused(
    trained: tuple[list[Path], Path], tmp_path: Path
) -> None:
    configs, _ = trained
    longer = tmp_path / "asr_tt_equal.yaml"
    longer.write_text(configs[0].read_text().replace("max_steps: 2", "max_steps: 5"))
    with pytest.raises(ValueError, match=r"must be the end of its run \(5 steps.*at step 2"):
        evaluate.model_runs([longer])
    missing = tmp_path / "missing" / "st_tt_equal.yaml"
    missing.parent.mkdir()
    missing.write_text(configs[1].read_text().replace("runs/st_tt_equal", "runs/nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere.*simul train"):
        evaluate.model_runs([missing])
    with pytest.raises(ValueError, match="distinct file names"):
        evaluate.model_runs([configs[0], configs[0]])


def test_the_transcript_oracle_writes_each_word_when_it_ends() -> None:
    words = (
        WordSpan("the", 0, 3_200),
        WordSpan("dog", 3_200, 8_000),
        WordSpan("runs", 9_600, 16_000),
    )
    instance = Instance(
        id="u", audio_path=Path("u.wav"), offset_samples=0, num_samples=17_600, sample_rate=16_000,
        source_text="the dog runs", target_texts={}, source_words=words,
    )  # fmt: skip
    (record,) = evaluate.transcript_oracle_outputs([instance])
    stream = record.streams["asr"]
    assert stream.delays == (200.0, 500.0, 1000.0)
    assert stream.prediction == stream.reference == "the dog runs"
    # AL by hand: |X| = 1100 ms, |Y*| = 3, tau = 3 (no delay reaches |X|):
    # ((200 - 0) + (500 - 366.67) + (1000 - 733.33)) / 3 = 200.
    scores = score([record], ScoringConfig(latency_metrics=("AL",), quality_metrics=()))
    assert scores.corpus.loc["asr", "AL"] == pytest.approx(200.0)

    with pytest.raises(ValueError, match="gold source word times"):
        evaluate.transcript_oracle_outputs([Instance(
            id="v", audio_path=Path("v.wav"), offset_samples=0, num_samples=100,
            sample_rate=16_000, source_text="hi", target_texts={},
        )])  # fmt: skip
    bad = Instance(
        id="w", audio_path=Path("w.wav"), offset_samples=0, num_samples=17_600,
        sample_rate=16_000, source_text="the cat runs", target_texts={}, source_words=words,
    )  # fmt: skip
    with pytest.raises(ValueError, match="'w'.*must be the words of its transcript"):
        evaluate.transcript_oracle_outputs([bad])

"""``simul data synth`` and ``simul data tts``: tiny builds, determinism, real text, errors."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pytest

from simul.cli import data
from simul.data import benchmark
from simul.data.benchmark import CorpusSize
from simul.data.check import CheckConfig, check_items
from simul.data.readers import read_mustc, read_mustc_items

_MULTI30K = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "multi30k"


def _run(argv: list[str]) -> int:
    """Parse ``simul data ...`` arguments with the real parsers and run the command."""
    parser = argparse.ArgumentParser(prog="simul")
    data.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return args.run(args)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def few_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'tiny' size of a handful of segments, so that the tests stay fast."""
    size = CorpusSize({"train": 6, "dev": 3, "test": 3}, {"train": 2, "dev": 1, "test": 1})
    monkeypatch.setitem(benchmark.SIZES, "tiny", size)


def test_synth_tiny_builds_a_valid_deterministic_corpus(few_segments: None, tmp_path: Path) -> None:
    argv = ["--size", "tiny", "--seed", "3", "--no-progress", "--segments-per-talk", "4"]
    assert _run(["synth", str(tmp_path / "a"), *argv]) == 0
    assert _run(["synth", str(tmp_path / "b"), *argv, "--jobs", "2"]) == 0
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")

    root = tmp_path / "a"
    speakers = {}
    for split, count in (("train", 6), ("dev", 3), ("test", 3)):
        instances = read_mustc(root, split, tgt_langs=("de", "es"))
        assert len(instances) == count
        speakers[split] = {instance.speaker_id for instance in instances}
        report = check_items(
            read_mustc_items(root, split, tgt_langs=("de", "es")),
            CheckConfig(target_langs=("de", "es"), progress=False),
        )
        assert report.ok, report.problems
    assert not speakers["train"] & (speakers["dev"] | speakers["test"])
    sources = {split: (root / split / "txt" / f"{split}.en").read_text() for split in speakers}
    assert not set(sources["train"].splitlines()) & set(sources["test"].splitlines())
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["splits"]["train"]["segments"] == 6 and manifest["seed"] == 3


def test_synth_grammar_knobs_and_splits_reach_the_corpus(
    few_segments: None, tmp_path: Path
) -> None:
    argv = ["synth", str(tmp_path), "--size", "tiny", "--splits", "dev", "--langs", "de"]
    argv += ["--subordinate-clause-rate", "1", "--no-progress"]
    assert _run(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev", "manifest.json"]
    records = [
        json.loads(line)
        for line in (tmp_path / "dev" / "txt" / "dev.jsonl").read_text().splitlines()
    ]
    assert len(records) == 3 and all("subordinate" in r["phenomena"] for r in records)
    assert all(list(r["alignments"]) == ["de"] for r in records)
    assert not (tmp_path / "dev" / "txt" / "dev.es").exists()
    # The test split alone equals the test split of a full build (same deal of sentences).
    assert (
        _run(["synth", str(tmp_path / "t"), "--size", "tiny", "--splits", "test", "--no-progress"])
        == 0
    )
    assert _run(["synth", str(tmp_path / "all"), "--size", "tiny", "--no-progress"]) == 0
    assert _tree_bytes(tmp_path / "t" / "test") == _tree_bytes(tmp_path / "all" / "test")


def test_synth_help_documents_the_grammar_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run(["synth", "--help"])
    help_text = capsys.readouterr().out
    assert "--subordinate-clause-rate" in help_text and "subordinate clause" in help_text
    assert "--no-deduplicate" in help_text


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.skipif(not _MULTI30K.is_dir(), reason="../shared/data/multi30k is absent")
def test_tts_speaks_five_multi30k_lines(tmp_path: Path) -> None:
    files = {lang: _MULTI30K / f"val.{lang}.gz" for lang in ("en", "de", "fr")}
    argv = ["tts", "--source", str(files["en"]), "--target", f"de={files['de']}"]
    argv += ["--target", f"fr={files['fr']}", "--out", str(tmp_path), "--split", "val"]
    argv += ["--limit", "5", "--seed", "1", "--no-progress"]
    assert _run(argv) == 0
    instances = read_mustc(tmp_path, "val", tgt_langs=("de", "fr"))
    with gzip.open(files["en"], "rt", encoding="utf-8") as stream:
        first_lines = [stream.readline().strip() for _ in range(5)]
    assert [instance.source_text for instance in instances] == [
        " ".join(line.split()) for line in first_lines
    ]
    assert all(
        instance.target_texts["de"] and instance.target_texts["fr"] for instance in instances
    )
    report = check_items(
        read_mustc_items(tmp_path, "val", tgt_langs=("de", "fr")),
        CheckConfig(target_langs=("de", "fr"), progress=False),
    )
    assert report.ok, report.problems
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["segments"] == 5 and manifest["untimed_lines"] == []


def test_tts_leaves_out_empty_and_untimeable_lines(tmp_path: Path) -> None:
    source = _write_lines(
        tmp_path / "s.en",
        ["A dog runs.", "", "There is a crowd on the busy corner of 18th St. outside Bank of America.",
         "A cat sleeps."],
    )  # fmt: skip
    target = _write_lines(
        tmp_path / "s.de", ["Ein Hund rennt.", "Leer.", "Eine Menge.", "Eine Katze schläft."]
    )
    argv = [
        "tts",
        "--source",
        str(source),
        "--target",
        f"de={target}",
        "--out",
        str(tmp_path / "c"),
    ]
    assert _run([*argv, "--split", "train", "--no-progress"]) == 0
    assert (
        tmp_path / "c" / "train" / "txt" / "train.en"
    ).read_text() == "A dog runs.\nA cat sleeps.\n"
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["empty_lines"] == [2]
    assert [entry["line"] for entry in manifest["untimed_lines"]] == [3]


def test_tts_input_errors(tmp_path: Path) -> None:
    source = _write_lines(tmp_path / "s.en", ["A dog runs.", "A cat sleeps."])
    short = _write_lines(tmp_path / "s.de", ["Ein Hund rennt."])
    argv = ["tts", "--source", str(source), "--out", str(tmp_path / "c"), "--split", "dev"]
    with pytest.raises(ValueError, match="one line per entry"):
        _run([*argv, "--target", f"de={short}"])
    with pytest.raises(SystemExit):
        _run([*argv, "--target", "de-without-file"])
    with pytest.raises(ValueError, match="distinct"):
        _run([*argv, "--target", f"de={short}", "--target", f"de={short}"])
    with pytest.raises(FileNotFoundError):
        _run([*argv, "--target", f"de={tmp_path / 'missing.de'}"])

"""``simul data check``: a clean corpus passes; every planted problem is found, all at once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from simul.cli import data_check
from simul.data.check import CheckConfig, check_items
from simul.data.readers import read_mustc_items

SR = 16_000


def write_audio(
    path: Path, samples: np.ndarray, sample_rate: int = SR, subtype: str = "PCM_16"
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sample_rate, subtype=subtype)


def tone(num_samples: int, channels: int = 1, sample_rate: int = SR) -> np.ndarray:
    mono = 0.3 * np.sin(2 * np.pi * 220 * np.arange(num_samples) / sample_rate).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


def good_segment(talk: str, offset_s: float, seg_id: str) -> dict:
    """One second of 'a b c' -> 'x y z' with in-order word times and in-range alignments."""
    return {
        "talk": talk,
        "offset": offset_s,
        "duration": 1.0,
        "en": "a b c",
        "de": "x y z",
        "gold": {
            "id": seg_id,
            "words": [["a", 0, 300], ["b", 300, 600], ["c", 600, 1000]],
            "alignments": {"de": [[0, 0], [2, 1], [1, 2]]},
        },
    }


def write_corpus(root: Path, segments: list[dict], split: str = "dev") -> Path:
    txt = root / split / "txt"
    txt.mkdir(parents=True, exist_ok=True)
    yaml_lines, en, de, gold = [], [], [], []
    for segment in segments:
        yaml_lines.append(
            f"- {{duration: {segment['duration']}, offset: {segment['offset']}, speaker_id: s, "
            f"wav: {segment['talk']}.wav}}\n"
        )
        en.append(segment["en"] + "\n")
        de.append(segment["de"] + "\n")
        gold.append(json.dumps(segment["gold"]) + "\n")
    (txt / f"{split}.yaml").write_text("".join(yaml_lines))
    (txt / f"{split}.en").write_text("".join(en))
    (txt / f"{split}.de").write_text("".join(de))
    (txt / f"{split}.jsonl").write_text("".join(gold))
    return root


def clean_corpus(root: Path) -> Path:
    write_audio(root / "dev" / "wav" / "good.wav", tone(2 * SR))
    return write_corpus(root, [good_segment("good", 0.0, "g0"), good_segment("good", 1.0, "g1")])


def run_check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    data_check.add_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.run(args)


def test_clean_corpus_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean_corpus(tmp_path)
    report = check_items(read_mustc_items(tmp_path, "dev"), CheckConfig(progress=False))
    assert report.ok and (report.num_instances, report.num_audio_files, report.audio_ms) == (
        2,
        1,
        2000.0,
    )
    assert run_check([str(tmp_path), "--no-progress"]) == 0
    assert "no problems found" in capsys.readouterr().out


def planted_corpus(root: Path) -> tuple[Path, dict[str, int]]:
    """A corpus with one of each problem; returns it and the YAML line of each planted segment."""
    wav = root / "dev" / "wav"
    write_audio(wav / "good.wav", tone(2 * SR))
    write_audio(wav / "rate.wav", tone(44_100, channels=2, sample_rate=44_100), sample_rate=44_100)
    nan = tone(SR)
    nan[100] = np.nan
    write_audio(wav / "nan.wav", nan, subtype="FLOAT")
    write_audio(wav / "silent.wav", np.zeros(SR, np.float32))
    write_audio(wav / "truncated.wav", tone(2 * SR))
    data = (wav / "truncated.wav").read_bytes()
    (wav / "truncated.wav").write_bytes(data[: len(data) // 2])  # header still promises 2 s

    words_bad = good_segment("good", 1.0, "words")
    words_bad["gold"]["words"] = [["a", 0, 300], ["b", 200, 250], ["c", 600, 1500]]
    align_bad = good_segment("good", 0.0, "align")
    align_bad["gold"]["alignments"] = {"de": [[0, 0], [3, 1], [1, 7]]}
    empty_de = {**good_segment("good", 0.0, "empty_de"), "de": ""}
    empty_de["gold"] = {**empty_de["gold"], "alignments": {}}
    segments = {
        "ok": good_segment("good", 0.0, "ok"),
        "rate": good_segment("rate", 0.0, "rate"),
        "nan": good_segment("nan", 0.0, "nan"),
        "silent": good_segment("silent", 0.0, "silent"),
        "truncated": good_segment("truncated", 0.5, "truncated"),
        "words": words_bad,
        "align": align_bad,
        "empty_de": empty_de,
        "duplicate": good_segment("good", 1.0, "ok"),
        "missing": good_segment("missing", 0.0, "missing"),
    }
    write_corpus(root, list(segments.values()))
    return root, {name: line for line, name in enumerate(segments, start=1)}


def test_planted_problems_are_all_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, lines = planted_corpus(tmp_path)
    out_tsv = tmp_path / "problems.tsv"
    assert (
        run_check(
            [
                str(root),
                "--format",
                "mustc",
                "--split",
                "dev",
                "--no-progress",
                "--problems-out",
                str(out_tsv),
            ]
        )
        == 1
    )
    printed = capsys.readouterr().out
    rows = [line.split("\t") for line in out_tsv.read_text().splitlines()[1:]]
    found = {(kind, where) for kind, where, _ in rows}
    yaml = root / "dev" / "txt" / "dev.yaml"
    wav = root / "dev" / "wav"

    def at(name: str) -> str:
        return f"{yaml}:{lines[name]}"

    assert ("sample_rate", str(wav / "rate.wav")) in found
    assert ("channels", str(wav / "rate.wav")) in found
    assert ("non_finite", at("nan")) in found
    assert ("silent", at("silent")) in found
    assert any(where == at("truncated") for _, where in found)  # reader or reading: either names it
    assert ("word_times", at("words")) in found
    assert ("alignment", at("align")) in found
    assert ("missing_text", at("empty_de")) in found
    assert ("duplicate_id", at("duplicate")) in found
    assert ("entry", at("missing")) in found
    assert not any(where == at("ok") for _, where in found)
    word_messages = [m for kind, where, m in rows if kind == "word_times"]
    assert any("ends at sample 24000" in m for m in word_messages)  # 1500 ms past a 1 s segment
    assert any("must increase" in m for m in word_messages)
    assert "problems" in printed and "word_times: 2" in printed


def test_allow_resample_accepts_other_rates_and_channels(tmp_path: Path) -> None:
    write_audio(tmp_path / "dev" / "wav" / "rate.wav", tone(44_100, 2, 44_100), sample_rate=44_100)
    write_corpus(tmp_path, [good_segment("rate", 0.0, "r0")])
    items = read_mustc_items(tmp_path, "dev")
    strict = check_items(items, CheckConfig(progress=False))
    assert {p.kind for p in strict.problems} == {"sample_rate", "channels"}
    relaxed = check_items(items, CheckConfig(allow_resample=True, progress=False))
    assert relaxed.ok and relaxed.resample_files == (tmp_path / "dev" / "wav" / "rate.wav",)
    assert run_check([str(tmp_path), "--allow-resample", "--no-progress"]) == 0


def test_unreadable_split_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_corpus(tmp_path)
    (tmp_path / "dev" / "txt" / "dev.de").write_text("only one line\n")
    assert run_check([str(tmp_path), "--no-progress"]) == 1
    assert "cannot be read" in capsys.readouterr().out


def test_simuleval_lists_without_transcripts_need_none(tmp_path: Path) -> None:
    write_audio(tmp_path / "a.wav", tone(SR))
    (tmp_path / "tst.wav_list").write_text("a.wav\n")
    (tmp_path / "tst.de").write_text("eins\n")
    assert run_check([str(tmp_path), "--no-progress"]) == 0
    (tmp_path / "tst.de").write_text("\n")
    assert run_check([str(tmp_path), "--no-progress"]) == 1

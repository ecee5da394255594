"""MuST-C layout writer: files and fields, offsets inside the talks, round trip, atomicity."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from hypothesis import given
from hypothesis import strategies as st

from simul.data import corpus_writer
from simul.data.check import CheckConfig, check_items
from simul.data.corpus_writer import SegmentText, TalkConfig, write_split
from simul.data.readers import read_mustc, read_mustc_items
from simul.data.tts import SAMPLE_RATE, Voice

_VOICES = (Voice("en-us", 170, 45), Voice("en-gb-x-rp+f2", 160, 60))
_SEGMENTS = tuple(
    SegmentText(
        source_text=f"The {animal} sees the {thing}.",
        target_texts={"de": f"Der Hund sieht {n}.", "es": f"El perro ve {n}."},
        alignments={"de": ((0, 0), (1, 1), (2, 2)), "es": ((0, 0), (1, 1), (2, 2))},
        phenomena=frozenset({"plural"}) if n % 2 else frozenset(),
    )
    for n, (animal, thing) in enumerate(
        [("dog", "cat"), ("bird", "tree"), ("horse", "car"), ("child", "ball"), ("man", "boat")]
    )
)
_CONFIG = TalkConfig(segments_per_talk=2, min_gap_ms=200, max_gap_ms=400, edge_silence_ms=100)


def _write(root: Path, **overrides) -> corpus_writer.SplitManifest:
    arguments = dict(
        seed=7, target_langs=["de", "es"], config=_CONFIG, progress=False, overwrite=False
    )
    arguments.update(overrides)
    return write_split(root, "dev", _SEGMENTS, _VOICES, **arguments)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, corpus_writer.SplitManifest]:
    root = tmp_path_factory.mktemp("corpus")
    return root, _write(root)


def test_layout_and_yaml_fields(corpus: tuple[Path, corpus_writer.SplitManifest]) -> None:
    root, manifest = corpus
    txt = root / "dev" / "txt"
    items = yaml.safe_load((txt / "dev.yaml").read_text())
    assert len(items) == 5 and manifest.num_segments == 5 and manifest.num_talks == 3
    for item in items:
        assert set(item) == {"duration", "offset", "rW", "uW", "speaker_id", "wav"}
        assert item["speaker_id"] in {voice.speaker_id for voice in _VOICES}
    assert [item["rW"] for item in items] == [len(s.source_text.split()) for s in _SEGMENTS]
    for lang, key in (("en", None), ("de", "de"), ("es", "es")):
        lines = (txt / f"dev.{lang}").read_text().splitlines()
        expected = [s.target_texts[key] if key else s.source_text for s in _SEGMENTS]
        assert lines == expected
    records = [json.loads(line) for line in (txt / "dev.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [f"dev_talk0000{i // 2}_{i % 2}" for i in range(5)]
    assert records[1]["phenomena"] == ["plural"] and records[0]["phenomena"] == []
    assert records[0]["alignments"]["de"] == [[0, 0], [1, 1], [2, 2]]
    assert json.loads((root / "dev" / "manifest.json").read_text())["num_segments"] == 5


def test_segments_lie_inside_their_16bit_talk_wavs(
    corpus: tuple[Path, corpus_writer.SplitManifest],
) -> None:
    root, _ = corpus
    items = yaml.safe_load((root / "dev" / "txt" / "dev.yaml").read_text())
    by_wav: dict[str, list[dict]] = {}
    for item in items:
        by_wav.setdefault(item["wav"], []).append(item)
    for wav, segments in by_wav.items():
        info = soundfile.info(str(root / "dev" / "wav" / wav))
        assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
        audio, _ = soundfile.read(str(root / "dev" / "wav" / wav), dtype="float32")
        ends = []
        for segment in segments:
            start = round(Decimal(str(segment["offset"])) * SAMPLE_RATE)
            end = start + round(Decimal(str(segment["duration"])) * SAMPLE_RATE)
            assert 0 < start < end <= info.frames
            assert np.abs(audio[start:end]).max() > 0.1
            ends.append((start, end))
        # Segments are separated by pure silence (no noise asked for).
        for (_, end), (next_start, _) in zip(ends, ends[1:], strict=False):
            assert next_start - end >= 0.2 * SAMPLE_RATE
            assert not audio[end:next_start].any()


def test_reader_and_checker_accept_the_corpus(
    corpus: tuple[Path, corpus_writer.SplitManifest],
) -> None:
    root, _ = corpus
    instances = read_mustc(root, "dev", tgt_langs=("de", "es"))
    assert [i.source_text for i in instances] == [s.source_text for s in _SEGMENTS]
    for instance in instances:
        assert instance.sample_rate == SAMPLE_RATE and instance.source_words is not None
        assert [w.word for w in instance.source_words] == instance.source_text.split()
        assert instance.source_words[-1].end_sample <= instance.num_samples
        assert instance.alignments == {
            "de": ((0, 0), (1, 1), (2, 2)),
            "es": ((0, 0), (1, 1), (2, 2)),
        }
    report = check_items(
        read_mustc_items(root, "dev", tgt_langs=("de", "es")),
        CheckConfig(target_langs=("de", "es"), progress=False),
    )
    assert report.ok, report.problems


def test_same_seed_gives_byte_identical_files_whatever_the_jobs(
    corpus: tuple[Path, corpus_writer.SplitManifest], tmp_path: Path
) -> None:
    root, _ = corpus
    _write(tmp_path / "again", config=TalkConfig(**{**vars(_CONFIG), "jobs": 2}))
    assert _tree_bytes(tmp_path / "again") == _tree_bytes(root)
    _write(tmp_path / "other_seed", seed=8)
    assert _tree_bytes(tmp_path / "other_seed") != _tree_bytes(root)


def test_noise_fills_the_silences(tmp_path: Path) -> None:
    config = TalkConfig(segments_per_talk=2, noise_snr_db=20.0)
    write_split(
        tmp_path, "dev", _SEGMENTS[:2], _VOICES, seed=1, target_langs=["de"], config=config,
        progress=False,
    )  # fmt: skip
    audio, _ = soundfile.read(str(tmp_path / "dev" / "wav" / "dev_talk00000.wav"), dtype="float32")
    lead = audio[: int(0.2 * SAMPLE_RATE)]
    assert lead.any() and np.abs(lead).max() < 0.1


def test_existing_split_needs_overwrite_and_overwrite_removes_stale_files(
    tmp_path: Path,
) -> None:
    _write(tmp_path)
    with pytest.raises(ValueError, match="already holds a corpus split"):
        _write(tmp_path)
    write_split(
        tmp_path, "dev", _SEGMENTS[:1], _VOICES, seed=7, target_langs=["de"], config=_CONFIG,
        progress=False, overwrite=True,
    )  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "dev" / "wav").iterdir()) == ["dev_talk00000.wav"]
    assert not (tmp_path / "dev" / "txt" / "dev.es").exists()
    assert len(read_mustc(tmp_path, "dev", tgt_langs=("de",))) == 1


def test_a_failed_write_leaves_no_partial_file_and_no_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simul.io

    real_fsync, calls = simul.io.os.fsync, []

    def fsync_failing_on_second_file(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second talk's wav: its bytes are in the temporary file now
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(simul.io.os, "fsync", fsync_failing_on_second_file)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path)
    files = sorted(p.name for p in (tmp_path / "dev").rglob("*") if p.is_file())
    assert files == ["dev_talk00000.wav"]  # the first talk, complete; no temp file, no manifest
    assert soundfile.info(str(tmp_path / "dev" / "wav" / "dev_talk00000.wav")).frames > 0


def test_bad_segments_are_clear_errors(tmp_path: Path) -> None:
    bad_alignment = SegmentText("A dog.", {"de": "Ein Hund."}, {"de": ((0, 0), (1, 5))})
    with pytest.raises(ValueError, match=r"alignments\['de'\].*\(1, 5\)"):
        write_split(tmp_path, "dev", [bad_alignment], _VOICES, seed=0, target_langs=["de"])
    missing = SegmentText("A dog.", {"es": "Un perro."})
    with pytest.raises(ValueError, match="must have a 'de' text"):
        write_split(tmp_path, "dev", [missing], _VOICES, seed=0, target_langs=["de"])
    with pytest.raises(ValueError, match="split"):
        write_split(tmp_path, "dev split", _SEGMENTS, _VOICES, seed=0, target_langs=["de"])
    with pytest.raises(ValueError, match="segments_per_talk"):
        TalkConfig(segments_per_talk=0)
    assert not (tmp_path / "dev").exists()


@given(st.integers(0, 10**12))
def test_seconds_are_exact_decimals(num_samples: int) -> None:
    text = corpus_writer._seconds(num_samples)
    assert "e" not in text.lower()
    assert Decimal(text) * SAMPLE_RATE == num_samples

"""Corpus readers: each format round-trips a fixture corpus, and every bad input names file and line."""

from __future__ import annotations

import csv
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.data.instance import WordSpan
from simul.data.readers import (
    detect_format,
    find_splits,
    read_corpus_split,
    read_covost,
    read_fairseq_s2t,
    read_mustc,
    read_mustc_items,
    read_simuleval_lists,
)
from simul.data.readers.mustc import _flow_segments, _yaml_segments

SR = 16_000


def write_wav(path: Path, num_samples: int, sample_rate: int = SR, channels: int = 1) -> Path:
    """A short tone plus noise, 16-bit PCM (what corpora ship)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(num_samples)
    t = np.arange(num_samples) / sample_rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(num_samples)
    data = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
    soundfile.write(path, data.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# --- MuST-C ---------------------------------------------------------------------------------

SEGMENTS = [  # (talk, offset s, duration s, speaker), listed out of offset order for talk a
    ("ted_a", "1.5", "0.75", "spk1"),
    ("ted_a", "0.25", "1.0", "spk1"),
    ("ted_b", "0.0", "2.0", "spk2"),
]
EN = ["second segment of a", "first segment of a", "only segment of b"]
DE = ["zweites Segment von a", "erstes Segment von a", "einziges Segment von b"]


def write_mustc(root: Path, split: str = "dev", segments=SEGMENTS, en=EN, de=DE) -> Path:
    txt = root / split / "txt"
    write_wav(root / split / "wav" / "ted_a.wav", 3 * SR)
    write_wav(root / split / "wav" / "ted_b.wav", 2 * SR)
    items = "".join(
        f"- {{duration: {d}, offset: {o}, speaker_id: {s}, wav: {t}.wav}}\n"
        for t, o, d, s in segments
    )
    (txt).mkdir(parents=True, exist_ok=True)
    (txt / f"{split}.yaml").write_text(items, encoding="utf-8")
    write_lines(txt / f"{split}.en", en)
    write_lines(txt / f"{split}.de", de)
    return root


def test_mustc_round_trip(tmp_path: Path) -> None:
    instances = read_mustc(write_mustc(tmp_path), "dev", tgt_langs=("de",))
    assert [i.id for i in instances] == ["ted_a_1", "ted_a_0", "ted_b_0"]  # rank by offset per talk
    first = instances[0]
    assert first.audio_path == tmp_path / "dev" / "wav" / "ted_a.wav"
    assert (first.offset_samples, first.num_samples, first.sample_rate) == (24_000, 12_000, SR)
    assert first.duration_ms == 750.0
    assert (first.source_text, dict(first.target_texts)) == (EN[0], {"de": DE[0]})
    assert (first.speaker_id, first.source_lang, first.source_words) == ("spk1", "en", None)
    assert instances[2].num_samples == 2 * SR  # a segment may end exactly at the end of the wav


def test_mustc_reads_gold_times_and_alignments(tmp_path: Path) -> None:
    write_mustc(tmp_path)
    records = [
        {
            "id": "x0",
            "words": [
                ["second", 0, 250.5],
                ["segment", 250.5, 400],
                ["of", 400, 500],
                ["a", 500, 700],
            ],
            "alignments": {"de": [[0, 0], [1, 1]], "es": [[0, 0]]},
        },
        {"id": "x1", "words": None, "alignments": {}},
        {"id": "x2"},
    ]
    write_lines(tmp_path / "dev" / "txt" / "dev.jsonl", [json.dumps(r) for r in records])
    instances = read_mustc(tmp_path, "dev", tgt_langs=("de",))
    assert [i.id for i in instances] == ["x0", "x1", "x2"]
    assert instances[0].source_words == (
        WordSpan("second", 0, 4008),
        WordSpan("segment", 4008, 6400),
        WordSpan("of", 6400, 8000),
        WordSpan("a", 8000, 11200),
    )
    assert instances[0].alignments == {"de": ((0, 0), (1, 1))}  # languages not read are dropped
    assert instances[1].source_words is None and instances[1].alignments is None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6))
def test_mustc_adjacent_segments_tile_the_talk(durations_ms: list[int]) -> None:
    """Contiguous segments written in seconds come back as contiguous sample ranges."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_wav(root / "dev" / "wav" / "t.wav", 3 * SR)
        offsets = np.cumsum([0, *durations_ms])[:-1]
        lines = [
            f"- {{duration: {d / 1000}, offset: {o / 1000}, wav: t.wav}}"
            for o, d in zip(offsets, durations_ms, strict=True)
        ]
        write_lines(root / "dev" / "txt" / "dev.yaml", lines)
        write_lines(root / "dev" / "txt" / "dev.en", ["w"] * len(lines))
        write_lines(root / "dev" / "txt" / "dev.de", ["w"] * len(lines))
        instances = read_mustc(root, "dev")
    for previous, current in zip(instances[:-1], instances[1:], strict=True):
        assert previous.offset_samples + previous.num_samples == current.offset_samples
    assert [i.num_samples for i in instances] == [d * 16 for d in durations_ms]


_VALUE_CHARS = "ab09._-+/: #,'\"{}[]&*!|>%@`?\t"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["duration", "offset", "rW", "uW", "speaker_id", "wav"]),
            st.text(alphabet=_VALUE_CHARS, min_size=1, max_size=8),
            min_size=1,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_flow_fast_path_agrees_with_the_yaml_parser(items: list[dict[str, str]]) -> None:
    """Where the fast MuST-C line parser answers, PyYAML gives the same strings (else it defers)."""
    text = "".join(
        "- {" + ", ".join(f"{k}: {v}" for k, v in item.items()) + "}\n" for item in items
    )
    fast = _flow_segments(text)
    if fast is not None:
        assert fast == _yaml_segments(text.encode(), Path("x.yaml"))


def test_flow_fast_path_takes_real_mustc_lines() -> None:
    text = (
        "- {duration: 3.500000, offset: 16.210000, rW: 9, uW: 0, speaker_id: spk.1, wav: ted_1.wav}\n"
        "- {duration: 2.1, offset: 20.0, rW: 4, uW: 1, speaker_id: Jane Doe, wav: ted_1.wav}\n"
    )
    fast = _flow_segments(text)
    assert fast is not None and fast == _yaml_segments(text.encode(), Path("x.yaml"))
    assert fast[1] == (
        2,
        {
            "duration": "2.1",
            "offset": "20.0",
            "rW": "4",
            "uW": "1",
            "speaker_id": "Jane Doe",
            "wav": "ted_1.wav",
        },
    )


def _error(tmp_path: Path, exception: type[Exception] = ValueError) -> str:
    with pytest.raises(exception) as info:
        read_mustc(tmp_path, "dev", tgt_langs=("de",))
    return str(info.value)


def test_mustc_missing_wav_names_yaml_line_and_field(tmp_path: Path) -> None:
    segments = [*SEGMENTS[:2], ("ted_missing", "0", "1", "spk3")]
    write_mustc(tmp_path, segments=segments)
    message = _error(tmp_path, FileNotFoundError)
    assert "dev.yaml:3" in message and "`wav`" in message and "ted_missing.wav" in message


def test_mustc_segment_past_end_of_wav(tmp_path: Path) -> None:
    write_mustc(tmp_path, segments=[*SEGMENTS[:2], ("ted_b", "1.5", "0.6", "spk2")])
    message = _error(tmp_path)
    assert (
        "dev.yaml:3" in message
        and "`offset` + `duration`" in message
        and "32000 samples" in message
    )


@pytest.mark.parametrize("language", ["en", "de"])
def test_mustc_mismatched_line_counts(tmp_path: Path, language: str) -> None:
    write_mustc(tmp_path)
    write_lines(tmp_path / "dev" / "txt" / f"dev.{language}", ["one", "two"])
    message = _error(tmp_path)
    assert f"dev.{language}" in message and "(3)" in message and "has 2" in message
    assert "line 3" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("", "is empty"),
        ("[]\n", "has no segments"),
        (
            "- {duration: 1.0, offset: 0.0, wav: ted_a.wav}\n- {duration: 1.0, offset: 0.0\n",
            "dev.yaml:3",
        ),
        (
            "- {duration: 1.0, offset: 0.0, wav: ted_a.wav}\n- {duration: 1.0, offset: soon, wav: ted_a.wav}\n",
            "dev.yaml:2: `offset` must be a number of seconds, but is 'soon'",
        ),
        (
            "- {duration: 1.0, offset: 0.0, wav: ted_a.wav}\n- {duration: 0, offset: 1.0, wav: ted_a.wav}\n",
            "dev.yaml:2: `duration` must be > 0",
        ),
        (
            "- {duration: 1.0, offset: 0.0, wav: ted_a.wav}\n- {duration: 1.0, offset: 1.0}\n",
            "dev.yaml:2: segment must have a non-empty `wav`",
        ),
        (
            "- {duration: 1.0, offset: 0.0, wav: ted_a.wav}\n- just text\n",
            "dev.yaml:2: a segment must be a mapping",
        ),
    ],
)
def test_mustc_malformed_yaml(tmp_path: Path, yaml_text: str, expected: str) -> None:
    write_mustc(tmp_path, en=EN[:2], de=DE[:2])
    (tmp_path / "dev" / "txt" / "dev.yaml").write_text(yaml_text, encoding="utf-8")
    assert expected in _error(tmp_path)


def test_mustc_empty_and_corrupt_wavs(tmp_path: Path) -> None:
    write_mustc(tmp_path)
    soundfile.write(tmp_path / "dev" / "wav" / "ted_b.wav", np.zeros(0, np.float32), SR)
    assert "dev.yaml:3" in (m := _error(tmp_path)) and "holds no audio samples" in m
    (tmp_path / "dev" / "wav" / "ted_b.wav").write_bytes(b"RIFF this is no wav at all")
    assert "dev.yaml:3" in (m := _error(tmp_path)) and "not readable audio" in m


def test_mustc_bad_text_encoding_names_the_line(tmp_path: Path) -> None:
    write_mustc(tmp_path)
    (tmp_path / "dev" / "txt" / "dev.de").write_bytes(b"eins\nzw\xffei\ndrei\n")
    assert "dev.de:2" in _error(tmp_path)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("{not json", "dev.jsonl:2: not valid JSON"),
        ('{"words": []}', "dev.jsonl:2: `id` must be a non-empty string"),
        (
            '{"id": "x", "words": [["w", 5]]}',
            "dev.jsonl:2: `words[0]` must be [word, start_ms, end_ms]",
        ),
        (
            '{"id": "x", "words": [["w", 50, 10]]}',
            "dev.jsonl:2: `words[0]` must have 0 <= start_ms <= end_ms",
        ),
        (
            '{"id": "x", "alignments": {"de": [[0, -1]]}}',
            "dev.jsonl:2: `alignments.de` must hold [s, t] pairs",
        ),
    ],
)
def test_mustc_malformed_jsonl(tmp_path: Path, record: str, expected: str) -> None:
    write_mustc(tmp_path)
    write_lines(tmp_path / "dev" / "txt" / "dev.jsonl", ['{"id": "a"}', record, '{"id": "c"}'])
    assert expected in _error(tmp_path)


def test_mustc_collects_every_bad_segment_when_asked(tmp_path: Path) -> None:
    segments = [("ted_missing", "0", "1", "s"), SEGMENTS[1], ("ted_b", "1.9", "0.5", "s")]
    write_mustc(tmp_path, segments=segments)
    problems: list[str] = []
    items = read_mustc_items(tmp_path, "dev", problems=problems)
    assert [item.origin for item in items] == [f"{tmp_path / 'dev' / 'txt' / 'dev.yaml'}:2"]
    assert len(problems) == 2
    assert "dev.yaml:1" in problems[0] and "dev.yaml:3" in problems[1]


# --- fairseq S2T ------------------------------------------------------------------------------


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    """Written exactly as fairseq's ``save_df_to_tsv`` does."""
    pd.DataFrame(rows).to_csv(
        path,
        sep="\t",
        header=True,
        index=False,
        encoding="utf-8",
        escapechar="\\",
        quoting=csv.QUOTE_NONE,
    )
    return path


def s2t_rows(tmp_path: Path) -> list[dict[str, str]]:
    write_wav(tmp_path / "audio" / "u1.wav", 8_000)
    write_wav(tmp_path / "audio" / "talk.wav", 3 * SR)
    return [
        {
            "id": "u1",
            "audio": "audio/u1.wav",
            "n_frames": "8000",
            "tgt_text": 'Er sagte: "Hallo"',
            "speaker": "spk1",
            "src_text": 'He said: "hello"',
        },
        {
            "id": "u2",
            "audio": "audio/talk.wav:16000:8000",
            "n_frames": "8000",
            "tgt_text": "zwei",
            "speaker": "spk2",
            "src_text": "two",
        },
    ]


def test_fairseq_s2t_round_trip(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "dev_st.tsv", s2t_rows(tmp_path))
    first, second = read_fairseq_s2t(manifest, tgt_lang="de")
    assert (first.id, first.offset_samples, first.num_samples) == ("u1", 0, 8_000)
    assert first.source_text == 'He said: "hello"' and first.target_texts == {
        "de": 'Er sagte: "Hallo"'
    }
    assert (second.audio_path, second.offset_samples, second.num_samples) == (
        tmp_path / "audio" / "talk.wav",
        16_000,
        8_000,
    )
    assert second.speaker_id == "spk2"


def test_fairseq_s2t_language_columns_win(tmp_path: Path) -> None:
    rows = [{**row, "src_lang": "en", "tgt_lang": "es"} for row in s2t_rows(tmp_path)]
    instances = read_fairseq_s2t(write_manifest(tmp_path / "m.tsv", rows), tgt_lang="de")
    assert [set(i.target_texts) for i in instances] == [{"es"}, {"es"}]


def test_fairseq_s2t_audio_root(tmp_path: Path) -> None:
    rows = s2t_rows(tmp_path)
    (tmp_path / "manifests").mkdir()
    manifest = write_manifest(tmp_path / "manifests" / "dev_st.tsv", rows)
    with pytest.raises(FileNotFoundError, match="dev_st.tsv:2: `audio` names"):
        read_fairseq_s2t(manifest, tgt_lang="de")
    assert len(read_fairseq_s2t(manifest, tgt_lang="de", audio_root=tmp_path)) == 2


def _s2t_error(manifest: Path, exception: type[Exception] = ValueError) -> str:
    with pytest.raises(exception) as info:
        read_fairseq_s2t(manifest, tgt_lang="de")
    return str(info.value)


def test_fairseq_s2t_bad_inputs(tmp_path: Path) -> None:
    rows = s2t_rows(tmp_path)
    manifest = tmp_path / "m.tsv"
    manifest.write_text("")
    assert "is empty" in _s2t_error(manifest)
    manifest.write_text("id\taudio\tn_frames\ttgt_text\n")
    assert "has a header but no rows" in _s2t_error(manifest)
    manifest.write_text("id\taudio\ttgt_text\nu1\taudio/u1.wav\tx\n")
    assert (
        "m.tsv:1: header must have the columns" in (m := _s2t_error(manifest)) and "n_frames" in m
    )
    write_manifest(manifest, rows)
    with manifest.open("a") as stream:
        stream.write("u3\taudio/u1.wav\t10\n")
    assert "m.tsv:4: row must have 6 tab-separated fields, but has 3" in _s2t_error(manifest)
    write_manifest(manifest, [rows[0], {**rows[1], "n_frames": "many"}])
    assert "m.tsv:3: `n_frames` must be an integer" in _s2t_error(manifest)
    write_manifest(manifest, [rows[0], {**rows[1], "audio": "audio/talk.wav:40000:8001"}])
    assert "m.tsv:3: `audio` slice 40000:8001 must end inside" in _s2t_error(manifest)
    write_manifest(manifest, [rows[0], {**rows[1], "audio": "audio/gone.wav"}])
    assert "m.tsv:3: `audio` names" in _s2t_error(manifest, FileNotFoundError)
    write_manifest(manifest, [rows[0], {**rows[1], "id": " "}])
    assert "m.tsv:3: `id` must be non-empty" in _s2t_error(manifest)
    with pytest.raises(ValueError, match="no `tgt_lang` column; pass `tgt_lang`"):
        read_fairseq_s2t(write_manifest(manifest, rows))


def test_fairseq_s2t_refuses_zip_byte_slices(tmp_path: Path) -> None:
    rows = s2t_rows(tmp_path)
    with zipfile.ZipFile(tmp_path / "fbank80.zip", "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("u1.npy", b"\x93NUMPY fake")
    manifest = write_manifest(tmp_path / "m.tsv", [{**rows[0], "audio": "fbank80.zip:42:1000"}])
    message = _s2t_error(manifest)
    assert "m.tsv:2" in message and "byte slice of the zip archive" in message


# --- CoVoST 2 ---------------------------------------------------------------------------------


def write_covost(root: Path, clips: dict[str, int], split: str = "test") -> Path:
    rows = []
    for name, num_samples in clips.items():
        write_wav(root / "clips" / name, num_samples, sample_rate=48_000)
        rows.append(
            {
                "path": name,
                "sentence": f"say {name}",
                "translation": f"sag {name}",
                "client_id": "c0ffee",
            }
        )
    write_manifest(root / f"covost_v2.en_de.{split}.tsv", rows)
    return root


def test_covost_round_trip(tmp_path: Path) -> None:
    write_covost(tmp_path, {"common_voice_en_1.wav": 4_800, "common_voice_en_2.wav": 9_600})
    first, second = read_covost(tmp_path, "test", "en", "de")
    assert (first.id, first.sample_rate, first.num_samples) == ("common_voice_en_1", 48_000, 4_800)
    assert first.source_text == "say common_voice_en_1.wav"
    assert (
        first.target_texts == {"de": "sag common_voice_en_1.wav"} and first.speaker_id == "c0ffee"
    )
    assert second.audio_path == tmp_path / "clips" / "common_voice_en_2.wav"


def test_covost_reads_mp3_clips(tmp_path: Path) -> None:
    clip = tmp_path / "cv" / "clips" / "common_voice_en_3.mp3"
    clip.parent.mkdir(parents=True)
    try:
        soundfile.write(clip, np.zeros(48_000, np.float32) + 0.1, 48_000, format="MP3")
    except (soundfile.LibsndfileError, TypeError, ValueError) as error:
        pytest.skip(f"this libsndfile cannot encode mp3: {error}")
    write_manifest(
        tmp_path / "covost_v2.en_de.test.tsv",
        [{"path": clip.name, "sentence": "a", "translation": "b", "client_id": "x"}],
    )
    (instance,) = read_covost(tmp_path, "test", clips_dir=tmp_path / "cv" / "clips")
    assert instance.sample_rate == 48_000 and instance.num_samples > 40_000


def test_covost_undecodable_mp3_and_missing_clip(tmp_path: Path) -> None:
    write_covost(tmp_path, {"a.wav": 4_800})
    (tmp_path / "clips" / "broken.mp3").write_bytes(b"ID3 garbage garbage garbage")
    rows = [
        {"path": "a.wav", "sentence": "s", "translation": "t", "client_id": "c"},
        {"path": "broken.mp3", "sentence": "s", "translation": "t", "client_id": "c"},
    ]
    write_manifest(tmp_path / "covost_v2.en_de.test.tsv", rows)
    with pytest.raises(ValueError) as info:
        read_covost(tmp_path, "test")
    assert "covost_v2.en_de.test.tsv:3" in str(info.value) and "could not decode this mp3" in str(
        info.value
    )
    write_manifest(tmp_path / "covost_v2.en_de.test.tsv", [{**rows[0], "path": "gone.mp3"}])
    with pytest.raises(FileNotFoundError, match=r"test.tsv:2: `path` names .*gone.mp3"):
        read_covost(tmp_path, "test")


# --- SimulEval lists --------------------------------------------------------------------------


def write_simuleval(root: Path, split: str = "tst") -> Path:
    for name in ("a", "b"):
        write_wav(root / "wavs" / f"{name}.wav", 4_000)
    write_lines(root / f"{split}.wav_list", ["wavs/a.wav", str(root / "wavs" / "b.wav")])
    write_lines(root / f"{split}.de", ["eins", "zwei"])
    write_lines(root / f"{split}.es", ["uno", "dos"])
    return root


def test_simuleval_lists_round_trip(tmp_path: Path) -> None:
    write_simuleval(tmp_path)
    write_lines(tmp_path / "tst.en", ["one", "two"])
    instances = read_simuleval_lists(
        tmp_path / "tst.wav_list",
        {"de": tmp_path / "tst.de", "es": tmp_path / "tst.es"},
        source_text_file=tmp_path / "tst.en",
    )
    assert [(i.id, i.num_samples, i.source_text) for i in instances] == [
        ("a", 4_000, "one"),
        ("b", 4_000, "two"),
    ]
    assert instances[1].target_texts == {"de": "zwei", "es": "dos"}
    assert instances[0].audio_path == tmp_path / "wavs" / "a.wav"


def test_simuleval_lists_bad_inputs(tmp_path: Path) -> None:
    write_simuleval(tmp_path)
    write_lines(tmp_path / "tst.de", ["eins"])
    with pytest.raises(
        ValueError, match=r"tst.de must have one line per entry of tst.wav_list \(2\), but has 1"
    ):
        read_simuleval_lists(tmp_path / "tst.wav_list", {"de": tmp_path / "tst.de"})
    write_lines(tmp_path / "tst.de", ["eins", "zwei"])
    write_lines(tmp_path / "tst.wav_list", ["wavs/a.wav", ""])
    with pytest.raises(ValueError, match="tst.wav_list:2: the line must name an audio file"):
        read_simuleval_lists(tmp_path / "tst.wav_list", {"de": tmp_path / "tst.de"})
    write_lines(tmp_path / "tst.wav_list", [])
    with pytest.raises(ValueError, match="is empty"):
        read_simuleval_lists(tmp_path / "tst.wav_list", {"de": tmp_path / "tst.de"})
    with pytest.raises(FileNotFoundError, match="missing.wav_list"):
        read_simuleval_lists(tmp_path / "missing.wav_list", {"de": tmp_path / "tst.de"})


# --- corpus directories -----------------------------------------------------------------------


def test_corpus_directories_are_detected_and_read(tmp_path: Path) -> None:
    mustc = write_mustc(tmp_path / "mustc")
    write_mustc(mustc, split="tst-COMMON")
    simuleval = write_simuleval(tmp_path / "simuleval")
    covost = write_covost(tmp_path / "covost", {"a.wav": 4_800})
    s2t = tmp_path / "s2t"
    s2t.mkdir()
    write_manifest(s2t / "dev_st.tsv", s2t_rows(s2t))
    expected = {
        mustc: ("mustc", ["dev", "tst-COMMON"]),
        simuleval: ("simuleval", ["tst"]),
        covost: ("covost", ["test"]),
        s2t: ("s2t", ["dev_st"]),
    }
    for root, (corpus_format, splits) in expected.items():
        assert detect_format(root) == corpus_format
        assert find_splits(root, corpus_format) == splits
    assert len(read_corpus_split(mustc, "mustc", "dev")) == 3
    assert {
        tuple(i.instance.target_texts) for i in read_corpus_split(simuleval, "simuleval", "tst")
    } == {("de", "es")}
    assert len(read_corpus_split(covost, "covost", "test")) == 1
    assert len(read_corpus_split(s2t, "s2t", "dev_st", tgt_langs=["de"])) == 2
    with pytest.raises(ValueError, match="no corpus in a known layout"):
        detect_format(tmp_path)

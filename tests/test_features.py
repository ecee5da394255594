"""Fbank features (offline == streaming), global CMVN, audio reading and resampling."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.cli import data_cmvn
from simul.data.features.audio import (
    StreamResampler,
    conversions_note,
    load_waveform,
    read_segment,
    resample,
    resampled_num_samples,
    to_mono,
)
from simul.data.features.cmvn import Cmvn, CmvnAccumulator, compute_cmvn
from simul.data.features.fbank import FbankConfig, FbankExtractor, StreamingFbank
from simul.data.instance import Instance

CONFIG = FbankConfig()
EXTRACTOR = FbankExtractor(CONFIG)
STREAMING = StreamingFbank(CONFIG)
KALDI_EXTRACTOR = FbankExtractor(FbankConfig(causal_framing=False))
KALDI_STREAMING = StreamingFbank(FbankConfig(causal_framing=False))


def _speechlike(num_samples: int, seed: int, sample_rate: int = 16_000) -> np.ndarray:
    """Noise plus a gliding tone, in [-1, 1] (enough structure for every mel bin to vary)."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(num_samples) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (200 + 900 * time_s) * time_s)
    return (tone + 0.05 * rng.standard_normal(num_samples)).astype(np.float32)


def _instance(path: Path, offset: int, num_samples: int, sample_rate: int, name: str) -> Instance:
    return Instance(
        id=name,
        audio_path=path,
        offset_samples=offset,
        num_samples=num_samples,
        sample_rate=sample_rate,
        source_text="hello",
    )


# --- frames ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(0, 4_000),
    sample_rate=st.sampled_from([8_000, 16_000]),
    causal=st.booleans(),
)
def test_frame_count_rule_matches_fairseq2(
    num_samples: int, sample_rate: int, causal: bool
) -> None:
    config = FbankConfig(sample_rate=sample_rate, causal_framing=causal)
    frames = FbankExtractor(config)(torch.zeros(num_samples))
    assert frames.shape == (config.num_frames(num_samples), 80)
    length, shift = config.frame_length_samples, config.frame_shift_samples
    if causal:  # frames end on shift boundaries
        assert frames.shape[0] == num_samples // shift
    elif num_samples >= length:
        assert frames.shape[0] == 1 + (num_samples - length) // shift
    # num_samples_needed inverts num_frames: the last frame exists exactly from that sample on
    count = frames.shape[0]
    needed = config.num_samples_needed(count)
    assert needed <= num_samples and config.num_frames(needed) == count
    assert config.num_frames(needed - 1) == count - 1 if count else needed == 0


def test_frame_sizes_at_16k() -> None:
    assert (CONFIG.frame_length_samples, CONFIG.frame_shift_samples) == (400, 160)
    counts = [CONFIG.num_frames(n) for n in (0, 159, 160, 319, 320, 5_120, 16_000)]
    assert counts == [0, 0, 1, 1, 2, 32, 100]
    assert CONFIG.num_samples_needed(32) == 5_120  # a 32-frame chunk is complete at 320 ms
    kaldi = FbankConfig(causal_framing=False)
    counts = [kaldi.num_frames(n) for n in (0, 399, 400, 559, 560, 16_000)]
    assert counts == [0, 0, 1, 1, 2, 98]
    assert kaldi.num_samples_needed(32) == 5_360  # 15 ms after the chunk's end


def test_settings_stored_without_causal_framing_read_as_kaldi() -> None:
    """Checkpoints and CMVN files from before the field keep the features they were trained on."""
    stored = FbankConfig(causal_framing=False).to_dict()
    del stored["causal_framing"]
    assert FbankConfig.from_dict(stored) == FbankConfig(causal_framing=False)
    assert FbankConfig.from_dict(CONFIG.to_dict()) == CONFIG
    with pytest.raises(ValueError, match="causal_framing"):
        FbankConfig(causal_framing="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("causal", [True, False])
def test_features_equal_kaldi_reference(causal: bool) -> None:
    """Independent oracle: torchaudio's Kaldi fbank with the same options (no dither).

    Causal framing is Kaldi's framing of the signal preceded by 240 zero samples.
    """
    kaldi = pytest.importorskip("torchaudio.compliance.kaldi")
    waveform = torch.from_numpy(_speechlike(8_000, seed=1))
    padded = torch.cat([torch.zeros(240), waveform]) if causal else waveform
    expected = kaldi.fbank(
        padded.unsqueeze(0) * 32_768, num_mel_bins=80, dither=0.0, sample_frequency=16_000
    )
    extractor = FbankExtractor(FbankConfig(causal_framing=causal))
    torch.testing.assert_close(extractor(waveform), expected, atol=2e-3, rtol=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(0, 6_000),
    seed=st.integers(0, 2**16),
    chunk_sizes=st.lists(st.integers(0, 900), min_size=1, max_size=40),
    causal=st.booleans(),
)
def test_streaming_equals_offline(
    num_samples: int, seed: int, chunk_sizes: list[int], causal: bool
) -> None:
    config = FbankConfig(causal_framing=causal)
    streaming, extractor = (STREAMING, EXTRACTOR) if causal else (KALDI_STREAMING, KALDI_EXTRACTOR)
    waveform = torch.from_numpy(_speechlike(num_samples, seed))
    if not any(chunk_sizes):  # empty chunks are allowed, but something must arrive eventually
        chunk_sizes = [*chunk_sizes, num_samples + 1]
    state = streaming.initial_state()
    pieces, start, turn = [], 0, 0
    while start < num_samples:
        size = chunk_sizes[turn % len(chunk_sizes)]
        frames, state = streaming.step(state, waveform[start : start + size])
        assert state.leftover.numel() < config.frame_length_samples
        # every frame the audio so far allows is out, and none more
        assert state.num_frames == config.num_frames(min(start + size, num_samples))
        pieces.append(frames)
        start += size
        turn += 1
    streamed = torch.cat(pieces) if pieces else torch.zeros(0, 80)
    offline = extractor(waveform)
    assert streamed.shape == offline.shape
    assert torch.equal(streamed, offline)
    assert state.num_samples == num_samples
    assert state.num_frames == offline.shape[0]


def test_streaming_applies_cmvn_like_offline() -> None:
    waveform = torch.from_numpy(_speechlike(5_000, seed=3))
    cmvn = CmvnAccumulator.empty(80).update(EXTRACTOR(waveform)).finish(CONFIG)
    streaming = StreamingFbank(CONFIG, cmvn)
    state = streaming.initial_state()
    pieces = []
    for start in range(0, 5_000, 777):
        frames, state = streaming.step(state, waveform[start : start + 777])
        pieces.append(frames)
    torch.testing.assert_close(torch.cat(pieces), FbankExtractor(CONFIG, cmvn)(waveform))


def test_extractor_rejects_bad_samples() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        EXTRACTOR(torch.zeros(2, 800))
    with pytest.raises(ValueError, match="floating point"):
        EXTRACTOR(torch.zeros(800, dtype=torch.int16))


def test_fbank_config_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="frame_shift_ms"):
        FbankConfig(frame_shift_ms=20)
    with pytest.raises(ValueError, match="sample_rate"):
        FbankConfig(sample_rate=22_050)
    with pytest.raises(ValueError, match="unknown|among"):
        FbankConfig.from_dict({"num_mel_bins": 80, "dither": 1.0})
    assert FbankConfig.from_dict(CONFIG.to_dict()) == CONFIG


# --- CMVN -----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    num_frames=st.integers(1, 300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_accumulator_equals_numpy_over_any_split(
    num_frames: int, cuts: list[int], seed: int
) -> None:
    frames = np.random.default_rng(seed).normal(12.0, 3.0, size=(num_frames, 4))
    accumulator = CmvnAccumulator.empty(4)
    for part in np.split(frames, sorted(cut % (num_frames + 1) for cut in cuts)):
        accumulator = accumulator.update(part)
    cmvn = accumulator.finish(FbankConfig(num_mel_bins=4))
    np.testing.assert_allclose(cmvn.mean, frames.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cmvn.std, np.sqrt(np.maximum(frames.var(axis=0), 1e-8)), rtol=1e-9)
    assert cmvn.num_frames == num_frames


def _write_tiny_set(tmp_path: Path) -> list[Instance]:
    first = tmp_path / "a.wav"
    second = tmp_path / "b.wav"
    soundfile.write(first, _speechlike(12_000, seed=5), 16_000, subtype="FLOAT")
    soundfile.write(second, _speechlike(7_000, seed=6), 16_000, subtype="FLOAT")
    return [
        _instance(first, 0, 5_000, 16_000, "a_0"),
        _instance(first, 5_000, 7_000, 16_000, "a_1"),
        _instance(second, 100, 6_000, 16_000, "b_0"),
    ]


def test_compute_cmvn_equals_numpy(tmp_path: Path) -> None:
    instances = _write_tiny_set(tmp_path)
    cmvn = compute_cmvn(instances, CONFIG, progress=False)
    frames = np.concatenate(
        [EXTRACTOR(load_waveform(instance, 16_000)).numpy() for instance in instances]
    ).astype(np.float64)
    assert (
        cmvn.num_frames
        == frames.shape[0]
        == sum(CONFIG.num_frames(n) for n in (5_000, 7_000, 6_000))
    )
    np.testing.assert_allclose(cmvn.mean, frames.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(cmvn.std, frames.std(axis=0), rtol=1e-8)
    normalized = FbankExtractor(CONFIG, cmvn)(load_waveform(instances[0], 16_000))
    raw = EXTRACTOR(load_waveform(instances[0], 16_000)).numpy().astype(np.float64)
    np.testing.assert_allclose(normalized.numpy(), (raw - cmvn.mean) / cmvn.std, atol=1e-5)


def test_compute_cmvn_names_the_item_it_cannot_read(tmp_path: Path) -> None:
    instances = _write_tiny_set(tmp_path)
    missing = _instance(tmp_path / "gone.wav", 0, 1_000, 16_000, "gone_0")
    with pytest.raises(
        FileNotFoundError, match=r"instance 2 \('gone_0'\) of 4: audio file .*gone.wav"
    ):
        compute_cmvn([*instances[:2], missing, instances[2]], CONFIG, progress=False)


def test_cmvn_save_load_round_trip_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cmvn = Cmvn(
        mean=rng.normal(size=80), std=rng.uniform(1, 2, size=80), num_frames=7, fbank_config=CONFIG
    )
    path = tmp_path / "corpus" / "cmvn.npz"
    cmvn.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["cmvn.npz"]  # no temp file left
    loaded = Cmvn.load(path, CONFIG)
    np.testing.assert_array_equal(loaded.mean, cmvn.mean)
    np.testing.assert_array_equal(loaded.std, cmvn.std)
    assert (loaded.num_frames, loaded.fbank_config) == (7, CONFIG)
    with np.load(path) as stored:  # fairseq's global_cmvn reads these two keys
        np.testing.assert_array_equal(stored["mean"], cmvn.mean)
        np.testing.assert_array_equal(stored["std"], cmvn.std)
    with pytest.raises(ValueError, match="must belong to fbank settings"):
        Cmvn.load(path, FbankConfig(sample_rate=8_000))
    with pytest.raises(FileNotFoundError):
        Cmvn.load(tmp_path / "missing.npz")
    broken = tmp_path / "broken.npz"
    np.savez(broken, mean=np.zeros(80))
    with pytest.raises(ValueError, match="lacks"):
        Cmvn.load(broken)
    with pytest.raises(ValueError, match="std"):
        Cmvn(mean=np.zeros(80), std=np.zeros(80), num_frames=1, fbank_config=CONFIG)
    with pytest.raises(ValueError, match="mel bins"):
        FbankExtractor(FbankConfig(num_mel_bins=40), cmvn)


def test_cmvn_command_on_a_mustc_layout_corpus(tmp_path: Path) -> None:
    split = tmp_path / "train"
    (split / "wav").mkdir(parents=True)
    (split / "txt").mkdir()
    soundfile.write(split / "wav" / "talk.wav", _speechlike(32_000, seed=9), 16_000)
    (split / "txt" / "train.yaml").write_text(
        "- {duration: 0.8, offset: 0.1, speaker_id: s1, wav: talk.wav}\n"
        "- {duration: 0.9, offset: 1.0, speaker_id: s1, wav: talk.wav}\n"
    )
    (split / "txt" / "train.en").write_text("hello there\ngood bye\n")
    parser = argparse.ArgumentParser()
    data_cmvn.add_parser(parser.add_subparsers())
    args = parser.parse_args(["cmvn", str(tmp_path), "--split", "train"])
    assert args.run(args) == 0
    cmvn = Cmvn.load(tmp_path / "cmvn.npz", CONFIG)
    assert cmvn.num_frames == CONFIG.num_frames(12_800) + CONFIG.num_frames(14_400)
    kaldi = parser.parse_args(["cmvn", str(tmp_path), "--split", "train", "--kaldi-framing"])
    assert kaldi.run(kaldi) == 0  # for fairseq S2T models: their features' framing
    assert Cmvn.load(tmp_path / "cmvn.npz").fbank_config == FbankConfig(causal_framing=False)


# --- audio ----------------------------------------------------------------------------------


def test_resampling_22050_to_16k_path(tmp_path: Path) -> None:
    """eSpeak NG writes 22,050 Hz: the pipeline resamples to 16 kHz with soxr before the fbank."""
    num_samples = 22_050
    time_s = np.arange(num_samples) / 22_050
    tone = (0.5 * np.sin(2 * np.pi * 440 * time_s)).astype(np.float32)
    path = tmp_path / "espeak.wav"
    soundfile.write(path, tone, 22_050, subtype="FLOAT")
    waveform = load_waveform(_instance(path, 0, num_samples, 22_050, "tts"), 16_000)
    assert waveform.dtype == torch.float32
    assert waveform.numel() == resampled_num_samples(num_samples, 22_050, 16_000) == 16_000
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)
    np.testing.assert_allclose(waveform.numpy()[200:-200], expected[200:-200], atol=2e-3)
    features = EXTRACTOR(waveform)
    assert features.shape == (100, 80)
    peak_bin = int(features.mean(dim=0).argmax())
    reference_bin = int(
        EXTRACTOR(torch.from_numpy(expected.astype(np.float32))).mean(dim=0).argmax()
    )
    assert peak_bin == reference_bin


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 5_000),
    rates=st.sampled_from(
        [(22_050, 16_000), (8_000, 16_000), (44_100, 16_000), (48_000, 16_000), (32_000, 16_000)]
    ),
)
def test_resampled_length_matches_soxr(num_samples: int, rates: tuple[int, int]) -> None:
    signal = np.zeros(num_samples, dtype=np.float32)
    assert len(soxr.resample(signal, *rates)) == resampled_num_samples(num_samples, *rates)


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 30_000), max_size=6),
    rates=st.sampled_from([(44_100, 16_000), (48_000, 16_000), (8_000, 16_000), (16_000, 16_000)]),
)
def test_a_stream_resampled_chunk_by_chunk_equals_the_whole_resampled(
    cuts: list[int], rates: tuple[int, int]
) -> None:
    """The SimulEval agent resamples segment by segment; the model must get simul eval's samples."""
    waveform = np.random.default_rng(len(cuts)).standard_normal(30_000).astype(np.float32)
    bounds = [0, *sorted(cuts), len(waveform)]
    resampler = StreamResampler(*rates)
    pairs = list(zip(bounds, bounds[1:], strict=False))
    chunks = [
        resampler.push(waveform[start:end], last=index == len(pairs) - 1)
        for index, (start, end) in enumerate(pairs)
    ]
    np.testing.assert_array_equal(np.concatenate(chunks), resample(waveform, *rates))
    assert len(resampler.push(waveform[:0], last=True)) == 0
    with pytest.raises(ValueError, match="after the last chunk"):
        resampler.push(waveform[:10], last=True)


def test_to_mono_mixes_down_as_read_segment_and_the_note_says_what_happens(tmp_path: Path) -> None:
    stereo = np.random.default_rng(0).uniform(-1, 1, (1_000, 2)).astype(np.float32)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, stereo, 16_000, subtype="FLOAT")
    np.testing.assert_array_equal(to_mono(stereo), read_segment(path, 0, 1_000)[0])
    assert to_mono(stereo[:, 0]) is not None and to_mono(stereo[:, :1]).shape == (1_000,)
    assert conversions_note(16_000, 1, 16_000) is None
    assert conversions_note(44_100, 2, 16_000) == (
        "mixed down from 2 channels to mono and resampled from 44100 Hz to 16000 Hz (soxr, HQ)"
    )


def test_read_segment_downmixes_and_checks_bounds(tmp_path: Path) -> None:
    stereo = np.stack([np.full(1_000, 0.5), np.full(1_000, -0.25)], axis=1).astype(np.float32)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, stereo, 16_000, subtype="FLOAT")
    waveform, rate = read_segment(path, 100, 500)
    assert rate == 16_000 and waveform.shape == (500,)
    np.testing.assert_allclose(waveform, 0.125)
    with pytest.raises(ValueError, match="inside the file"):
        read_segment(path, 900, 500)
    with pytest.raises(FileNotFoundError):
        read_segment(tmp_path / "missing.wav", 0, 10)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF but not really a wav file")
    with pytest.raises(ValueError, match="cannot be decoded"):
        read_segment(junk, 0, 10)
    with pytest.raises(ValueError, match="rate"):
        load_waveform(_instance(path, 0, 500, 8_000, "wrong_rate"), 16_000)

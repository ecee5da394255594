"""Training batches from a tiny corpus through fairseq2's pipeline: shapes, padding, order."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simul.data.features.audio import load_waveform
from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.features.pipeline import (
    BatchConfig,
    FeatureBatch,
    build_batch_pipeline,
    translation_text,
    utterance_num_frames,
)
from simul.data.instance import Instance

FBANK = FbankConfig()
PAD_ID = 99  # distinct from every token the toy tokenizer makes, so padding is visible
SENTENCES = [
    "a cat",
    "the dog runs",
    "hi",
    "zwei junge männer",
    "",
    "x y z w",
    "ok",
    "long one here",
]


def tokenize(text: str) -> list[int]:
    """A toy character tokenizer: ids 4..53."""
    return [4 + ord(character) % 50 for character in text]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Instance]:
    """Two 'talks' (16 kHz and eSpeak's 22,050 Hz) cut into segments of varied lengths."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    instances = []
    for talk, rate in (("talk16", 16_000), ("talk22", 22_050)):
        path = root / f"{talk}.wav"
        soundfile.write(path, (0.1 * rng.standard_normal(6 * rate)).astype(np.float32), rate)
        offset = 0
        for index, seconds in enumerate((0.3, 1.1, 0.45, 0.8)):
            num_samples = int(seconds * rate)
            sentence = SENTENCES[len(instances)]
            instances.append(
                Instance(
                    id=f"{talk}_{index}",
                    audio_path=path,
                    offset_samples=offset,
                    num_samples=num_samples,
                    sample_rate=rate,
                    source_text=sentence,
                    target_texts={"de": sentence.upper()},
                )
            )
            offset += num_samples + 1_000
    return instances


CONFIG = BatchConfig(max_frames_per_batch=240, max_frames_per_utterance=120, seed=3)


def _batches(corpus: list[Instance], **options: object) -> list[FeatureBatch]:
    arguments: dict = {"fbank_config": FBANK, "cmvn": None, "config": CONFIG, "pad_id": PAD_ID}
    arguments.update(options)
    return list(build_batch_pipeline(corpus, tokenize, **arguments))


def test_batches_have_the_documented_shapes_and_padding(corpus: list[Instance]) -> None:
    cmvn = compute_cmvn(corpus, FBANK, progress=False)
    batches = _batches(corpus, cmvn=cmvn)
    by_id = {instance.id: instance for instance in corpus}
    extractor = FbankExtractor(FBANK, cmvn)
    seen = []
    for batch in batches:
        batch_size, num_frames, num_bins = batch.features.shape
        assert num_bins == 80 and batch.features.dtype == torch.float32
        assert batch_size * num_frames <= CONFIG.max_frames_per_batch
        assert batch.targets.dtype == batch.feature_lengths.dtype == torch.int64
        assert batch.target_lengths.dtype == torch.int64
        assert batch.targets.shape[0] == batch_size == len(batch.ids)
        assert int(batch.feature_lengths.max()) == num_frames
        for row, instance_id in enumerate(batch.ids):
            instance = by_id[instance_id]
            length = int(batch.feature_lengths[row])
            assert length == utterance_num_frames(instance, FBANK)
            expected = extractor(load_waveform(instance, FBANK.sample_rate))
            torch.testing.assert_close(batch.features[row, :length], expected, atol=0, rtol=0)
            assert torch.all(batch.features[row, length:] == 0.0)
            tokens = tokenize(instance.source_text)
            assert int(batch.target_lengths[row]) == len(tokens)
            assert batch.targets[row, : len(tokens)].tolist() == tokens
            assert torch.all(batch.targets[row, len(tokens) :] == PAD_ID)
        seen.extend(batch.ids)
    assert sorted(seen) == sorted(instance.id for instance in corpus)  # each utterance once


def test_same_seed_same_batches_and_epochs_reshuffle(corpus: list[Instance]) -> None:
    first = _batches(corpus, epoch=0)
    again = _batches(corpus, epoch=0)
    assert [batch.ids for batch in first] == [batch.ids for batch in again]
    for left, right in zip(first, again, strict=True):
        assert torch.equal(left.features, right.features)
        assert torch.equal(left.targets, right.targets)
    orders = {
        tuple(i for batch in _batches(corpus, epoch=epoch) for i in batch.ids) for epoch in range(4)
    }
    assert len(orders) > 1
    unshuffled = BatchConfig(max_frames_per_batch=240, max_frames_per_utterance=120, shuffle=False)
    assert [b.ids for b in _batches(corpus, config=unshuffled)] == [
        b.ids for b in _batches(corpus, config=unshuffled)
    ]


def test_shards_are_disjoint_and_equal_in_size(corpus: list[Instance]) -> None:
    three_ranks = [
        [i for batch in _batches(corpus, rank=rank, world_size=3) for i in batch.ids]
        for rank in range(3)
    ]
    assert [len(ids) for ids in three_ranks] == [len(corpus) // 3] * 3
    flat = [i for ids in three_ranks for i in ids]
    assert len(set(flat)) == len(flat)
    with pytest.raises(ValueError, match="rank"):
        _batches(corpus, rank=3, world_size=3)


def test_translation_targets(corpus: list[Instance]) -> None:
    batches = _batches(corpus, target_text=translation_text("de"))
    by_id = {instance.id: instance for instance in corpus}
    for batch in batches:
        for row, instance_id in enumerate(batch.ids):
            tokens = tokenize(by_id[instance_id].target_texts["de"])
            assert batch.targets[row, : len(tokens)].tolist() == tokens
    with pytest.raises(ValueError, match="translation into 'fr'"):
        _batches(corpus, target_text=translation_text("fr"))


def test_too_long_utterances_are_dropped_with_a_warning(
    corpus: list[Instance], caplog: pytest.LogCaptureFixture
) -> None:
    short = BatchConfig(max_frames_per_batch=100, max_frames_per_utterance=50)
    with caplog.at_level(logging.WARNING):
        batches = _batches(corpus, config=short)
    kept = {i for batch in batches for i in batch.ids}
    expected = {x.id for x in corpus if utterance_num_frames(x, FBANK) <= 50}
    assert kept == expected and len(kept) < len(corpus)
    assert f"dropped {len(corpus) - len(expected)} of {len(corpus)}" in caplog.text


def test_unreadable_segment_names_the_instance(corpus: list[Instance], tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    soundfile.write(path, np.zeros(1_000, dtype=np.float32), 16_000)
    broken = Instance(
        id="broken_0",
        audio_path=path,
        offset_samples=500,
        num_samples=4_000,
        sample_rate=16_000,
        source_text="oops",
    )
    with pytest.raises(ValueError, match="broken_0.*inside the file"):
        _batches([broken])


def test_batch_config_validation() -> None:
    with pytest.raises(ValueError, match="multiple"):
        BatchConfig(max_frames_per_batch=250, max_frames_per_utterance=120)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        BatchConfig(num_parallel_calls=0)


def test_batch_moves_to_a_device(corpus: list[Instance]) -> None:
    batch = _batches(corpus)[0].to("cpu")
    assert batch.features.device.type == "cpu" and batch.batch_size == len(batch.ids)

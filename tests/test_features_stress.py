"""Stress: features are deterministic, bit for bit, over thousands of calls (issue 21).

A fresh fairseq2n fbank converter used to compute a few wrong frames now and then (its FFT set
up its tables lazily while TBB computed several frames at once: see
``FbankExtractor._initialize_fft_tables``).  Only the first call of a fresh converter was
exposed, so these tests create converters by the thousand and compare each one's first output
with a reference, offline and streaming, with and without CMVN, and in training batches.  Before
the fix, the first test failed in about a second on the 2-core development machine (1 to 3
bad extractors in 1,000); all of them run in a few seconds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simul.data.features.cmvn import CmvnAccumulator
from simul.data.features.fbank import FbankConfig, FbankExtractor, StreamingFbank
from simul.data.features.pipeline import BatchConfig, build_batch_pipeline
from simul.data.instance import Instance

CONFIG = FbankConfig()
REFERENCE = FbankExtractor(CONFIG)


def _noise(num_samples: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy((0.1 * rng.standard_normal(num_samples)).astype(np.float32))


def _bad_calls(make_output, reference: torch.Tensor, repetitions: int) -> list[int]:
    return [i for i in range(repetitions) if not torch.equal(make_output(), reference)]


def test_fresh_extractors_agree_bit_for_bit() -> None:
    waveform = _noise(16_000, seed=0)  # 98 frames: many TBB tasks in the first call
    reference = REFERENCE(waveform)
    bad = _bad_calls(lambda: FbankExtractor(CONFIG)(waveform), reference, 4_000)
    assert bad == [], f"{len(bad)} of 4000 fresh extractors computed other frames"


@pytest.mark.parametrize("with_cmvn", [False, True])
def test_fresh_streaming_equals_offline_bit_for_bit(with_cmvn: bool) -> None:
    waveform = _noise(5_000, seed=3)
    cmvn = (
        CmvnAccumulator.empty(80).update(REFERENCE(waveform)).finish(CONFIG) if with_cmvn else None
    )
    offline = FbankExtractor(CONFIG, cmvn)(waveform)
    bad = 0
    for _ in range(300):
        for piece in (160, 320, 777, 2_000):
            streaming = StreamingFbank(CONFIG, cmvn)
            state, frames = streaming.initial_state(), []
            for start in range(0, waveform.numel(), piece):
                new, state = streaming.step(state, waveform[start : start + piece])
                frames.append(new)
            bad += not torch.equal(torch.cat(frames), offline)
        bad += not torch.equal(FbankExtractor(CONFIG, cmvn)(waveform), offline)
    assert bad == 0, f"{bad} of 1500 fresh streams or extractors differ from the offline features"


def test_one_extractor_shared_by_threads() -> None:
    """fairseq2's data pipeline calls one extractor from several threads at once."""
    waveforms = [_noise(8_000 + 160 * k, seed=k) for k in range(4)]
    references = [REFERENCE(w) for w in waveforms]
    shared = FbankExtractor(CONFIG)
    failures: list[int] = []

    def work(offset: int) -> None:
        for call in range(400):
            index = (call + offset) % len(waveforms)
            if not torch.equal(shared(waveforms[index]), references[index]):
                failures.append(index)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_training_batches_equal_offline_features(tmp_path: Path) -> None:
    """Fresh pipelines (one extractor each, two parallel readers) give every utterance's features."""
    instances = []
    for k in range(6):
        path = tmp_path / f"utt{k}.wav"
        soundfile.write(path, _noise(4_000 + 800 * k, seed=10 + k).numpy(), 16_000, subtype="FLOAT")
        instances.append(
            Instance(
                id=f"utt{k}",
                audio_path=path,
                offset_samples=0,
                num_samples=4_000 + 800 * k,
                sample_rate=16_000,
                source_text="a b",
            )
        )
    expected = {
        i.id: REFERENCE(_noise(i.num_samples, seed=10 + k)) for k, i in enumerate(instances)
    }
    config = BatchConfig(
        max_frames_per_batch=120, max_frames_per_utterance=60, num_parallel_calls=2
    )
    bad = 0
    for epoch in range(40):
        batches = build_batch_pipeline(
            instances,
            lambda text: [4, 5],
            fbank_config=CONFIG,
            cmvn=None,
            config=config,
            pad_id=0,
            epoch=epoch,
        )
        for batch in batches:
            for row, instance_id in enumerate(batch.ids):
                length = int(batch.feature_lengths[row])
                bad += not torch.equal(batch.features[row, :length], expected[instance_id])
    assert bad == 0, f"{bad} utterances of 240 had other features in a training batch"

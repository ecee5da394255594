"""The encoder front end: incremental frames equal re-encoded ones and the offline encoding."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.models.encoder import Encoder, tiny
from simul.streaming import iter_segments, segment_num_samples
from simul.streaming.frontend import EncoderFrontEnd


def _stream(front: EncoderFrontEnd, waveform: torch.Tensor, segment_ms: int) -> list[torch.Tensor]:
    """The frames available after each segment."""
    state = front.initial_state()
    seen = []
    for segment, is_last in iter_segments(waveform, segment_num_samples(segment_ms, 16_000)):
        state = front.read(state, segment, source_finished=is_last)
        seen.append(state.frames)
    return seen


@pytest.mark.parametrize("segment_ms", [130, 320])
def test_incremental_and_reencoded_frames_agree_with_the_offline_encoder(segment_ms: int) -> None:
    torch.manual_seed(0)
    encoder = Encoder(tiny()).eval()
    waveform = 0.1 * torch.randn(21_000, generator=torch.Generator().manual_seed(0))
    incremental = _stream(EncoderFrontEnd(encoder, FbankConfig()), waveform, segment_ms)
    reencoded = _stream(
        EncoderFrontEnd(encoder, FbankConfig(), reencode=True), waveform, segment_ms
    )
    for ours, theirs in zip(incremental, reencoded, strict=True):
        assert ours.shape == theirs.shape  # the same completed chunks after every segment
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    features = FbankExtractor(FbankConfig())(waveform)
    with torch.inference_mode():
        offline, _ = encoder(features[None], torch.tensor([features.shape[0]]))
    torch.testing.assert_close(incremental[-1], offline[0], atol=1e-5, rtol=1e-5)
    chunk = encoder.config.chunk_size_frames
    assert all(frames.shape[0] % chunk == 0 for frames in incremental[:-1])


def test_a_full_context_encoder_needs_reencoding_to_see_anything_before_the_end() -> None:
    torch.manual_seed(0)
    encoder = Encoder(dataclasses.replace(tiny(), chunk_size_frames=None)).eval()
    waveform = 0.1 * torch.randn(16_000, generator=torch.Generator().manual_seed(1))
    streamed = _stream(EncoderFrontEnd(encoder, FbankConfig()), waveform, 320)
    assert [f.shape[0] for f in streamed] == [0, 0, 0, 25]  # 100 fbank frames in 1 s
    reencoded = _stream(EncoderFrontEnd(encoder, FbankConfig(), reencode=True), waveform, 320)
    # each 320 ms segment completes 8 encoder frames of 40 ms (causal framing: no frame waits)
    assert [f.shape[0] for f in reencoded] == [8, 16, 24, 25]
    torch.testing.assert_close(streamed[-1], reencoded[-1], atol=1e-5, rtol=1e-5)


def test_front_end_errors() -> None:
    encoder = Encoder(tiny()).eval()
    with pytest.raises(ValueError, match="num_mel_bins"):
        EncoderFrontEnd(encoder, FbankConfig(num_mel_bins=40))
    front = EncoderFrontEnd(encoder, FbankConfig())
    state = front.read(front.initial_state(), torch.zeros(800), source_finished=True)
    with pytest.raises(ValueError, match="already ended"):
        front.read(state, torch.zeros(800), source_finished=True)

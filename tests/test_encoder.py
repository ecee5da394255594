"""Tests of the streaming encoder: chunk masks, causal subsampling, streaming == full forward."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.models.encoder import Encoder, EncoderConfig, chunk_attention_mask, tiny
from simul.models.subsampling import Conv2dSubsampling, subsampled_length

BLOCK_TYPES = ("transformer", "conformer")
ATOL = 1e-5


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)


def _encoder(
    block_type: str, chunk_size: int | None, num_left_chunks: int, seed: int = 0
) -> Encoder:
    torch.manual_seed(seed)
    config = replace(
        tiny(), block_type=block_type, chunk_size_frames=chunk_size, num_left_chunks=num_left_chunks
    )
    return Encoder(config).eval()


def _split(features: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Cut (B, T, F) into pieces of the given sizes, the last piece taking the rest."""
    pieces, start = [], 0
    for size in sizes:
        pieces.append(features[:, start : start + size])
        start += size
    pieces.append(features[:, start:])
    return pieces


def _stream_all(encoder: Encoder, pieces: list[torch.Tensor]) -> torch.Tensor:
    state = encoder.init_state(pieces[0].shape[0], device=pieces[0].device)
    outputs = []
    for piece in pieces:
        out, state = encoder.stream(piece, state)
        outputs.append(out)
    out, state = encoder.flush(state)
    outputs.append(out)
    assert state.finished
    return torch.cat(outputs, dim=1)


# --- chunk_attention_mask ---------------------------------------------------------------------


def test_chunk_mask_limited_left_context() -> None:
    mask = chunk_attention_mask(6, 2, 1)
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 1],
            [0, 0, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def test_chunk_mask_unlimited_left_context_and_partial_last_chunk() -> None:
    mask = chunk_attention_mask(5, 2, -1)
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("chunk_size", [None, 0])
def test_chunk_mask_full_context(chunk_size: int | None) -> None:
    assert bool(chunk_attention_mask(7, chunk_size, 1).all())


def test_chunk_mask_size_one_and_no_left_chunk_is_diagonal() -> None:
    assert torch.equal(chunk_attention_mask(4, 1, 0), torch.eye(4, dtype=torch.bool))


@given(
    num_frames=st.integers(0, 40),
    chunk_size=st.integers(1, 9),
    num_left_chunks=st.integers(-1, 5),
)
def test_chunk_mask_matches_definition(
    num_frames: int, chunk_size: int, num_left_chunks: int
) -> None:
    mask = chunk_attention_mask(num_frames, chunk_size, num_left_chunks)
    assert mask.shape == (num_frames, num_frames)
    for i in range(num_frames):
        for j in range(num_frames):
            distance = i // chunk_size - j // chunk_size
            visible = distance >= 0 and (num_left_chunks == -1 or distance <= num_left_chunks)
            assert bool(mask[i, j]) == visible


@pytest.mark.parametrize(
    ("num_frames", "chunk_size", "num_left_chunks", "field"),
    [(-1, 2, 1, "num_frames"), (4, -2, 1, "chunk_size"), (4, 2, -2, "num_left_chunks")],
)
def test_chunk_mask_rejects_bad_arguments(
    num_frames: int, chunk_size: int, num_left_chunks: int, field: str
) -> None:
    with pytest.raises(ValueError, match=f"`{field}` must be"):
        chunk_attention_mask(num_frames, chunk_size, num_left_chunks)


# --- subsampling ------------------------------------------------------------------------------


def _subsampling(seed: int = 0) -> Conv2dSubsampling:
    torch.manual_seed(seed)
    return Conv2dSubsampling(num_mel_bins=80, num_channels=4, model_dim=16).eval()


@pytest.mark.parametrize("num_frames", list(range(0, 14)))
def test_subsampling_length_is_floor_quarter(num_frames: int) -> None:
    out = _subsampling()(torch.randn(2, num_frames, 80))
    assert out.shape == (2, num_frames // 4, 16)
    assert subsampled_length(num_frames) == num_frames // 4


def test_subsampling_receptive_field_is_frames_4k_minus_3_to_4k_plus_3() -> None:
    sub = _subsampling()
    features = torch.randn(1, 40, 80)
    base = sub(features)
    k = 5
    for frame, changed in [
        (4 * k + 4, False),
        (4 * k + 3, True),
        (4 * k - 3, True),
        (4 * k - 4, False),
    ]:
        perturbed = features.clone()
        perturbed[0, frame] += 1.0
        out = sub(perturbed)
        assert bool((out[0, k] != base[0, k]).any()) == changed, frame
        # Causality: outputs k' < frame // 4 end before the perturbed frame (4k' + 3 < frame).
        assert torch.equal(out[0, : frame // 4], base[0, : frame // 4])


@settings(max_examples=40, deadline=None)
@given(
    num_frames=st.integers(0, 60),
    sizes=st.lists(st.integers(0, 9), max_size=12),
    seed=st.integers(0, 2**16),
)
def test_subsampling_stream_equals_forward(num_frames: int, sizes: list[int], seed: int) -> None:
    sub = _subsampling()
    features = torch.randn(1, num_frames, 80, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        full = sub(features)
        cache = sub.init_cache(1)
        outputs = []
        for piece in _split(features, sizes):
            out, cache = sub.stream(piece, cache)
            outputs.append(out)
    assert cache.pending_input.shape[2] <= 2 and cache.pending_hidden.shape[2] <= 2
    torch.testing.assert_close(torch.cat(outputs, dim=1), full, rtol=0, atol=ATOL)


# --- encoder: streaming == full forward ---------------------------------------------------------


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
@settings(max_examples=50, deadline=None)
@given(
    num_frames=st.integers(20, 200),
    chunk_size=st.one_of(st.none(), st.integers(1, 6)),
    num_left_chunks=st.integers(-1, 3),
    sizes=st.lists(st.integers(0, 48), max_size=10),
    seed=st.integers(0, 2**16),
)
def test_stream_equals_forward_under_same_chunk_mask(
    block_type: str,
    num_frames: int,
    chunk_size: int | None,
    num_left_chunks: int,
    sizes: list[int],
    seed: int,
) -> None:
    encoder = _encoder(block_type, chunk_size, num_left_chunks, seed=seed % 7)
    features = torch.randn(1, num_frames, 80, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        full, out_lengths = encoder(features, torch.tensor([num_frames]))
        streamed = _stream_all(encoder, _split(features, sizes))
    assert int(out_lengths[0]) == num_frames // 4
    torch.testing.assert_close(streamed, full, rtol=0, atol=ATOL)


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
def test_stream_equals_forward_on_device(block_type: str, device: torch.device) -> None:
    encoder = _encoder(block_type, 3, 1).to(device)
    features = torch.randn(2, 97, 80, device=device)
    with torch.no_grad():
        full, _ = encoder(features, torch.tensor([97, 97], device=device))
        streamed = _stream_all(encoder, _split(features, [5, 16, 1, 30]))
    torch.testing.assert_close(streamed, full, rtol=0, atol=ATOL)


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
def test_chunk_mask_changes_the_output(block_type: str) -> None:
    """The equivalence above is not vacuous: the chunk mask really limits what a frame sees."""
    chunked = _encoder(block_type, 2, 1)
    full_context = _encoder(block_type, None, -1)
    features = torch.randn(1, 80, 80)
    with torch.no_grad():
        out_chunked, _ = chunked(features, torch.tensor([80]))
        out_full, _ = full_context(features, torch.tensor([80]))
    assert (out_chunked - out_full).abs().max() > 1e-3


def test_stream_emits_whole_chunks_as_soon_as_complete() -> None:
    encoder = _encoder("conformer", 3, 2)
    state = encoder.init_state(1)
    emitted = []
    with torch.no_grad():
        for _ in range(10):  # 5 fbank frames per call
            out, state = encoder.stream(torch.randn(1, 5, 80), state)
            emitted.append(out.shape[1])
    received = [5 * (i + 1) for i in range(10)]
    complete_chunks = [(n // 4) // 3 * 3 for n in received]
    assert [sum(emitted[: i + 1]) for i in range(10)] == complete_chunks
    assert state.frames_emitted == complete_chunks[-1]
    assert state.pending_frames.shape[1] == 50 // 4 - complete_chunks[-1]


def test_full_context_stream_emits_everything_at_flush() -> None:
    encoder = _encoder("transformer", None, -1)
    state = encoder.init_state(1)
    with torch.no_grad():
        out, state = encoder.stream(torch.randn(1, 41, 80), state)
        assert out.shape == (1, 0, 32)
        out, state = encoder.flush(state)
    assert out.shape == (1, 10, 32)


# --- padding, caches, gradients, errors ---------------------------------------------------------


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
@pytest.mark.parametrize(("chunk_size", "num_left_chunks"), [(2, 1), (3, -1), (1, 0), (None, -1)])
def test_padded_batch_equals_one_by_one(
    block_type: str, chunk_size: int | None, num_left_chunks: int
) -> None:
    encoder = _encoder(block_type, chunk_size, num_left_chunks)
    lengths = [61, 17, 40]
    batch = torch.zeros(3, max(lengths), 80)
    singles = [torch.randn(1, n, 80) for n in lengths]
    for index, single in enumerate(singles):
        batch[index, : lengths[index]] = single[0]
        batch[index, lengths[index] :] = 1e3  # loud padding must not leak
    with torch.no_grad():
        out, out_lengths = encoder(batch, torch.tensor(lengths))
        assert out_lengths.tolist() == [n // 4 for n in lengths]
        for index, single in enumerate(singles):
            alone, _ = encoder(single, torch.tensor([lengths[index]]))
            valid = lengths[index] // 4
            torch.testing.assert_close(out[index : index + 1, :valid], alone, rtol=0, atol=ATOL)
            assert torch.equal(out[index, valid:], torch.zeros_like(out[index, valid:]))


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
def test_cache_stays_bounded_with_limited_left_context(block_type: str) -> None:
    encoder = _encoder(block_type, 2, 3)
    state = encoder.init_state(1)
    sizes = []
    with torch.no_grad():
        for _ in range(40):  # 40 chunks of 2 encoder frames
            _, state = encoder.stream(torch.randn(1, 8, 80), state)
            sizes.append(state.size_bytes())
            for cache in state.layers:
                assert cache.key.shape[2] <= 3 * 2 and cache.value.shape[2] <= 3 * 2
    assert state.frames_emitted == 80
    assert all(cache.frames_seen == 80 for cache in state.layers)
    assert len(set(sizes[3:])) == 1  # constant once the 3 left chunks are full
    assert state.layers[0].key.shape[2] == 6


def test_cache_grows_with_unlimited_left_context() -> None:
    encoder = _encoder("conformer", 2, -1)
    state = encoder.init_state(1)
    with torch.no_grad():
        for _ in range(10):
            _, state = encoder.stream(torch.randn(1, 8, 80), state)
    assert state.layers[0].key.shape[2] == 20


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
def test_gradients_reach_every_parameter(block_type: str) -> None:
    encoder = _encoder(block_type, 2, 1).train()
    features = torch.randn(2, 50, 80, requires_grad=True)
    out, _ = encoder(features, torch.tensor([50, 33]))
    out.pow(2).sum().backward()
    assert features.grad is not None and bool(features.grad.abs().sum() > 0)
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert bool(torch.isfinite(parameter.grad).all()), name
        assert bool(parameter.grad.abs().sum() > 0), name


def test_stream_after_flush_is_an_error() -> None:
    encoder = _encoder("conformer", 2, 1)
    _, state = encoder.flush(encoder.init_state(1))
    with pytest.raises(ValueError, match="`flush` already ended it"):
        encoder.stream(torch.randn(1, 4, 80), state)


def test_bad_inputs_are_errors() -> None:
    encoder = _encoder("conformer", 2, 1)
    with pytest.raises(ValueError, match=r"`features` must have shape \(B, T, 80\)"):
        encoder(torch.randn(1, 10, 40), torch.tensor([10]))
    with pytest.raises(ValueError, match="`lengths` must be in"):
        encoder(torch.randn(1, 10, 80), torch.tensor([11]))
    with pytest.raises(ValueError, match="`lengths` must have shape"):
        encoder(torch.randn(2, 10, 80), torch.tensor([10]))
    with pytest.raises(ValueError, match="`features` must have batch size 1"):
        encoder.stream(torch.randn(2, 4, 80), encoder.init_state(1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"d_model": 30, "num_heads": 4}, "d_model"),
        ({"d_model": 24, "num_heads": 8}, "d_model"),
        ({"block_type": "lstm"}, "block_type"),
        ({"chunk_size_frames": -1}, "chunk_size_frames"),
        ({"num_left_chunks": -2}, "num_left_chunks"),
        ({"dropout_p": 1.0}, "dropout_p"),
        ({"num_layers": 0}, "num_layers"),
    ],
)
def test_config_rejects_bad_fields(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}` must be"):
        EncoderConfig(**changes)


def test_config_zero_chunk_means_full_context() -> None:
    config = EncoderConfig(chunk_size_frames=0, num_left_chunks=2)
    assert config.chunk_size_frames is None and config.max_cache_frames is None
    assert EncoderConfig(chunk_size_frames=4, num_left_chunks=2).max_cache_frames == 8

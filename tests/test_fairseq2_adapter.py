"""A tiny random fairseq2 S2T model (built from its config, nothing downloaded) under simul's policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies import AlignAtt, AttentionReading, EDAtt, LocalAgreement, WaitK
from simul._fairseq2 import import_fairseq2
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.fairseq2_s2t.model import (
    Fairseq2StepDecoder,
    PaddedConv1dFbankSubsampler,
    build_s2t_model,
    encode,
    expose_cross_attention,
    load_s2t_model,
)
from simul.families.fairseq2_s2t.streaming import fairseq2_streaming_model
from simul.models.beam_search import beam_search, max_target_length
from simul.streaming import Capability, simulate_waveform
from simul.streaming.attention_decoder import DecodingConfig

_s2t = import_fairseq2("fairseq2.models.s2t_transformer")
_conformer = import_fairseq2("fairseq2.models.s2t_conformer")
_nn = import_fairseq2("fairseq2.nn")

_TEXTS = ["die katze schläft", "der hund läuft schnell", "ein großes haus", "wir sehen den baum"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run small ops: one thread avoids contention on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Tokenizer:
    directory = tmp_path_factory.mktemp("spm")
    spm = train_sentencepiece(
        directory / "spm", SpmConfig(vocab_size=30, model_type="char"), texts=_TEXTS
    )
    return Tokenizer(spm.model_path)


def _config(vocab_size: int, *, conformer: bool = False):
    sizes = dict(
        model_dim=32, num_encoder_layers=2, num_decoder_layers=2, num_encoder_attn_heads=2,
        num_decoder_attn_heads=2, ffn_inner_dim=64, target_vocab_size=vocab_size, pad_idx=1, dropout_p=0.0,
    )  # fmt: skip
    if conformer:
        return _conformer.S2TConformerConfig(**sizes, depthwise_conv_kernel_size=3)
    return _s2t.S2TTransformerConfig(**sizes)


def _model(vocab_size: int, *, conformer: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    return build_s2t_model(_config(vocab_size, conformer=conformer))


def _waveform(seconds: float, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy((0.1 * rng.standard_normal(int(seconds * 16_000))).astype(np.float32))


@pytest.mark.parametrize("conformer", [False, True], ids=["transformer", "conformer"])
def test_the_fixed_front_end_takes_batches_of_unequal_lengths(conformer):
    model = _model(30, conformer=conformer)
    fixed = model.encoder_frontend.feature_extractor
    assert isinstance(fixed, PaddedConv1dFbankSubsampler)
    upstream = _s2t.Conv1dFbankSubsampler(80, 1024, 32, kernel_sizes=[5, 5])
    upstream.load_state_dict(fixed.state_dict())
    seqs = torch.randn(2, 40, 80)
    seqs[1, 25:] = 0.0  # padding, as a collater writes it
    padded = _nn.BatchLayout.of(seqs, [40, 25])
    # fairseq2 0.8.1's own subsampler rejects this batch: the bug the subclass works around.
    with pytest.raises(ValueError, match="packed"):
        upstream(seqs, padded)
    with torch.no_grad():
        same = _nn.BatchLayout.of(seqs)  # equal lengths: upstream accepts, and agrees
        torch.testing.assert_close(fixed(seqs, same)[0], upstream(seqs, same)[0])
        out, layout = fixed(seqs, padded)
        alone, _ = upstream(seqs[1:, :25], _nn.BatchLayout.of(seqs[1:, :25]))
    assert list(layout.seq_lens) == [10, 7] and layout.padded
    # all but the last frame; that one sees the first convolution's outputs on padding, as upstream
    torch.testing.assert_close(out[1:, :6], alone[:, :6], atol=1e-6, rtol=1e-5)
    tokens = torch.tensor([[2, 5, 6], [2, 7, 1]])
    loss = model.train()(
        seqs,
        padded,
        tokens,
        _nn.BatchLayout.of(tokens, [3, 2]),
        torch.tensor([[5, 6, 2], [7, 2, 1]]),
    )
    assert torch.isfinite(loss)


def test_step_by_step_decoding_from_the_bag_equals_the_full_forward(tokenizer):
    model = _model(tokenizer.vocab_size)
    recorder = expose_cross_attention(model)
    features = torch.randn(60, 80)
    tokens = torch.tensor([[2, 5, 9, 7, 11]])
    with torch.no_grad():
        output, layout = encode(model, features)
        recorder.weights.clear()
        seqs, seqs_layout = model.decoder_frontend(tokens, _nn.BatchLayout.of(tokens))
        full = model.final_proj(model.decoder(seqs, seqs_layout, output, layout))
        full_attention = [w.clone() for w in recorder.weights]  # per layer (1, H, S, T)
        decoder = Fairseq2StepDecoder(
            model, recorder, output, layout, start_ids=(2,), max_num_steps=10
        )
        scores, cache = decoder.start(
            tokens[:, 1:3]
        )  # the start token and a 2-token prefix at once
        rows, attention = [scores.log_probs], [scores.cross_attention]
        for token in tokens[0, 3:]:
            scores, cache = decoder.step(token[None], cache)
            rows.append(scores.log_probs)
            attention.append(scores.cross_attention)
    torch.testing.assert_close(
        torch.cat(rows), torch.log_softmax(full[0, 2:], dim=-1), atol=1e-5, rtol=1e-4
    )
    for layer in range(2):
        expected = full_attention[layer][0, :, 2:].transpose(0, 1)  # (S', H, T)
        torch.testing.assert_close(
            torch.cat([a[:, layer] for a in attention]), expected, atol=1e-6, rtol=1e-4
        )


@pytest.mark.parametrize("beam_size", [1, 3])
def test_one_segment_of_all_the_audio_gives_the_offline_search(tokenizer, beam_size):
    model = _model(tokenizer.vocab_size, seed=1)
    streaming = fairseq2_streaming_model(
        model, tokenizer, fbank=FbankConfig(), cmvn=None,
        decoding=DecodingConfig(beam_size=beam_size, max_len_a=0.1, max_len_b=4),
    )  # fmt: skip
    waveform = _waveform(1.2)
    result = simulate_waveform(streaming, WaitK(k=1), waveform, segment_ms=10_000)
    with torch.no_grad():
        output, layout = encode(model, FbankExtractor(FbankConfig())(waveform))
        decoder = Fairseq2StepDecoder(
            model, streaming.backend.recorder, output, layout, start_ids=(2,), max_num_steps=30
        )
        limit = max_target_length(output.shape[1], max_len_a=0.1, max_len_b=4)
        (offline,) = beam_search(
            decoder, [[]], eos_id=2, max_new_tokens=[limit], beam_size=beam_size
        )
    assert [c.token.id for c in result.tokens] == list(offline.tokens)


@pytest.mark.parametrize("conformer", [False, True], ids=["transformer", "conformer"])
def test_every_policy_runs_on_a_fairseq2_model(tokenizer, conformer):
    model = _model(tokenizer.vocab_size, conformer=conformer, seed=2)
    streaming = fairseq2_streaming_model(
        model,
        tokenizer,
        fbank=FbankConfig(),
        cmvn=None,
        decoding=DecodingConfig(max_len_a=0.1, max_len_b=4),
    )
    assert streaming.capabilities == {Capability.CROSS_ATTENTION, Capability.HYPOTHESIS}
    waveform = _waveform(1.5, seed=3)
    policies = (
        WaitK(k=2), LocalAgreement(n=2), AlignAtt(frames=1, attention=AttentionReading(layer=1)),
        EDAtt(alpha=0.5, attention=AttentionReading(layer=-1, normalization="l2")),
    )  # fmt: skip
    for policy in policies:
        result = simulate_waveform(streaming, policy, waveform, segment_ms=400)
        delays = [c.source_ms for c in result.tokens]
        assert result.tokens[-1].token.ends_sentence and delays == sorted(delays)
    assert streaming.describe()["encoder_mode"] == "reencode"


def test_step_mode_is_refused_because_the_bag_is_mutable(tokenizer):
    with pytest.raises(ValueError, match="modified in place"):
        fairseq2_streaming_model(
            _model(tokenizer.vocab_size), tokenizer, fbank=FbankConfig(), cmvn=None,
            decoding=DecodingConfig(mode="step"),
        )  # fmt: skip
    with pytest.raises(ValueError, match="output tokens"):
        fairseq2_streaming_model(_model(8), tokenizer, fbank=FbankConfig(), cmvn=None)


def test_a_checkpoint_loads_in_fairseq2_layout(tokenizer, tmp_path: Path):
    config = _config(tokenizer.vocab_size)
    model = _model(tokenizer.vocab_size, seed=5)
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict()}, path)
    loaded = load_s2t_model(config, path)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    with pytest.raises(FileNotFoundError):
        load_s2t_model(config, tmp_path / "missing.pt")
    torch.save({"model": {"nothing": torch.zeros(1)}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="does not fit"):
        load_s2t_model(config, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="S2TTransformerConfig"):
        build_s2t_model(object())

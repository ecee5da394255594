"""The attention encoder-decoder: decoder steps equal the full pass, batching, loss, family, search."""

from __future__ import annotations

import dataclasses
import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.data.features.pipeline import FeatureBatch
from simul.families.aed.family import AedFamily
from simul.families.aed.model import AedConfig, AttentionEncoderDecoder, tiny
from simul.families.aed.search import AedStepDecoder
from simul.families.registry import get_family
from simul.models.aed_decoder import DecoderConfig, TransformerDecoder, sinusoidal_positions
from simul.models.beam_search import beam_search, max_target_length

VOCAB = 12
EOS = 2


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run small ops: one thread avoids contention (much faster on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(seed: int = 0, **changes) -> AttentionEncoderDecoder:
    torch.manual_seed(seed)
    return AttentionEncoderDecoder(dataclasses.replace(tiny(), vocab_size=VOCAB, **changes)).eval()


def _memory(model: AttentionEncoderDecoder, lengths=(64, 48), seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(lengths), max(lengths), 80, generator=generator)
    frames, frame_lengths = model.encode(features, torch.tensor(lengths))
    return frames, frame_lengths, model.memory(frames, frame_lengths)


@functools.cache
def _model_and_memory():
    model = _model()
    with torch.no_grad():
        return model, _memory(model)[2]


@settings(max_examples=10, deadline=None)
@given(splits=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=4))
def test_steps_from_the_cache_equal_the_full_pass(splits):
    model, memory = _model_and_memory()
    tokens = torch.randint(3, VOCAB, (2, sum(splits)), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model.decoder(tokens, memory)
        cache, pieces, start = model.empty_cache(2), [], 0
        for size in splits:
            step = model.decode_step(tokens[:, start : start + size], memory, cache)
            cache, start = step.cache, start + size
            pieces.append(step.logits)
    assert cache.num_positions == tokens.shape[1]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_batched_decoding_equals_one_by_one():
    model = _model()
    frames, frame_lengths, memory = _memory(model, lengths=(64, 40, 52))
    tokens = torch.randint(3, VOCAB, (3, 5), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        batched = model.decode_step(tokens, memory, model.empty_cache(3))
        for row in range(3):
            length = int(frame_lengths[row])
            alone = model.memory(frames[row : row + 1, :length])
            single = model.decode_step(tokens[row : row + 1], alone, model.empty_cache(1))
            torch.testing.assert_close(
                single.logits, batched.logits[row : row + 1], atol=1e-5, rtol=1e-5
            )
            torch.testing.assert_close(
                single.cross_attention[1], batched.cross_attention[1][row : row + 1, :, :, :length],
                atol=1e-6, rtol=1e-5,
            )  # fmt: skip
            assert float(batched.cross_attention[1][row, :, :, length:].abs().sum()) < 1e-6


def test_cross_attention_rows_are_distributions_over_the_frames():
    model = _model()
    _, frame_lengths, memory = _memory(model)
    step = model.decode_step(torch.tensor([[0, 5], [0, 6]]), memory, model.empty_cache(2))
    assert len(step.cross_attention) == model.num_decoder_layers
    for weights in step.cross_attention:
        assert weights.shape == (2, 2, 2, memory.num_frames)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 2))


def test_extending_a_memory_equals_projecting_all_frames():
    model = _model()
    frames = torch.randn(1, 9, 32)
    whole = model.memory(frames)
    grown = model.extend_memory(model.memory(frames[:, :4]), frames[:, 4:])
    for a, b in zip(whole.keys + whole.values, grown.keys + grown.values, strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="unpadded"):
        model.extend_memory(model.memory(frames, torch.tensor([9])), frames)


def test_sinusoidal_positions_start_where_asked():
    table = sinusoidal_positions(0, 10, 16)
    torch.testing.assert_close(sinusoidal_positions(4, 3, 16), table[4:7])
    assert sinusoidal_positions(0, 2, 7).shape == (2, 7)


def test_loss_ignores_padding_and_label_smoothing_raises_it():
    model = _model().train()
    torch.manual_seed(0)
    features, lengths = torch.randn(2, 64, 80), torch.tensor([64, 48])
    targets = torch.tensor([[5, 6, 7, EOS], [8, EOS, 0, 0]])
    model.eval()  # no dropout: compare exactly
    out = model(features, lengths, targets, torch.tensor([4, 2]))
    padded_otherwise = model(
        features, lengths, targets.masked_fill(targets == 0, 9), torch.tensor([4, 2])
    )
    torch.testing.assert_close(out.loss, padded_otherwise.loss)
    assert out.num_tokens == 6 and out.num_utterances == 2
    assert float(out.ce_sum) > float(out.nll_sum) > 0
    plain = dataclasses.replace(model.config, label_smoothing=0.0)
    unsmoothed = AttentionEncoderDecoder(plain).eval()
    unsmoothed.load_state_dict(model.state_dict())
    torch.testing.assert_close(
        unsmoothed(features, lengths, targets, torch.tensor([4, 2])).ce_sum, out.nll_sum
    )


def test_ctc_head_adds_its_weighted_loss():
    model = _model(ctc_weight=0.5)
    features, lengths = torch.randn(1, 64, 80), torch.tensor([64])
    out = model(features, lengths, torch.tensor([[5, 6, EOS]]), torch.tensor([3]))
    assert float(out.ctc_sum) > 0
    torch.testing.assert_close(out.loss, (out.ce_sum + 0.5 * out.ctc_sum) / 3)
    assert model.ctc_log_probs(torch.randn(1, 4, 32)).shape == (1, 4, VOCAB)
    with pytest.raises(ValueError, match="no CTC head"):
        _model().ctc_log_probs(torch.randn(1, 4, 32))


def test_training_lowers_the_loss():
    model = _model().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    features, lengths = torch.randn(2, 24, 80), torch.tensor([24, 24])
    targets, target_lengths = torch.tensor([[5, 6, 7, EOS], [8, 9, EOS, 1]]), torch.tensor([4, 3])
    first = None
    for _ in range(12):
        loss = model(features, lengths, targets, target_lengths).loss
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.5 * first


def test_the_decoder_learns_to_read_the_audio():
    """Two inputs, two targets: a model whose decoder ignored the encoder could not tell them apart."""
    torch.manual_seed(0)
    model = AttentionEncoderDecoder(
        dataclasses.replace(tiny(), vocab_size=VOCAB, label_smoothing=0.0)
    ).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    features, lengths = torch.randn(2, 40, 80), torch.tensor([40, 40])
    targets, target_lengths = torch.tensor([[5, 6, 7, EOS], [8, 9, 10, EOS]]), torch.tensor([4, 4])
    for _ in range(60):
        loss = model(
            features + 0.1 * torch.randn_like(features), lengths, targets, target_lengths
        ).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        frames, frame_lengths = model.encode(features, lengths)
        decoder = AedStepDecoder(model, model.memory(frames, frame_lengths), with_attention=False)
        hypotheses = beam_search(decoder, [[], []], eos_id=EOS, max_new_tokens=[6, 6])
    assert [h.tokens for h in hypotheses] == [(5, 6, 7, EOS), (8, 9, 10, EOS)]


def _greedy(model, memory_row, prefix, limit):
    """Argmax decoding written out, the oracle of beam size 1."""
    tokens = [model.config.bos_id, *prefix]
    out = []
    with torch.no_grad():
        while True:
            logits = model.decoder(torch.tensor([tokens]), memory_row)[0, -1]
            if len(out) + 1 >= limit:
                out.append(EOS)
                return out
            token = int(logits.argmax())
            out.append(token)
            if token == EOS:
                return out
            tokens.append(token)


@pytest.mark.parametrize("prefix", [[], [5, 7]])
def test_beam_size_one_is_greedy_with_a_forced_prefix(prefix):
    model = _model(seed=3)
    frames, frame_lengths, memory = _memory(model)
    hypotheses = beam_search(
        AedStepDecoder(model, memory, with_attention=True), [prefix, prefix], eos_id=EOS,
        max_new_tokens=[6, 9],
    )  # fmt: skip
    for row, limit in enumerate((6, 9)):
        alone = model.memory(frames[row : row + 1, : int(frame_lengths[row])])
        assert list(hypotheses[row].tokens) == _greedy(model, alone, prefix, limit)
        assert hypotheses[row].tokens[-1] == EOS and len(hypotheses[row].tokens) <= limit
        attention = hypotheses[row].cross_attention
        assert attention.shape == (len(hypotheses[row].tokens), 2, 2, memory.num_frames)
        # the attention of the first new token is the one at the step after the prefix
        bos_prefix = torch.tensor([[model.config.bos_id, *prefix]])
        step = model.decode_step(bos_prefix, alone, model.empty_cache(1))
        torch.testing.assert_close(
            attention[0, 0, :, : alone.num_frames],
            step.cross_attention[0][0, :, -1],
            atol=1e-6,
            rtol=1e-5,
        )


def test_wider_beams_never_score_worse_and_respect_the_limit():
    model = _model(seed=4)
    _, _, memory = _memory(model)
    decoder = AedStepDecoder(model, memory, with_attention=False)
    one = beam_search(
        decoder, [[], []], eos_id=EOS, max_new_tokens=[7, 7], beam_size=1, length_penalty=0.0
    )
    four = beam_search(
        decoder, [[], []], eos_id=EOS, max_new_tokens=[7, 7], beam_size=4, length_penalty=0.0
    )
    for a, b in zip(one, four, strict=True):
        assert b.score >= a.score - 1e-5
        assert len(b.tokens) <= 7 and b.tokens[-1] == EOS and b.cross_attention is None


def test_search_checks_its_arguments():
    model = _model()
    _, _, memory = _memory(model)
    decoder = AedStepDecoder(model, memory, with_attention=False)
    with pytest.raises(ValueError, match="same length"):
        beam_search(decoder, [[5], []], eos_id=EOS, max_new_tokens=[3, 3])
    with pytest.raises(ValueError, match="one entry per utterance"):
        beam_search(decoder, [[]], eos_id=EOS, max_new_tokens=[3])
    with pytest.raises(ValueError, match=">= 1"):
        beam_search(decoder, [[], []], eos_id=EOS, max_new_tokens=[0, 3])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(decoder, [[], []], eos_id=EOS, max_new_tokens=[3, 3], beam_size=0)
    assert max_target_length(10, max_len_a=0.25, max_len_b=3) == 6


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="multiple of `num_heads`"):
        DecoderConfig(d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="must differ"):
        AedConfig(pad_id=2, eos_id=2)
    with pytest.raises(ValueError, match="label_smoothing"):
        AedConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        AttentionEncoderDecoder(tiny())
    with pytest.raises(ValueError, match="pad_id"):
        TransformerDecoder(DecoderConfig(), vocab_size=4, pad_id=4, memory_dim=8)


def test_family_resolves_configs_and_decodes_batches():
    family = get_family("aed")
    assert isinstance(family, AedFamily)
    config = family.resolve_config(
        "tiny", {"decoder": {"num_layers": 3}}, vocab_size=VOCAB, blank_id=1
    )
    assert config.vocab_size == VOCAB and config.decoder.num_layers == 3
    assert family.config_from_dict(dataclasses.asdict(config)) == config
    with pytest.raises(ValueError, match="preset"):
        family.resolve_config("huge", {}, vocab_size=VOCAB, blank_id=1)
    with pytest.raises(ValueError, match="vocab_size"):
        family.resolve_config("tiny", {"vocab_size": 3}, vocab_size=VOCAB, blank_id=1)
    with pytest.raises(ValueError, match="decoder"):
        family.resolve_config("tiny", {"decoder": {"depth": 3}}, vocab_size=VOCAB, blank_id=1)
    assert family.target_ids([5, 6], eos_id=EOS) == [5, 6, EOS]
    torch.manual_seed(0)
    model = family.build(config).eval()
    batch = FeatureBatch(
        ids=("a", "b"), features=torch.randn(2, 64, 80), feature_lengths=torch.tensor([64, 30]),
        targets=torch.tensor([[5, EOS], [6, EOS]]), target_lengths=torch.tensor([2, 2]),
    )  # fmt: skip
    loss = family.loss(model, batch)
    assert set(loss.sums) == {"ce", "nll", "ctc"} and math.isfinite(float(loss.loss))
    decoded = family.decode(model, batch, beam_size=2)
    assert len(decoded) == 2 and all(
        d.source_ms is None and EOS not in d.token_ids for d in decoded
    )
    with pytest.raises(ValueError, match="AttentionEncoderDecoder"):
        family.decode(torch.nn.Linear(2, 2), batch)

"""The monotonic-attention translator (MMA-hard, MMA-IL, EMMA): training, gradients, latency loss,
hard-monotonic decoding, streaming == offline, the checkpoint adapter and ``simul train``."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from train_corpus import write_tiny_corpus

from policies import MonotonicThreshold
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.aed.search import AedStepDecoder
from simul.families.checkpoint import Checkpoint, build_model, load_checkpoint, save_checkpoint
from simul.families.loading import load_streaming_model
from simul.families.monotonic.attention import (
    ExpectedAlignment,
    HardReading,
    MonotonicAttentionConfig,
)
from simul.families.monotonic.model import MonotonicConfig, MonotonicTranslator, latency_terms, tiny
from simul.families.monotonic.streaming import MonotonicOptions, MonotonicStreamingModel
from simul.families.registry import get_family
from simul.models.beam_search import beam_search, max_target_length
from simul.streaming import Requirements, simulate_waveform
from simul.train import load_train_config, train

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SAMPLE_RATE = 16_000
_TEXTS = ["die katze schläft", "der hund läuft schnell", "ein großes haus", "wir sehen den baum"]
_VARIANTS = {
    "hard": MonotonicAttentionConfig(kind="hard"),
    "infinite_lookback": MonotonicAttentionConfig(kind="infinite_lookback"),
    "emma": MonotonicAttentionConfig(
        kind="infinite_lookback",
        energy_layers=2,
        energy_bias_init=-0.5,
        temperature=0.2,
        noise_std=0.0,
    ),
}


def _config(variant: str, vocab_size: int = 20, **attention) -> MonotonicConfig:
    config = tiny()
    return dataclasses.replace(
        config,
        aed=dataclasses.replace(config.aed, vocab_size=vocab_size),
        attention=dataclasses.replace(_VARIANTS[variant], **attention),
        variance_weight=0.01,
    )


def _batch(seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(3, 120, 80, generator=generator)
    targets = torch.randint(3, 20, (3, 6), generator=generator)
    return features, torch.tensor([120, 90, 64]), targets, torch.tensor([6, 4, 3])


# -- training ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(_VARIANTS))
def test_a_tiny_model_fits_a_toy_batch(variant: str) -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config(variant))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = _batch()
    losses = []
    for _ in range(8):
        out = model(*batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(float(out.loss))
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.8 * losses[0], losses
    assert float(out.latency_sum) > 0 and float(out.variance_sum) >= 0


# -- gradients reach p_choose (fairseq issue 4270) ------------------------------------------------


@pytest.mark.parametrize("variant", sorted(_VARIANTS))
def test_the_latency_loss_alone_trains_every_layers_p_choose(variant: str) -> None:
    """fairseq's compiled alignment has no backward, so its latency loss never reached p_choose."""
    torch.manual_seed(0)
    config = dataclasses.replace(_config(variant), latency_weight=1.0, variance_weight=1.0)
    model = MonotonicTranslator(config)
    dal, variance = _latency_of(model, _batch())
    (dal.sum() + variance.sum()).backward()
    for layer in model.aed.decoder.layers:
        attention = layer.cross_attn
        assert (
            attention.energy_bias.grad is not None and float(attention.energy_bias.grad.abs()) > 0
        )
        weight = next(attention.q_energy.parameters()).grad
        assert weight is not None and float(weight.abs().sum()) > 0


def _latency_of(model: MonotonicTranslator, batch) -> tuple[torch.Tensor, torch.Tensor]:
    features, feature_lengths, targets, target_lengths = batch
    aed_out = model.aed(features, feature_lengths, targets, target_lengths)
    return latency_terms(
        aed_out.cross_states, target_lengths, model.config.attention.pre_decision_ratio
    )


def _float64_loss(model: MonotonicTranslator, batch) -> torch.Tensor:
    """CE through the decoder's alignments + DAL + head variance, all in float64 (the AED's own
    loss computes its cross-entropy in float32, too coarse for finite differences)."""
    features, feature_lengths, targets, target_lengths = batch
    aed = model.aed
    frames, frame_lengths = aed.encode(features, feature_lengths)
    real = torch.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    targets = torch.where(real, targets, aed.config.pad_id)
    decoder_in = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], dim=1)
    step = aed.decoder.teacher_forced(decoder_in, aed.memory(frames, frame_lengths))
    ce = torch.nn.functional.cross_entropy(
        step.logits.flatten(0, 1),
        targets.flatten(),
        ignore_index=aed.config.pad_id,
        reduction="sum",
    )
    dal, variance = latency_terms(
        step.cache.cross_states, target_lengths, model.config.attention.pre_decision_ratio
    )
    return ce + 0.5 * dal.sum() + 0.1 * variance.sum()


@pytest.mark.parametrize("variant", sorted(_VARIANTS))
def test_the_loss_gradient_on_the_energy_bias_equals_finite_differences(variant: str) -> None:
    """CE (through the alignment) + latency + variance, float64, no noise, no dropout."""
    torch.manual_seed(1)
    config = _config(variant, noise_std=0.0, energy_bias_init=0.3)
    config = dataclasses.replace(
        config,
        aed=dataclasses.replace(
            config.aed,
            decoder=dataclasses.replace(config.aed.decoder, dropout_p=0.0),
            encoder=dataclasses.replace(config.aed.encoder, dropout_p=0.0),
        ),
    )
    model = MonotonicTranslator(config).double().train()
    batch = tuple(t.double() if t.is_floating_point() else t for t in _batch(2))
    # The top layer's bias: nothing after its cross-attention runs in float32 (the AED's
    # self-attention softmax does, and would blur the finite differences of a lower layer's).
    bias = model.aed.decoder.layers[-1].cross_attn.energy_bias
    (gradient,) = torch.autograd.grad(_float64_loss(model, batch), bias)
    step = 1e-6
    with torch.no_grad():
        bias += step
        above = float(_float64_loss(model, batch))
        bias -= 2 * step
        below = float(_float64_loss(model, batch))
        bias += step
    numeric = (above - below) / (2 * step)
    assert abs(float(gradient)) > 1e-3
    assert float(gradient) == pytest.approx(numeric, rel=1e-5)


# -- the latency terms, by hand --------------------------------------------------------------------


def test_latency_terms_equal_a_hand_computation() -> None:
    # One sentence, one layer of two heads, two target steps over three pooled steps (r = 2).
    alpha = torch.tensor([[[[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]])
    alignment = ExpectedAlignment(p_choose=alpha, alpha=alpha, source_lengths=torch.tensor([3]))
    dal, variance = latency_terms((alignment,), torch.tensor([2]), ratio=2)
    # Expected delays (steps from 1): head 0: [1, 2.5]; head 1: [2, 3].
    w1 = math.exp(1) / (math.exp(1) + math.exp(2))
    g1 = w1 * 1 + (1 - w1) * 2
    w2 = math.exp(2.5) / (math.exp(2.5) + math.exp(3))
    g2 = w2 * 2.5 + (1 - w2) * 3
    # DAL with gamma = |y| / |x| = 2/3: d'_1 = g1, d'_2 = max(g2, g1 + 1.5); minus (i - 1) * 1.5.
    expected_dal = (g1 + max(g2, g1 + 1.5) - 1.5) / 2
    assert float(dal[0]) == pytest.approx(2 * expected_dal)  # in frames: r = 2 per step
    # Unbiased variance over the 2 heads at each step: (1-2)^2/2 = 0.5 and (2.5-3)^2/2 = 0.125.
    assert float(variance[0]) == pytest.approx(4 * (0.5 + 0.125) / 2)


def test_the_models_latency_sum_is_the_latency_of_its_alignments() -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config("hard")).eval()
    batch = _batch()
    out = model(*batch)
    dal, variance = _latency_of(model, batch)
    assert float(out.latency_sum) == pytest.approx(float(dal.sum()), rel=1e-5)
    assert float(out.variance_sum) == pytest.approx(float(variance.sum()), rel=1e-5)
    expected = (
        float(out.ce_sum) + 0.1 * float(dal.sum()) + 0.01 * float(variance.sum())
    ) / out.num_tokens
    assert float(out.loss) == pytest.approx(expected, rel=1e-5)


def test_the_latency_terms_start_after_latency_after_steps_training_passes() -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(_config("hard"), latency_after_steps=2, latency_weight=1.0)
    model = MonotonicTranslator(config)
    batch = _batch()
    losses = []
    for _ in range(3):
        out = model(*batch)
        losses.append((float(out.loss), float(out.ce_sum) / out.num_tokens))
    assert losses[0][0] == pytest.approx(losses[0][1]) and losses[1][0] == pytest.approx(
        losses[1][1]
    )
    assert losses[2][0] > losses[2][1] + 1.0  # DAL is tens of frames
    model.eval()
    model(*batch)  # validation passes do not count
    assert int(model.training_steps) == 3 and int(model.state_dict()["training_steps"]) == 3


def test_expected_alignments_sum_to_one_over_each_utterances_steps() -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config("infinite_lookback", pre_decision_ratio=3)).eval()
    features, feature_lengths, targets, target_lengths = _batch()
    states = model.aed(features, feature_lengths, targets, target_lengths).cross_states
    frames = model.aed.encode(features, feature_lengths)[1]
    assert states[0].source_lengths.tolist() == [math.ceil(int(n) / 3) for n in frames]
    for state in states:
        torch.testing.assert_close(state.alpha.sum(-1), torch.ones_like(state.alpha[..., 0]))


# -- hard-monotonic decoding -----------------------------------------------------------------------


def test_a_head_stops_at_its_first_step_over_the_threshold_and_never_goes_back() -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config("hard", energy_bias_init=0.0)).eval()
    frames = torch.randn(1, 14, 32)
    memory = model.aed.memory(frames)
    cache = model.empty_cache(1, threshold=0.6)
    with torch.no_grad():
        step = model.aed.decode_step(torch.tensor([[0, 5, 7, 9, 4]]), memory, cache)
    for reading in MonotonicTranslator.readings(step.cache):
        p = reading.p_choose[0]  # (H, S, T')
        for head in range(p.shape[0]):
            start = 0
            for position in range(p.shape[1]):
                assert int(reading.walk_starts[0, head, position]) == start
                over = [j for j in range(start, p.shape[2]) if float(p[head, position, j]) >= 0.6]
                stop = over[0] if over else p.shape[2] - 1
                assert bool(reading.stopped[0, head, position]) == bool(over)
                start = stop
            assert int(reading.stops[0, head]) == start
    for weights in step.cross_attention:  # hard: one block-end frame per head and position
        assert torch.equal(weights.sum(-1), torch.ones_like(weights[..., 0]))
        assert set(weights.argmax(-1).flatten().tolist()) <= {1, 3, 5, 7, 9, 11, 13}


def test_token_by_token_decoding_equals_one_pass_over_the_prefix() -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config("infinite_lookback", energy_bias_init=0.0)).eval()
    memory = model.aed.memory(torch.randn(1, 12, 32))
    tokens = torch.tensor([[0, 5, 7, 9]])
    with torch.no_grad():
        whole = model.aed.decode_step(tokens, memory, model.empty_cache(1))
        cache = model.empty_cache(1)
        logits = []
        for position in range(tokens.shape[1]):
            step = model.aed.decode_step(tokens[:, position : position + 1], memory, cache)
            cache = step.cache
            logits.append(step.logits)
    torch.testing.assert_close(torch.cat(logits, dim=1), whole.logits, atol=1e-5, rtol=1e-4)
    for a, b in zip(
        MonotonicTranslator.readings(cache), MonotonicTranslator.readings(whole.cache), strict=True
    ):
        assert torch.equal(a.stops, b.stops)


# -- streaming == offline ----------------------------------------------------------------------------


@functools.cache
def _tokenizer(directory: str) -> Tokenizer:
    spm = train_sentencepiece(
        Path(directory) / "spm", SpmConfig(vocab_size=30, model_type="char"), texts=_TEXTS
    )
    return Tokenizer(spm.model_path)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Tokenizer:
    return _tokenizer(str(tmp_path_factory.mktemp("spm")))


def _waveform(seconds: float, seed: int) -> torch.Tensor:
    """Tones of random pitch and loudness changing every 120 ms, so that encoder frames differ."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    block = (time / 0.12).astype(int)
    loudness = rng.uniform(0.01, 0.5, size=block[-1] + 1)[block]
    pitch = rng.uniform(100, 3000, size=block[-1] + 1)[block]
    samples = loudness * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.standard_normal(
        time.shape[0]
    )
    return torch.from_numpy(samples.astype(np.float32))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared machine: one thread is faster and deterministic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _offline_greedy(
    model: MonotonicTranslator, waveform: torch.Tensor, options: MonotonicOptions
) -> list[int]:
    features = FbankExtractor(FbankConfig())(waveform)
    with torch.no_grad():
        frames, lengths = model.aed.encode(features[None], torch.tensor([features.shape[0]]))
        limit = max_target_length(
            int(lengths[0]), max_len_a=options.max_len_a, max_len_b=options.max_len_b
        )
        (hypothesis,) = beam_search(
            AedStepDecoder(model.aed, model.aed.memory(frames), with_attention=False),
            [[]], eos_id=model.config.aed.eos_id, max_new_tokens=[limit],
        )  # fmt: skip
    return list(hypothesis.tokens)


@pytest.mark.parametrize(
    ("variant", "ratio", "seed"),
    [("hard", 2, 5), ("hard", 3, 6), ("infinite_lookback", 2, 2), ("emma", 1, 3), ("emma", 2, 4)],
)
def test_streaming_with_the_monotonic_policy_equals_offline_hard_decoding(
    tokenizer: Tokenizer, variant: str, ratio: int, seed: int
) -> None:
    """Ratio 3 does not divide the encoder's 4-frame chunks: partial blocks wait for the next."""
    torch.manual_seed(seed)
    sharp = (
        {"energy_bias_init": 0.5, "temperature": 0.1}
        if variant == "hard"
        else {"energy_bias_init": 0.0}
    )
    config = _config(variant, tokenizer.vocab_size, pre_decision_ratio=ratio, **sharp)
    model = MonotonicTranslator(config).eval()
    options = MonotonicOptions(max_len_a=0.3, max_len_b=3)
    streaming = MonotonicStreamingModel(
        model, tokenizer, fbank=FbankConfig(), cmvn=None, options=options
    )
    waveform = _waveform(2.0, seed)
    offline = _offline_greedy(model, waveform, options)
    delays = set()
    for segment_ms in (160, 320):
        result = simulate_waveform(streaming, MonotonicThreshold(segment_ms=segment_ms), waveform)
        tokens = [committed.token.id for committed in result.tokens]
        assert tokens == offline
        delays |= {committed.source_ms for committed in result.tokens}
    assert len(delays) > 2  # tokens were written while the audio was still arriving


def test_p_choose_signals_cover_the_layers_from_the_start_layer_on_block_ends(
    tokenizer: Tokenizer,
) -> None:
    torch.manual_seed(0)
    model = MonotonicTranslator(_config("hard", tokenizer.vocab_size, energy_bias_init=0.0)).eval()
    streaming = MonotonicStreamingModel(model, tokenizer, fbank=FbankConfig(), cmvn=None)
    state = streaming.read(streaming.new_state(), _waveform(1.0, 0), source_finished=False)
    full = streaming.signals(state, Requirements(p_choose_threshold=0.5))
    top = streaming.signals(state, Requirements(p_choose_threshold=0.5, p_choose_start_layer=1))
    heads = model.num_heads
    assert full.p_choose.shape == (1, 2 * heads, full.num_frames) and full.num_frames % 2 == 0
    torch.testing.assert_close(top.p_choose, full.p_choose[:, heads:])
    assert not full.p_choose[..., 0::2].any()  # values sit on block-end frames (odd, r = 2)
    state = streaming.write(state, full.candidates)
    later = streaming.signals(state, Requirements(p_choose_threshold=0.5))
    cache = model.empty_cache(1)
    tokens = torch.tensor([[model.config.aed.bos_id, full.candidates[0].id]])
    with torch.no_grad():
        step = model.aed.decode_step(tokens, state.memory, cache)
    for layer, reading in enumerate(MonotonicTranslator.readings(step.cache)):
        rows = later.p_choose[0, layer * heads : (layer + 1) * heads]  # (H, T)
        for head in range(heads):
            start_frame = 2 * int(reading.walk_starts[0, head, -1]) + 1
            assert not rows[head, : start_frame - 1].any()
    with pytest.raises(ValueError, match="`policy.start_layer`"):
        streaming.check_requirements(Requirements(p_choose_start_layer=2))


def test_the_streaming_model_refuses_a_full_context_encoder(tokenizer: Tokenizer) -> None:
    config = _config("hard", tokenizer.vocab_size)
    config = dataclasses.replace(
        config,
        aed=dataclasses.replace(
            config.aed, encoder=dataclasses.replace(config.aed.encoder, chunk_size_frames=None)
        ),
    )
    with pytest.raises(ValueError, match="chunk-limited"):
        MonotonicStreamingModel(
            MonotonicTranslator(config).eval(), tokenizer, fbank=FbankConfig(), cmvn=None
        )


def test_hard_readings_reorder_with_beams() -> None:
    reading = HardReading.start(2, 3, threshold=0.5, like=torch.zeros(1))
    moved = dataclasses.replace(reading, stops=torch.tensor([[0, 1, 2], [3, 4, 5]]))
    assert moved.reorder(torch.tensor([1, 1, 0])).stops.tolist() == [
        [3, 4, 5],
        [3, 4, 5],
        [0, 1, 2],
    ]
    with pytest.raises(ValueError, match="threshold"):
        reading.with_threshold(0.0)


# -- family, checkpoint adapter, simul train --------------------------------------------------------


def test_the_family_resolves_presets_and_refuses_a_wrong_vocabulary() -> None:
    family = get_family("monotonic")
    for preset in family.presets():
        config = family.resolve_config(preset, {}, vocab_size=50, blank_id=1)
        assert family.config_from_dict(dataclasses.asdict(config)) == config
    assert (
        family.resolve_config("emma_small", {}, vocab_size=50, blank_id=1).attention.temperature
        == 0.2
    )
    with pytest.raises(ValueError, match="vocab_size"):
        family.resolve_config("tiny", {"aed": {"vocab_size": 7}}, vocab_size=50, blank_id=1)
    with pytest.raises(ValueError, match="kind"):
        family.resolve_config(
            "tiny", {"attention": {"kind": "chunkwise"}}, vocab_size=50, blank_id=1
        )


def test_a_checkpoint_runs_through_the_adapter(tokenizer: Tokenizer, tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = _config("hard", tokenizer.vocab_size, energy_bias_init=0.0)
    model = MonotonicTranslator(config).eval()
    path = tmp_path / "mma.pt"
    save_checkpoint(
        path,
        Checkpoint(
            family="monotonic", model_config=dataclasses.asdict(config), state_dict=model.state_dict(),
            tokenizer_model=Path(tokenizer.model_path).read_bytes(), fbank_config=FbankConfig().to_dict(),
            cmvn=None, train_config={"data": {"target": "st:de"}}, step=0, epoch=0,
        ),
    )  # fmt: skip
    loaded = load_streaming_model(path, options={"max_len_a": 0.3, "max_len_b": 3})
    assert isinstance(loaded.model, MonotonicStreamingModel) and loaded.target_lang == "de"
    waveform = _waveform(1.5, 5)
    result = simulate_waveform(loaded.model, MonotonicThreshold(), waveform)
    assert [t.token.id for t in result.tokens] == _offline_greedy(
        model, waveform, loaded.model.options
    )
    with pytest.raises(ValueError, match="max_len_b"):
        load_streaming_model(path, options={"max_len_b": 0})


def test_simul_train_trains_the_tiny_experiment(tmp_path: Path) -> None:
    corpus = write_tiny_corpus(tmp_path / "corpus", num_train=12)
    config = load_train_config(
        EXPERIMENTS / "st_mma_tiny.yaml",
        [
            f"data.corpus_dir={corpus.root}", f"data.spm_model={corpus.spm_model}",
            f"data.cmvn={corpus.cmvn}", f"trainer.output_dir={tmp_path / 'run'}",
            "data.max_frames_per_batch=1000", "data.num_prefetch=0", "trainer.progress=false",
            "trainer.num_threads=1", "trainer.max_steps=3", "trainer.validate_every_steps=3",
        ],
    )  # fmt: skip
    result = train(config)
    assert result.finished and result.step == 3
    assert math.isfinite(result.metrics["valid/loss"]) and "valid/st/BLEU" in result.metrics
    model = build_model(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt"))
    assert isinstance(model, MonotonicTranslator)

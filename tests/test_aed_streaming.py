"""The AED in the loop: incremental == re-encoding on complete chunks, full source == offline search,
step mode == greedy hypothesis mode, every attention policy runs, the checkpoint adapter."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from policies import AlignAtt, AttentionReading, EDAtt, LocalAgreement, WaitK
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.instance import Instance
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.aed.model import AttentionEncoderDecoder, tiny
from simul.families.aed.search import AedStepDecoder
from simul.families.aed.streaming import AedBackend, AedOptions, EncoderMode, aed_streaming_model
from simul.families.checkpoint import Checkpoint, save_checkpoint
from simul.families.loading import load_streaming_model
from simul.models.beam_search import beam_search, max_target_length
from simul.streaming import Capability, Requirements, StreamingSession, simulate, simulate_waveform
from simul.streaming.attention_decoder import DecodingConfig, DecodingMode

SAMPLE_RATE = 16_000
_TEXTS = ["die katze schläft", "der hund läuft schnell", "ein großes haus", "wir sehen den baum"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run small ops: one thread avoids contention (30x faster on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.cache
def _tokenizer(directory: str) -> Tokenizer:
    spm = train_sentencepiece(
        Path(directory) / "spm", SpmConfig(vocab_size=30, model_type="char"), texts=_TEXTS
    )
    return Tokenizer(spm.model_path)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Tokenizer:
    return _tokenizer(str(tmp_path_factory.mktemp("spm")))


def _model(tokenizer: Tokenizer, *, chunked: bool = True, seed: int = 0) -> AttentionEncoderDecoder:
    config = dataclasses.replace(tiny(), vocab_size=tokenizer.vocab_size)
    if not chunked:
        config = dataclasses.replace(
            config, encoder=dataclasses.replace(config.encoder, chunk_size_frames=None)
        )
    torch.manual_seed(seed)
    return AttentionEncoderDecoder(config).eval()


def _waveform(seconds: float = 1.5, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(
        (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    )


def _streaming(tokenizer, model, encoder_mode="auto", **decoding):
    decoding = {"max_len_a": 0.1, "max_len_b": 4, **decoding}  # untrained models run to the limit
    options = AedOptions(encoder_mode=encoder_mode, decoding=DecodingConfig(**decoding))
    return aed_streaming_model(model, tokenizer, fbank=FbankConfig(), cmvn=None, options=options)


def test_reencoding_a_chunked_encoder_gives_the_incremental_frames_and_output(tokenizer):
    model = _model(tokenizer)
    fbank = FbankConfig()
    incremental = AedBackend(model, fbank, None, EncoderMode.INCREMENTAL)
    reencode = AedBackend(model, fbank, None, EncoderMode.REENCODE)
    waveform = _waveform()
    a, b = incremental.initial_source_state(), reencode.initial_source_state()
    chunk_frames = model.config.encoder.chunk_size_frames
    with torch.no_grad():
        for start in range(0, waveform.shape[0], 3000):
            piece, last = waveform[start : start + 3000], start + 3000 >= waveform.shape[0]
            a = incremental.read(a, piece, source_finished=last)
            b = reencode.read(b, piece, source_finished=last)
            assert incremental.num_frames(a) == reencode.num_frames(b)
            assert incremental.num_frames(a) % chunk_frames == 0 or last
            if a.memory is not None:
                for x, y in zip(a.memory.keys, b.memory.keys, strict=True):
                    torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)
    features = FbankExtractor(fbank)(waveform)
    assert incremental.num_frames(a) == features.shape[0] // 4
    policy = AlignAtt(frames=1, segment_ms=200, attention=AttentionReading(layer=1))
    outputs = [
        [(c.token.id, c.source_ms) for c in simulate_waveform(_streaming(tokenizer, model, encoder_mode=mode), policy,
                                                               waveform).tokens]
        for mode in ("incremental", "reencode")
    ]  # fmt: skip
    assert outputs[0] == outputs[1]


def test_a_full_context_encoder_only_reencodes(tokenizer):
    model = _model(tokenizer, chunked=False)
    assert AedBackend(model, FbankConfig()).encoder_mode is EncoderMode.REENCODE
    with pytest.raises(ValueError, match="full-context"):
        AedBackend(model, FbankConfig(), None, EncoderMode.INCREMENTAL)
    streaming = _streaming(tokenizer, model)
    result = simulate_waveform(streaming, WaitK(k=2, whole_words=False), _waveform(1.0))
    assert result.tokens[-1].token.ends_sentence and result.tokens[0].source_ms == 640.0


@pytest.mark.parametrize("beam_size", [1, 3])
def test_one_segment_of_all_the_audio_gives_the_offline_search(tokenizer, beam_size):
    model = _model(tokenizer, seed=1)
    streaming = _streaming(tokenizer, model, beam_size=beam_size, max_len_a=0.5)
    waveform = _waveform()
    result = simulate_waveform(streaming, WaitK(k=1), waveform, segment_ms=10_000)
    features = FbankExtractor(FbankConfig())(waveform)
    with torch.no_grad():
        frames, _ = model.encode(features[None], torch.tensor([features.shape[0]]))
        (offline,) = beam_search(
            AedStepDecoder(model, model.memory(frames), with_attention=False), [[]], eos_id=tokenizer.eos_id,
            max_new_tokens=[max_target_length(frames.shape[1], max_len_a=0.5, max_len_b=4)], beam_size=beam_size,
        )  # fmt: skip
    assert [c.token.id for c in result.tokens] == list(offline.tokens)
    assert all(c.source_ms == pytest.approx(1500.0) for c in result.tokens)


@pytest.mark.parametrize(
    "policy",
    [
        WaitK(k=2, segment_ms=200),
        AlignAtt(frames=2, segment_ms=320, attention=AttentionReading(layer=1)),
        EDAtt(
            alpha=0.3,
            frames=2,
            segment_ms=320,
            attention=AttentionReading(layer=-1, normalization="l2"),
        ),
    ],
    ids=["waitk", "alignatt", "edatt"],
)
def test_step_mode_writes_what_greedy_hypothesis_mode_writes(tokenizer, policy):
    model = _model(tokenizer, seed=2)
    waveform = _waveform(2.0, seed=3)
    step = simulate_waveform(_streaming(tokenizer, model, mode="step"), policy, waveform)
    whole = simulate_waveform(_streaming(tokenizer, model), policy, waveform)
    assert [(c.token.id, c.source_ms) for c in step.tokens] == [
        (c.token.id, c.source_ms) for c in whole.tokens
    ]
    assert step.tokens and step.tokens[-1].token.ends_sentence


def test_every_attention_policy_runs_and_writes_in_time(tokenizer):
    model = _model(tokenizer, seed=4)
    streaming = _streaming(tokenizer, model, beam_size=2)
    assert streaming.capabilities == {Capability.CROSS_ATTENTION, Capability.HYPOTHESIS}
    waveform = _waveform(2.0, seed=5)
    for policy in (
        LocalAgreement(n=2),
        AlignAtt(frames=1, attention=AttentionReading(layer=0)),
        EDAtt(alpha=0.5, attention=AttentionReading(layer=1)),
    ):
        result = simulate_waveform(streaming, policy, waveform, segment_ms=400)
        delays = [c.source_ms for c in result.tokens]
        assert (
            result.tokens[-1].token.ends_sentence
            and delays == sorted(delays)
            and delays[-1] == 2000.0
        )


def test_the_decoder_proposal_is_kept_until_new_frames_arrive(tokenizer):
    model = _model(tokenizer)
    streaming = _streaming(tokenizer, model)
    assert model.config.encoder.chunk_size_frames == 4  # 160 ms chunks
    state = streaming.read(streaming.new_state(), _waveform(0.1), source_finished=False)
    assert state.proposal is None  # 100 ms: no chunk is complete, no frame to attend to
    state = streaming.read(state, _waveform(0.2, seed=1), source_finished=False)
    proposal = state.proposal
    assert proposal is not None and proposal.tokens[-1] == tokenizer.eos_id
    again = streaming.read(state, torch.zeros(10), source_finished=False)
    assert again.proposal is proposal  # no new encoder frame: nothing recomputed


def test_step_mode_refuses_local_agreement_and_bad_layers(tokenizer):
    model = _model(tokenizer)
    step = _streaming(tokenizer, model, mode=DecodingMode.STEP)
    with pytest.raises(ValueError, match="hypothesis"):
        StreamingSession(step, LocalAgreement())
    with pytest.raises(ValueError, match="`policy.attention.layer`"):
        StreamingSession(step, AlignAtt(attention=AttentionReading(layer=2)))
    with pytest.raises(ValueError, match="beam_size"):
        DecodingConfig(mode="step", beam_size=2)
    other = AttentionEncoderDecoder(
        dataclasses.replace(tiny(), vocab_size=tokenizer.vocab_size + 1)
    )
    with pytest.raises(ValueError, match="tokenizer must match"):
        aed_streaming_model(other, tokenizer, fbank=FbankConfig(), cmvn=None)


def test_writing_something_else_than_the_proposal_is_refused(tokenizer):
    model = _model(tokenizer)
    streaming = _streaming(tokenizer, model)
    state = streaming.read(streaming.new_state(), _waveform(1.0), source_finished=False)
    signals = streaming.signals(state, Requirements())
    wrong = dataclasses.replace(signals.candidates[0], id=signals.candidates[0].id + 1)
    with pytest.raises(ValueError, match="prefix of the model's proposal"):
        streaming.write(state, [wrong])


def test_a_checkpoint_runs_through_the_adapter_registry(tokenizer, tmp_path):
    model = _model(tokenizer, seed=6)
    path = tmp_path / "aed.pt"
    save_checkpoint(path, Checkpoint(
        family="aed", model_config=dataclasses.asdict(model.config), state_dict=model.state_dict(),
        tokenizer_model=tokenizer.model_path.read_bytes(), fbank_config=FbankConfig().to_dict(),
        cmvn=None, train_config={"data": {"target": "st:de"}}, step=7, epoch=0,
    ))  # fmt: skip
    loaded = load_streaming_model(
        path, options={"encoder_mode": "reencode", "decoding": {"beam_size": 2, "max_len_b": 3}}
    )
    assert loaded.target_lang == "de"
    assert (
        loaded.description["family"] == "aed" and loaded.description["encoder_mode"] == "reencode"
    )
    assert loaded.description["decoding"]["beam_size"] == 2
    json.dumps(loaded.description)  # provenance must be JSON
    wav = tmp_path / "a.wav"
    soundfile.write(wav, _waveform(1.0).numpy(), SAMPLE_RATE)
    instance = Instance(
        id="a", audio_path=wav, offset_samples=0, num_samples=SAMPLE_RATE, sample_rate=SAMPLE_RATE,
        source_text="x", target_texts={"de": "die katze"},
    )  # fmt: skip
    result = simulate(
        loaded.model, AlignAtt(frames=2, attention=AttentionReading(layer=1)), instance
    )
    assert result.tokens[-1].token.ends_sentence
    with pytest.raises(ValueError, match="encoder_mode"):
        load_streaming_model(path, options={"encoder_mode": "sideways"})

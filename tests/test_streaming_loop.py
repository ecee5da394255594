"""The simultaneous loop: SimulEval's segmentation and delays, whole words, writes, end of source, clocks."""

from __future__ import annotations

import math
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import final

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from simuleval.data.segments import TextSegment
from simuleval.evaluator.instance import SpeechToTextInstance
from typing_extensions import override

from policies import AlignAtt, TransducerEmission, WaitK
from policies._attention import AttentionReading
from simul.data.instance import Instance
from simul.eval.scoring import ScoringConfig, score
from simul.serialize.deserialize import EmittedToken, split_streams
from simul.serialize.streams import StreamLayout
from simul.streaming import (
    Decision,
    DecisionView,
    ElapsedClock,
    EndOfSource,
    Policy,
    Read,
    Requirements,
    Signals,
    StreamingModel,
    StreamingSession,
    Token,
    ToyConfig,
    ToyMode,
    ToyModel,
    WordAssembler,
    Write,
    complete_prefix_length,
    iter_segments,
    segment_num_samples,
    simulate,
    simulate_waveform,
)
from simul.streaming.toy import ToyState

SAMPLE_RATE = 16_000


def _words(result) -> list[tuple[str, float]]:
    return [(e.text, e.source_ms) for e in result.emissions]


def _script(*pieces_and_frames: tuple[str, int], **options) -> ToyModel:
    pieces = tuple(p for p, _ in pieces_and_frames)
    frames = tuple(f for _, f in pieces_and_frames)
    return ToyModel(ToyConfig(pieces=pieces, frames=frames, **options))


# -- segmentation: SimulEval's, sample for sample ----------------------------------------------


def _simuleval_instance(num_samples: int, sample_rate: int) -> SpeechToTextInstance:
    """SimulEval 1.1.4's own speech instance over a waveform of ``num_samples`` zeros."""
    instance = SpeechToTextInstance(0, None, Namespace(eval_latency_unit="word"))
    instance.sample_list = [0.0] * num_samples
    instance.sample_rate_value = sample_rate
    instance.audio_info = Namespace(samplerate=sample_rate)
    instance.reference = ""
    instance.tgt_lang = None
    return instance


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 6000),
    segment_ms=st.integers(1, 400),
    sample_rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
)
def test_segments_equal_simulevals(num_samples: int, segment_ms: int, sample_rate: int) -> None:
    simuleval = _simuleval_instance(num_samples, sample_rate)
    expected = []
    while not simuleval.source_finished_reading:
        segment = simuleval.send_source(segment_ms)
        expected.append((len(segment.content), segment.finished, segment.index))
    ours = []
    consumed = 0
    for segment, is_last in iter_segments(
        torch.zeros(num_samples), segment_num_samples(segment_ms, sample_rate)
    ):
        consumed += segment.shape[0]
        ours.append((segment.shape[0], is_last, consumed * 1000 / sample_rate))
    assert ours == expected


def test_segment_num_samples_keeps_simulevals_float_ceil() -> None:
    assert segment_num_samples(70, 48_000) == 3361 == math.ceil(70 / 1000 * 48_000)
    assert segment_num_samples(140, 22_050) == 3088
    assert segment_num_samples(320, 16_000) == 5120
    with pytest.raises(ValueError, match="segment_ms"):
        segment_num_samples(0, 16_000)


@settings(max_examples=25, deadline=None)
@given(
    num_samples=st.integers(200, 40_000),
    k=st.integers(1, 4),
    segment_ms=st.sampled_from([200, 320, 500]),
)
def test_delays_equal_simulevals_for_the_same_writes(
    num_samples: int, k: int, segment_ms: int
) -> None:
    """Feed SimulEval's instance, segment by segment, the words our loop completes at each step:
    SimulEval's delays and prediction equal ours (what the SimulEval agent relies on)."""
    model = ToyModel(ToyConfig(ms_per_word=150, pieces_per_word=2))
    session = StreamingSession(model, WaitK(k=k, segment_ms=segment_ms))
    simuleval = _simuleval_instance(num_samples, SAMPLE_RATE)
    waveform = torch.zeros(num_samples)
    while not simuleval.source_finished_reading:
        segment = simuleval.send_source(segment_ms)
        start = simuleval.step - len(segment.content)
        words = session.push(waveform[start : simuleval.step], source_finished=segment.finished)
        text = " ".join(w.text for w in words)
        simuleval.receive_prediction(TextSegment(content=text, finished=segment.finished))
    result = session.result()
    assert simuleval.prediction == " ".join(w.text for w in result.emissions)
    assert simuleval.delays == [w.source_ms for w in result.emissions]


# -- whole words --------------------------------------------------------------------------------


def test_complete_prefix_length() -> None:
    hel, lo, you, eos = (
        Token(id=5, piece="▁hel"),
        Token(id=6, piece="lo"),
        Token(id=7, piece="▁you"),
        Token(id=2, piece="</s>", ends_sentence=True),
    )
    tag = Token(id=4, piece="<st>", stream="st")
    assert complete_prefix_length([hel, lo], None) == 0
    assert complete_prefix_length([hel, lo], lo) == 0
    assert complete_prefix_length([hel, lo], you) == 2
    assert complete_prefix_length([hel, lo], eos) == 2
    assert complete_prefix_length([hel, lo, you], None) == 2
    assert complete_prefix_length([hel, lo, tag, lo], None) == 3
    assert complete_prefix_length([lo], None) == 0


def test_whole_words_hold_back_an_open_word_until_it_is_complete() -> None:
    # A transducer emits ▁a at frame 2, -x at frame 10, ▁b at frame 30 (8 frames per 320 ms segment).
    model = _script(("▁a", 2), ("-x", 10), ("▁b", 30), mode=ToyMode.TRANSDUCER)
    waveform = torch.zeros(2 * SAMPLE_RATE)
    whole = simulate_waveform(model, TransducerEmission(), waveform)
    # The end of "a-x" is known only when ▁b comes (segment 4); ▁b's end only at the end of source.
    assert _words(whole) == [("a-x", 1280.0), ("b", 2000.0)]
    pieces = simulate_waveform(model, TransducerEmission(whole_words=False), waveform)
    # Without whole words each piece is committed at once, and a word has its last piece's time.
    assert _words(pieces) == [("a-x", 640.0), ("b", 1280.0)]
    assert [(c.token.piece, c.source_ms) for c in pieces.tokens] == [
        ("▁a", 320.0), ("-x", 640.0), ("▁b", 1280.0),
    ]  # fmt: skip


def test_a_declined_candidate_that_starts_a_word_completes_the_open_word() -> None:
    model = _script(("▁a", 0), ("-x", 0), ("▁b", 0), ("-y", 0))
    result = simulate_waveform(model, WaitK(k=1), torch.zeros(2 * SAMPLE_RATE))
    # k=1 allows s tokens after s segments: "▁a" alone waits for "-x"; at segment 2 the declined
    # candidate "▁b" shows that "a-x" is complete.
    assert _words(result) == [("a-x", 640.0), ("b-y", 1280.0)]
    assert [c.source_ms for c in result.tokens] == [640.0, 640.0, 1280.0, 1280.0, 2000.0]


# -- several writes, end of source, limits --------------------------------------------------------


@final
@dataclass(frozen=True, kw_only=True)
class _OneByOne(Policy):
    """Writes one writable token per decision, up to `per_segment` per segment."""

    per_segment: int = 2

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements()

    @override
    def decide(self, view: DecisionView) -> Decision:
        if not view.writable or view.num_written_in_segment >= self.per_segment:
            return Read()
        return Write(view.writable[:1])


def test_several_writes_in_one_segment() -> None:
    model = _script(*[(f"▁w{i}", 0) for i in range(5)], mode=ToyMode.HYPOTHESIS)
    result = simulate_waveform(model, _OneByOne(per_segment=2), torch.zeros(SAMPLE_RATE))
    assert _words(result) == [
        ("w0", 320.0), ("w1", 320.0), ("w2", 640.0), ("w3", 640.0), ("w4", 960.0),
    ]  # fmt: skip


def test_end_of_source_flush_or_policy() -> None:
    model = _script(("▁a", 5), ("▁b", 46), attention_decay=0.0)
    reading = {"frames": 4}
    flushed = simulate_waveform(model, AlignAtt(**reading), torch.zeros(2 * SAMPLE_RATE))
    assert _words(flushed) == [("a", 640.0), ("b", 2000.0)]
    asked = simulate_waveform(
        model, AlignAtt(**reading, end_of_source=EndOfSource.POLICY), torch.zeros(2 * SAMPLE_RATE)
    )
    # At the end AlignAtt still sees "b" aligned to a recent frame, reads, and "b" is dropped.
    assert _words(asked) == [("a", 640.0)]


def test_max_tokens_cuts_a_long_output() -> None:
    # One second of the regular toy is 3 two-piece words and </s>: 7 tokens.
    complete = simulate_waveform(ToyModel(), WaitK(k=1), torch.zeros(SAMPLE_RATE))
    assert len(complete.tokens) == 7 and not complete.truncated
    cut = simulate_waveform(ToyModel(), WaitK(k=1), torch.zeros(SAMPLE_RATE), max_tokens=5)
    assert len(cut.tokens) == 5 and cut.truncated
    assert [w.text for w in cut.emissions] == ["w0-1", "w1-1", "w2"]


@final
@dataclass(frozen=True, kw_only=True)
class _Misbehaving(Policy):
    """Writes what it should not: `what` is "other" (not a candidate) or "eos" (all candidates)."""

    what: str = "other"

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements()

    @override
    def decide(self, view: DecisionView) -> Decision:
        if self.what == "eos":
            return Write(view.signals.candidates)
        return Write((Token(id=99, piece="▁zz"),))


def test_a_policy_must_write_a_prefix_of_the_candidates_and_no_eos() -> None:
    waveform = torch.zeros(SAMPLE_RATE)
    with pytest.raises(ValueError, match="prefix of the model's candidates"):
        simulate_waveform(ToyModel(), _Misbehaving(), waveform)
    model = _script(("▁a", 0), mode=ToyMode.HYPOTHESIS)  # the candidates are ▁a, </s>
    with pytest.raises(ValueError, match="must not write the end of sentence"):
        simulate_waveform(model, _Misbehaving(what="eos"), waveform)


# -- capabilities -------------------------------------------------------------------------------


def test_a_capability_mismatch_is_refused_before_any_audio_is_read(tmp_path: Path) -> None:
    missing = Instance(
        id="x", audio_path=tmp_path / "missing.wav", offset_samples=0, num_samples=16_000,
        sample_rate=16_000, source_text="",
    )  # fmt: skip
    transducer = ToyModel(ToyConfig(mode=ToyMode.TRANSDUCER))
    with pytest.raises(
        ValueError, match="needs cross_attention, which model ToyModel does not provide"
    ):
        simulate(transducer, AlignAtt(), missing)
    two_layers = ToyModel(ToyConfig(num_layers=2))
    with pytest.raises(
        ValueError, match=r"`policy.attention.layer` .* \[-2, 2\) .* but is 3 instead"
    ):
        simulate(two_layers, AlignAtt(attention=AttentionReading(layer=3)), missing)
    with pytest.raises(
        FileNotFoundError
    ):  # the default layer, the last, is one that every decoder has
        simulate(two_layers, AlignAtt(), missing)
    with pytest.raises(FileNotFoundError):
        simulate(ToyModel(), AlignAtt(), missing)  # compatible: now the audio is read


@final
class _ClaimsAttention(StreamingModel[ToyState]):
    """Declares the toy's capabilities but returns no attention (a broken adapter)."""

    def __init__(self) -> None:
        self.toy = ToyModel()

    capabilities = property(lambda self: self.toy.capabilities)
    sample_rate = property(lambda self: self.toy.sample_rate)
    output_streams = property(lambda self: self.toy.output_streams)

    def new_state(self) -> ToyState:
        return self.toy.new_state()

    def read(self, state: ToyState, samples: torch.Tensor, *, source_finished: bool) -> ToyState:
        return self.toy.read(state, samples, source_finished=source_finished)

    def signals(self, state: ToyState, requirements: Requirements) -> Signals:
        full = self.toy.signals(state, requirements)
        return Signals(candidates=full.candidates, num_frames=full.num_frames)

    def write(self, state: ToyState, tokens: Sequence[Token]) -> ToyState:
        return self.toy.write(state, tokens)


def test_a_model_whose_signals_lack_a_declared_capability_is_named() -> None:
    session = StreamingSession(_ClaimsAttention(), AlignAtt())
    with pytest.raises(
        ValueError, match="_ClaimsAttention's signals: `cross_attention` is required"
    ):
        session.push(torch.zeros(5120), source_finished=False)


# -- elapsed time ---------------------------------------------------------------------------------


class _FakeTimer:
    """Each call advances the clock by 10 ms."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.010
        return self.now


def test_elapsed_is_simulevals_delay_plus_compute_since_the_start() -> None:
    model = _script(("▁a", 0), ("▁b", 9))
    result = simulate_waveform(model, WaitK(k=1), torch.zeros(4 * 5120), timer=_FakeTimer())
    # Two timer calls per segment (start, end): segment s ends at 10 + 20 (s - 1) ms after the start.
    assert [(w.text, w.source_ms, round(w.elapsed_ms, 6)) for w in result.emissions] == [
        ("a", 320.0, 330.0), ("b", 640.0, 670.0),
    ]  # fmt: skip


def test_real_time_elapsed_lags_only_while_compute_is_slower_than_the_audio() -> None:
    model = _script(("▁a", 0), ("▁b", 9))
    result = simulate_waveform(
        model, WaitK(k=1), torch.zeros(4 * 5120), clock=ElapsedClock.REAL_TIME, timer=_FakeTimer()
    )
    # Each step computes 10 ms after its audio has arrived: finish = delay + 10 ms.
    assert [round(w.elapsed_ms, 6) for w in result.emissions] == [330.0, 650.0]


# -- words and streams ----------------------------------------------------------------------------


_PIECES = ["▁a", "b", "▁c", "<unk>", "d▁e", "▁", "<asr>", "<st>", "▁f", "g"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14))
def test_word_assembly_equals_the_offline_deserializer(pieces: list[str]) -> None:
    layout = StreamLayout(("de",))
    assembler = WordAssembler(streams=layout.streams)
    emissions = []
    for position, piece in enumerate(pieces):
        stream = layout.stream_of_tag(piece)
        token = Token(id=position, piece=piece, stream=stream)
        emissions += assembler.add(token, float(10 * position), float(10 * position + 1))
    emissions += assembler.close()
    offline = split_streams(
        [EmittedToken(p, float(10 * i), float(10 * i + 1)) for i, p in enumerate(pieces)],
        layout,
        unit="piece",
    )
    for name, words in offline.items():
        mine = [e for e in emissions if e.stream == name]
        assert tuple(e.text for e in mine) == words.words
        assert tuple(e.source_ms for e in mine) == words.delays_ms
        assert tuple(e.elapsed_ms for e in mine) == words.elapsed_ms


def test_joint_output_is_scored_per_stream_without_glue() -> None:
    model = _script(
        ("<asr>", 0), ("▁hello", 3), ("<st>", 4), ("▁hallo", 4), ("<asr>", 10), ("▁world", 10),
        ("<st>", 12), ("▁welt", 12), streams=("asr", "st"),
    )  # fmt: skip
    result = simulate_waveform(model, WaitK(k=1, target_unit="word"), torch.zeros(SAMPLE_RATE))
    record = result.to_instance_output(0, references={"asr": "hello world", "st": "hallo welt"})
    assert record.streams["asr"].prediction == "hello world"
    assert record.streams["st"].prediction == "hallo welt"
    # wait-1 in words counts the words of both streams: one more word per segment.
    assert record.streams["asr"].delays == (320.0, 960.0)
    assert record.streams["st"].delays == (640.0, 1000.0)
    scores = score([record], ScoringConfig(latency_metrics=("AL", "StartOffset")))
    assert scores.corpus.loc["asr", "WER"] == 0.0
    assert scores.corpus.loc["st", "chrF"] == pytest.approx(100.0)
    assert scores.corpus.loc["st", "StartOffset"] == 640.0


def test_an_utterance_that_writes_nothing_still_has_its_streams() -> None:
    result = simulate_waveform(_script(), WaitK(), torch.zeros(1000))
    record = result.to_instance_output(3, references={"st": "x"})
    assert record.streams["st"].prediction == "" and record.streams["st"].delays == ()
    assert record.source_length == 62.5


def test_session_misuse_is_an_error() -> None:
    session = StreamingSession(ToyModel(), WaitK())
    with pytest.raises(ValueError, match="not finished"):
        session.result()
    session.push(torch.zeros(100), source_finished=True)
    with pytest.raises(ValueError, match="already ended"):
        session.push(torch.zeros(100), source_finished=True)
    with pytest.raises(ValueError, match="one-dimensional"):
        StreamingSession(ToyModel(), WaitK()).push(torch.zeros(2, 3), source_finished=False)
    with pytest.raises(ValueError, match="max_tokens"):
        StreamingSession(ToyModel(), WaitK(), max_tokens=0)

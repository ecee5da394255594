"""StreamAtt's history selection: never text not yet written, never audio that kept text attends to."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import WaitK
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.aed.model import AttentionEncoderDecoder, tiny
from simul.families.aed.streaming import AedOptions, aed_streaming_model
from simul.models.beam_search import StepDecoder, StepScores
from simul.streaming import Requirements, simulate_waveform
from simul.streaming.attention_decoder import (
    AttentionDecoderStreamingModel,
    DecodingConfig,
    DecodingMode,
    SpeechDecoderBackend,
)
from simul.streaming.history import HistoryConfig, TextHistory, kept_audio_start, kept_text_start

_PIECES = st.lists(st.sampled_from(["▁a", "▁bc", "d", "e.", "▁f?", "g", "▁h;"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(pieces=_PIECES, words=st.integers(1, 6), data=st.data())
def test_the_selection_keeps_a_suffix_and_every_frame_it_attends_to(
    pieces: list[str], words: int, data: st.DataObject
) -> None:
    attended = data.draw(st.lists(st.integers(0, 500), min_size=len(pieces), max_size=len(pieces)))
    for config in (
        HistoryConfig(text=TextHistory.WORDS, words=words),
        HistoryConfig(text=TextHistory.PUNCTUATION, max_tokens=words * 3),
    ):
        start = kept_text_start(pieces, config)
        assert 0 <= start <= len(pieces)  # only written text is ever dropped: a suffix stays
        kept = pieces[start:]
        if config.text is TextHistory.WORDS:
            starts = sum(p.startswith("▁") for p in kept)
            assert starts <= words
            assert start == 0 or (starts == words and kept[0].startswith("▁"))
        else:
            assert len(kept) <= config.max_tokens
            assert not any(p.endswith((".", "?", ";")) for p in kept)
        first = kept_audio_start(attended, start)
        assert all(frame >= first for frame in attended[start:])  # kept text keeps its audio
        if start == 0:
            assert first == 0  # nothing dropped, no audio dropped


_PIECE = {0: "<s>", 1: "<pad>", 2: "</s>", 3: "<unk>", 4: "▁a", 5: "b", 6: "▁c", 7: "d."}
_NEXT = {4: 5, 5: 6, 6: 7, 7: 4}  # the script: ▁a b ▁c d. ▁a b ...


@dataclass(frozen=True)
class _Frames:
    num_frames: int  # encoder frames kept
    first: int = 0  # the stream's index of the first kept one


class _ScriptedDecoder(StepDecoder[int]):
    """Proposes the script's next token (it depends on the last one only), attending to the frame
    two before the newest, as a model that follows the speech does."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    @property
    def num_hypotheses(self) -> int:
        return 1

    def _scores(self, last: int) -> tuple[StepScores, int]:
        token = _NEXT.get(last, 4)
        log_probs = torch.full((1, len(_PIECE)), -1e9)
        log_probs[0, token] = 0.0
        attention = torch.zeros(1, 1, 1, self.num_frames)  # (N, L, H, T)
        attention[0, 0, 0, max(self.num_frames - 3, 0)] = 1.0
        return StepScores(log_probs=log_probs, cross_attention=attention), token

    def start(self, prefix: torch.Tensor) -> tuple[StepScores, int]:
        scores, _ = self._scores(int(prefix[0, -1]) if prefix.shape[1] else 0)
        return scores, int(prefix[0, -1]) if prefix.shape[1] else 0

    def step(self, tokens: torch.Tensor, cache: int) -> tuple[StepScores, int]:
        scores, _ = self._scores(int(tokens[-1]))
        return scores, int(tokens[-1])

    def reorder(self, cache: int, order: torch.Tensor) -> int:
        return cache


class _ScriptedBackend(SpeechDecoderBackend[_Frames]):
    sample_rate = 16_000
    num_decoder_layers = 1
    cache_is_value = True

    def initial_source_state(self) -> _Frames:
        return _Frames(0)

    def read(self, state: _Frames, samples: torch.Tensor, *, source_finished: bool) -> _Frames:
        return dataclasses.replace(state, num_frames=state.num_frames + samples.shape[0] // 640)

    def num_frames(self, state: _Frames) -> int:
        return state.num_frames

    def step_decoder(self, state: _Frames) -> _ScriptedDecoder:
        return _ScriptedDecoder(state.num_frames)

    def drop_frames(self, state: _Frames, count: int) -> _Frames:
        assert 0 < count < state.num_frames
        return _Frames(state.num_frames - count, state.first + count)


def _scripted(history: HistoryConfig) -> AttentionDecoderStreamingModel:
    decoding = DecodingConfig(mode=DecodingMode.STEP, history=history, max_len_a=2.0)
    return AttentionDecoderStreamingModel(_ScriptedBackend(), _PIECE.__getitem__, eos_id=2,
                                          decoding=decoding)  # fmt: skip


@pytest.mark.parametrize(
    "history",
    [
        HistoryConfig(text=TextHistory.WORDS, words=2),
        HistoryConfig(text=TextHistory.PUNCTUATION, max_tokens=3),
    ],  # fmt: skip
)
def test_the_model_forgets_only_what_kept_text_does_not_use(history: HistoryConfig) -> None:
    model = _scripted(history)
    state = model.new_state()
    written: list[int] = []  # everything written: the output
    for _ in range(100):  # 100 segments of 320 ms, a write after each
        state = model.read(state, torch.zeros(5120), source_finished=False)
        (candidate,) = model.signals(state, Requirements()).candidates
        before = state
        state = model.write(state, [candidate])
        written.append(candidate.id)
        # the history is the end of what was written: nothing else is ever dropped
        assert tuple(written[len(written) - len(state.written) :]) == state.written
        assert kept_text_start([_PIECE[t] for t in state.written], history) == 0
        # every kept token's most-attended frame is still in the memory
        kept = range(state.source.first, state.source.first + state.source.num_frames)
        assert all(frame in kept for frame in state.attended)
        assert state.frames_dropped == state.source.first >= before.frames_dropped
        # the proposal continues the whole output, not only the kept history
        assert _NEXT[written[-1]] == model.signals(state, Requirements()).candidates[0].id
    assert state.source.num_frames <= 40  # bounded: the kept words' audio, not 800 frames
    assert len(state.written) <= 4


def test_history_selection_changes_no_word_of_a_history_free_model() -> None:
    audio = torch.zeros(16_000 * 20)
    results = {
        text: simulate_waveform(_scripted(HistoryConfig(text=text, words=2)), WaitK(k=1), audio)
        for text in TextHistory
    }
    words = {text: [w.text for w in result.emissions] for text, result in results.items()}
    assert words[TextHistory.WORDS] == words[TextHistory.ALL] == words[TextHistory.PUNCTUATION]
    assert len(words[TextHistory.ALL]) > 20


def _tokenizer(directory: Path) -> Tokenizer:
    texts = ["die katze schläft. der hund läuft schnell", "ein großes haus? wir sehen den baum"]
    return Tokenizer(
        train_sentencepiece(
            directory, SpmConfig(vocab_size=30, model_type="char"), texts=texts
        ).model_path
    )


def test_the_aed_backend_drops_its_oldest_frames_and_streams_on(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    tokenizer = _tokenizer(tmp_path)
    config = dataclasses.replace(tiny(), vocab_size=tokenizer.vocab_size)
    torch.manual_seed(0)
    network = AttentionEncoderDecoder(config).eval()
    decoding = DecodingConfig(mode=DecodingMode.STEP)
    model = aed_streaming_model(
        network, tokenizer, fbank=FbankConfig(), cmvn=None, options=AedOptions(decoding=decoding)
    )
    backend = model.backend
    torch.manual_seed(1)
    audio = 0.1 * torch.randn(16_000 * 4)
    source = backend.initial_source_state()
    source = backend.read(source, audio[:32_000], source_finished=False)
    total = backend.num_frames(source)
    cut = backend.drop_frames(source, total - 5)
    assert backend.num_frames(cut) == 5 == cut.front.frames.shape[0]
    assert torch.equal(cut.front.frames, source.front.frames[-5:])
    assert all(layer.key.shape[2] <= 5 for layer in cut.front.encoder.layers)
    more = backend.read(cut, audio[32_000:], source_finished=False)
    assert backend.num_frames(more) == 5 + backend.num_frames(backend.read(source, audio[32_000:],
                                                                           source_finished=False)) - total  # fmt: skip
    backend.step_decoder(more).start(torch.zeros(1, 0, dtype=torch.long))  # decodes on what is kept
    with pytest.raises(ValueError, match="`count` must be in"):
        backend.drop_frames(source, total)

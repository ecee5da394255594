"""``simulate``: one instance through the simultaneous loop, segmented exactly as SimulEval does.

SimulEval 1.1.4 (``SpeechToTextInstance.send_source``) sends ``math.ceil(segment_ms / 1000 * sr)``
samples per segment (a float ``ceil``, which sometimes gives one sample more than the exact value:
70 ms at 48 kHz is 3361), the last segment holds what is left and is marked finished (also when it
is full), and a word's delay is the audio sent so far, this segment included, in ms.  We cut the
same segments from the same samples and run one :class:`~simul.streaming.session.StreamingSession`
step per segment, so delays equal SimulEval's on the same input.

Audio: :func:`simul.data.features.audio.load_waveform` reads the instance's span as mono at the
model's rate.  When a file's rate differs from the model's, SimulEval would segment the file's
samples while we segment the resampled ones; delays then differ by rounding (less than a sample
per segment).  The built-in corpus, MuST-C and CoVoST 2 (after preparation) are 16 kHz, as models are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from simul.config import check_positive_int
from simul.data.features.audio import load_waveform
from simul.data.instance import Instance
from simul.streaming.model import StreamingModel
from simul.streaming.policy import Policy
from simul.streaming.result import UtteranceResult
from simul.streaming.session import (
    DEFAULT_MAX_TOKENS,
    ElapsedClock,
    StreamingSession,
    check_compatible,
)

__all__ = ["iter_segments", "segment_num_samples", "simulate", "simulate_waveform"]


def segment_num_samples(segment_ms: int, sample_rate: int) -> int:
    """Samples per source segment, computed exactly as SimulEval 1.1.4 does (float ``ceil``).

    Examples:
        >>> segment_num_samples(320, 16_000)
        5120
        >>> segment_num_samples(70, 48_000)  # one more than 70 * 48
        3361
    """
    check_positive_int("segment_ms", segment_ms)
    if sample_rate <= 0:
        raise ValueError(f"`sample_rate` must be > 0, but is {sample_rate} instead.")
    return math.ceil(segment_ms / 1000 * sample_rate)


def iter_segments(
    waveform: torch.Tensor, segment_samples: int
) -> Iterator[tuple[torch.Tensor, bool]]:
    """Cut (N,) samples into segments of ``segment_samples``; yields ``(segment, is_last)``.

    The last segment holds the rest (it may be full) and is the only one with ``is_last``; an
    empty waveform yields nothing.
    """
    if segment_samples < 1:
        raise ValueError(f"`segment_samples` must be >= 1, but is {segment_samples} instead.")
    total = int(waveform.shape[0])
    for start in range(0, total, segment_samples):
        end = min(start + segment_samples, total)
        yield waveform[start:end], end >= total


def simulate_waveform(
    model: StreamingModel[Any],
    policy: Policy,
    waveform: torch.Tensor,
    *,
    segment_ms: int | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    clock: ElapsedClock = ElapsedClock.SIMULEVAL,
    timer: Callable[[], float] | None = None,
) -> UtteranceResult:
    """Run the loop over a waveform already at ``model.sample_rate``.

    Args:
        model: the streaming model.
        policy: the policy (checked against the model before any sample is read).
        waveform: (N,) float32, N > 0.
        segment_ms: source segment size; default: ``policy.segment_ms``.
        max_tokens: most tokens the utterance may write.
        clock: how ``elapsed_ms`` is computed.
        timer: wall-clock seconds (default ``time.perf_counter``).
    """
    options: dict[str, Any] = {"max_tokens": max_tokens, "clock": clock}
    if timer is not None:
        options["timer"] = timer
    session = StreamingSession(model, policy, **options)
    if waveform.dim() != 1 or waveform.shape[0] == 0:
        raise ValueError(
            f"`waveform` must be a non-empty (N,) tensor, but has shape {tuple(waveform.shape)} instead."
        )
    segment_samples = segment_num_samples(
        policy.segment_ms if segment_ms is None else segment_ms, model.sample_rate
    )
    for segment, is_last in iter_segments(waveform, segment_samples):
        session.push(segment, source_finished=is_last)
    return session.result()


def simulate(
    model: StreamingModel[Any],
    policy: Policy,
    instance: Instance,
    segment_ms: int | None = None,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    clock: ElapsedClock = ElapsedClock.SIMULEVAL,
    timer: Callable[[], float] | None = None,
) -> UtteranceResult:
    """Run one instance through the simultaneous loop (see the module doc).

    The policy is checked against the model before the audio is read; the audio is then loaded
    at the model's rate (not timed) and sent in segments of ``segment_ms``.

    Args:
        model: the streaming model.
        policy: the read/write policy.
        instance: the utterance (its audio span).
        segment_ms: source segment size in ms; default: ``policy.segment_ms``.
        max_tokens: most tokens the utterance may write.
        clock: how ``elapsed_ms`` is computed (SimulEval's definition by default).
        timer: wall-clock seconds (default ``time.perf_counter``).

    Returns:
        The words with their delays; ``result.to_instance_output(...)`` is the scorer's record.

    Example:
        >>> from policies import WaitK
        >>> result = simulate(ToyModel(ToyConfig()), WaitK(k=3), instance)
        >>> [(w.text, w.source_ms) for w in result.emissions]
    """
    check_compatible(model, policy)  # refuse a mismatch before touching the audio
    waveform = load_waveform(instance, model.sample_rate)
    return simulate_waveform(
        model,
        policy,
        waveform,
        segment_ms=segment_ms,
        max_tokens=max_tokens,
        clock=clock,
        timer=timer,
    )

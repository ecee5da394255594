"""A SimulEval 1.1.4 speech-to-text agent that runs any simul model and policy through the one loop.

The agent is a thin adapter: every ``policy()`` call pushes the samples SimulEval sent since the
last call into the utterance's :class:`~simul.streaming.StreamingSession` (the same loop
``simul eval`` runs) and writes the words it completed.  So SimulEval's predictions and delays
equal ``simul eval``'s on the same audio and segment size (tested, with the real ``simuleval``
command).

SimulEval's loop, as 1.1.4 runs it (``SentenceLevelEvaluator.__call__``, checked by the tests):

- one ``policy()`` call per source segment, and a new segment is sent before every call, so all
  the words one segment completes go into one ``WriteAction`` (SimulEval gives each of them that
  segment's delay, as simul's loop does);
- for speech the loop stops right after the call that received the last segment: that call
  writes everything left (the session flushes the model to its end of sentence) with
  ``finished=True``.  Only then does SimulEval reset the agent (without it, the next sentence
  would start on this one's states); the agent also drops the utterance's session itself.

Joint models write several streams; SimulEval sees ``--primary-stream`` and the agent writes every
stream to simul's own log (:mod:`simul.agents.stream_log`).  Timing: a word's delay is the source
consumed when its *last piece* was committed; with whole-word emission (every built-in policy's
default) that is the segment in which the word is written.  A policy with
``whole_words=False`` may commit a word's last piece a segment before the next token shows that
the word is complete; SimulEval, which only sees whole words, then records the later segment,
while simul's log keeps the earlier one.

Audio at another rate or with several channels is mixed down to mono and resampled to the
model's rate as ``simul eval`` does (soxr, the same quality), and the agent logs it once per
rate and channel count.  soxr's stream resampler holds back a few ms of output until it has seen
the input after it, so simul's own log can put a word up to a segment later than ``simul eval``
on such audio (SimulEval's delays are its own, in the file's time).

Limits: speech input only (no model in simul reads text); float32 only (``--fp16`` is refused);
the model is built on SimulEval's ``--device``.

Example::

    simuleval --agent-class simul.agents.SimulSpeechAgent --model toy --policy waitk \\
        --set policy.k=3 --source wav_list.txt --target ref.de --source-segment-size 320 \\
        --output out
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any, final

import numpy as np
import torch
from typing_extensions import override

# SimulEval imports pydub (for speech output, which no simul agent writes), and pydub warns on
# every import that ffmpeg is missing: silenced here, where simul imports SimulEval.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="Couldn't find ffmpeg or avconv", category=RuntimeWarning
    )
    from simuleval.agents import AgentStates, SpeechToTextAgent
    from simuleval.agents.actions import Action, ReadAction, WriteAction

from simul.agents.options import add_agent_args, build_setup, parse_stream_files
from simul.agents.stream_log import SimulStreamLog, open_stream_log
from simul.data.features.audio import StreamResampler, conversions_note, to_mono
from simul.streaming import StreamingSession

__all__ = ["SimulAgentStates", "SimulSpeechAgent"]

logger = logging.getLogger(__name__)


@final
class SimulAgentStates(AgentStates):
    """SimulEval's states of one utterance, plus the loop's session over it.

    SimulEval creates state fields in ``reset()`` (called at construction and after every
    finished instance), so ours are created there too.
    """

    @override
    def reset(self) -> None:
        super().reset()
        self.session: StreamingSession | None = None
        """The utterance's loop; created at its first segment."""
        self.num_samples_pushed: int = 0
        """How many of ``source``'s samples the session has read."""
        self.resampler: StreamResampler | None = None
        """From the file's rate to the model's; created at the utterance's first segment."""


@final
class SimulSpeechAgent(SpeechToTextAgent):
    """simul's speech-to-text SimulEval agent (see the module doc for the options and limits)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.setup = build_setup(args)
        references = parse_stream_files(args.references, self.setup.model.output_streams)
        self.stream_log: SimulStreamLog | None = open_stream_log(
            args,
            primary_stream=self.setup.primary_stream,
            reference_files=references,
            description=self.setup.description,
        )
        self._noted: set[tuple[int, int]] = set()
        """The (rate, channels) of audio whose conversion was logged already."""
        super().__init__(args)

    @staticmethod
    @override
    def add_args(parser: argparse.ArgumentParser) -> None:
        add_agent_args(parser)

    @override
    def build_states(self) -> SimulAgentStates:
        return SimulAgentStates()

    @override
    def to(self, device: str, *args: Any, fp16: bool = False, **kwargs: Any) -> None:
        """SimulEval moves the agent to ``--device``: the model was built there already."""
        if fp16:
            raise ValueError("simul's agent runs the model in float32; drop --fp16 / --dtype fp16.")
        if torch.device(device) != self.setup.device:
            raise ValueError(
                f"the model was built on {self.setup.device}, but SimulEval moves it to {device}."
            )

    def _convert(self, states: SimulAgentStates, samples: np.ndarray) -> np.ndarray:
        """SimulEval's new samples ((N,), or (N, C) for C channels) as the model's mono waveform."""
        model_rate = self.setup.model.sample_rate
        if states.resampler is None:
            file_rate = states.source_sample_rate or model_rate
            states.resampler = StreamResampler(file_rate, model_rate)
            channels = samples.shape[1] if samples.ndim == 2 else 1
            note = conversions_note(file_rate, channels, model_rate)
            if note is not None and (file_rate, channels) not in self._noted:
                self._noted.add((file_rate, channels))
                logger.info("the source audio is %s for the model, as simul eval does", note)
        return states.resampler.push(to_mono(samples), last=states.source_finished)

    def _session(self, states: SimulAgentStates) -> StreamingSession:
        if states.session is None:
            states.session = StreamingSession(
                self.setup.model,
                self.setup.policy,
                max_tokens=self.setup.max_tokens,
                clock=self.setup.clock,
            )
        return states.session

    @override
    def policy(self, states: AgentStates | None = None) -> Action:
        """One source segment through the loop: write the words it completed (see the module doc)."""
        if states is None:
            states = self.states
        if not isinstance(states, SimulAgentStates):
            raise ValueError(
                f"`states` must be SimulAgentStates, but is {type(states).__name__} instead."
            )
        new_samples = states.source[states.num_samples_pushed :]
        if not new_samples and not states.source_finished:
            return ReadAction()
        if states.num_samples_pushed == 0 and not new_samples:
            raise ValueError("an instance has no audio samples; SimulEval sent an empty source.")
        states.num_samples_pushed = len(states.source)
        waveform = self._convert(states, np.asarray(new_samples, dtype=np.float32))
        session = self._session(states)
        words = session.push(torch.from_numpy(waveform), source_finished=states.source_finished)
        text = " ".join(w.text for w in words if w.stream == self.setup.primary_stream)
        if not states.source_finished:
            return WriteAction(text, finished=False) if text else ReadAction()
        if self.stream_log is not None:
            self.stream_log.add(session.result())
        states.session = None  # the utterance is over, whether or not SimulEval resets us
        return WriteAction(text, finished=True)

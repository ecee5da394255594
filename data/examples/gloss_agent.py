"""A SimulEval 1.1.4 agent that replays a word-for-word gloss at the gold word times.

Used only to make the example logs in this folder (see ``make_simuleval_examples.py``): it is a
real SimulEval agent, run by the real ``simuleval`` command, but it does not translate.  It reads
a plan (JSON: one list per instance, in corpus order, of ``[time, word]`` pairs) and writes each
planned word as soon as ``time`` of the source has been read: milliseconds for speech input,
source words for text input.  When the source ends it writes the rest and finishes.

The plan is the *monotone gloss* of the built-in corpus: the German words aligned to each English
word, in English order, due when that English word has been heard.  A system that never waits
for German word order behaves like this: low latency, and a BLEU well below 100.

Instances are told apart by counting them: SimulEval resets an agent's states after each
finished instance, and this agent always finishes, so the n-th fresh state is instance n
(``--start-index`` must stay 0).
"""

from __future__ import annotations

import json

from simuleval.agents import SpeechToTextAgent, TextToTextAgent
from simuleval.agents.actions import ReadAction, WriteAction
from simuleval.agents.states import AgentStates
from simuleval.utils import entrypoint


class GlossStates(AgentStates):
    """SimulEval's states plus which instance this is and how many planned words are out."""

    def reset(self) -> None:
        super().reset()
        self.instance: int | None = None
        self.written = 0


class _PlanReplay:
    """The shared policy of both agents; ``_heard`` says how much source has been read."""

    def __init__(self, args) -> None:
        with open(args.plan, encoding="utf-8") as f:
            self.plan = json.load(f)
        self.next_instance = 0
        super().__init__(args)

    @staticmethod
    def add_args(parser) -> None:
        parser.add_argument("--plan", required=True, help="JSON plan: per instance, [time, word] pairs")

    def build_states(self) -> GlossStates:
        return GlossStates()

    def policy(self, states: GlossStates):
        if states.instance is None:
            states.instance = self.next_instance
            self.next_instance += 1
        plan = self.plan[states.instance]
        heard = self._heard(states)
        end = states.written
        while end < len(plan) and (states.source_finished or plan[end][0] <= heard):
            end += 1
        words = [word for _, word in plan[states.written : end]]
        states.written = end
        finished = states.source_finished and end == len(plan)
        if words or finished:
            return WriteAction(" ".join(words), finished=finished)
        return ReadAction()


@entrypoint
class GlossSpeechAgent(_PlanReplay, SpeechToTextAgent):
    """Speech input: plan times are milliseconds of audio."""

    def _heard(self, states: GlossStates) -> float:
        return len(states.source) * 1000 / states.source_sample_rate


@entrypoint
class GlossTextAgent(_PlanReplay, TextToTextAgent):
    """Text input: plan times are numbers of source words."""

    def _heard(self, states: GlossStates) -> float:
        return len(states.source)

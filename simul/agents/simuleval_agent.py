"""simul's SimulEval agent, loadable by path: ``simuleval --agent simul/agents/simuleval_agent.py``.

SimulEval 1.1.4 imports an ``--agent`` file as a module named ``agents`` and evaluates the class
its ``@entrypoint`` registered; this file registers :class:`simul.agents.SimulSpeechAgent` and
nothing else, so ``--agent-class`` may be left out (or given as ``agents.SimulSpeechAgent``).
The agent's options are those of ``--agent-class simul.agents.SimulSpeechAgent``
(:mod:`simul.agents.options`).  Registering is this file's only job: import the agent from
:mod:`simul.agents` everywhere else.
"""

from simuleval.utils import entrypoint

from simul.agents.speech import SimulSpeechAgent

SimulSpeechAgent = entrypoint(SimulSpeechAgent)

__all__ = ["SimulSpeechAgent"]

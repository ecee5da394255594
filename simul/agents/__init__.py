"""SimulEval 1.1.4 agents over the one simultaneous loop, and the ``simuleval`` command of a run.

- :class:`SimulSpeechAgent`: any simul model (a checkpoint, or the toy) and any policy, driven by
  SimulEval's evaluation loop: ``simuleval --agent-class simul.agents.SimulSpeechAgent ...``, or
  by file: ``simuleval --agent simul/agents/simuleval_agent.py ...`` (that file registers the
  agent with SimulEval's ``@entrypoint``; it is not imported here, because SimulEval would then
  find the agent twice);
- :mod:`simul.agents.stream_log`: simul's multi-stream ``instances.log`` the agent writes beside
  SimulEval's output (every stream of a joint model);
- :mod:`simul.agents.command`: what ``simul eval --simuleval`` prints, the ``simuleval`` command
  that reproduces a ``simul eval`` run (and the source lists and wavs it reads).
"""

from simul.agents.speech import SimulAgentStates, SimulSpeechAgent

__all__ = ["SimulAgentStates", "SimulSpeechAgent"]

"""The agent's command-line options, and the model and policy they build (as ``simul eval`` does).

The flags mean what they mean for ``simul eval`` (same names, same ``--set GROUP.FIELD=VALUE``
overrides, parsed by :func:`simul.config.parse_overrides`; the model and policy are built by
:func:`simul.evaluation.build_run`, as for ``simul eval``), so a run moves between the two
commands unchanged; ``simul eval --simuleval`` prints the translation
(:mod:`simul.agents.command`).  The source segment size is SimulEval's own
``--source-segment-size`` (it cuts the segments); the policy's ``segment_ms`` is set to it, and a
``--set policy.segment_ms`` that disagrees is an error.

SimulEval's parser resolves option conflicts by silently replacing the older option
(``conflict_handler="resolve"``), so none of these names may be one of SimulEval's: ``--device``,
``--output``, ``--source``, ``--target``, ``--tgt-lang`` ... belong to SimulEval and are read from
its arguments.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from policies import policy_names
from simul.config import parse_overrides
from simul.evaluation import ModelRequest, PolicyRequest, Run, build_run
from simul.streaming import DEFAULT_MAX_TOKENS, ElapsedClock, Policy, StreamingModel

__all__ = ["AgentSetup", "add_agent_args", "build_setup", "parse_stream_files"]

logger = logging.getLogger(__name__)

#: SimulEval's default ``--source-segment-size`` (1 ms for speech), almost never meant.
_SIMULEVAL_DEFAULT_SEGMENT = 1


def add_agent_args(parser: argparse.ArgumentParser) -> None:
    """Declare the agent's options on SimulEval's parser (see the module doc)."""
    group = parser.add_argument_group("simul agent")
    model = group.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", type=Path, help="a checkpoint written by `simul train`")
    model.add_argument(
        "--model",
        choices=("toy", "whisper"),
        help="a model without a checkpoint: `toy` (deterministic, untrained; its settings are "
        "ToyConfig fields: --set model.FIELD=VALUE) or `whisper` (a local faster-whisper folder; "
        "WhisperOptions fields)",
    )
    group.add_argument(
        "--policy",
        required=True,
        metavar="NAME",
        help=f"the read/write policy: {', '.join(policy_names())}, or an installed plugin's",
    )
    group.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="GROUP.FIELD=VALUE",
        help="change a policy parameter (policy.frames=4) or a model option (model.beam_size=4); "
        "repeatable, as for `simul eval`",
    )
    group.add_argument(
        "--primary-stream",
        default=None,
        metavar="STREAM",
        help="the output stream SimulEval sees, e.g. `asr` or `st` of a joint model "
        "(default: the model's first)",
    )
    group.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"most tokens per instance (default: {DEFAULT_MAX_TOKENS})",
    )
    group.add_argument(
        "--clock",
        choices=[c.value for c in ElapsedClock],
        default=ElapsedClock.SIMULEVAL.value,
        help="elapsed times in simul's own log (SimulEval measures its own): `simuleval` or "
        "`real_time` (default: simuleval)",
    )
    group.add_argument(
        "--simul-output",
        type=Path,
        default=None,
        metavar="DIR",
        help="where simul's multi-stream instances.log goes (every stream, scored by "
        "`simul score DIR`; default: OUTPUT/simul with SimulEval's --output, else none)",
    )
    group.add_argument(
        "--reference",
        dest="references",
        action="append",
        default=[],
        metavar="STREAM=FILE",
        help="references of another output stream for simul's log, one per line "
        "(e.g. asr=test.en; the primary stream's are SimulEval's --target); repeatable",
    )


def parse_stream_files(items: list[str], streams: tuple[str, ...]) -> dict[str, Path]:
    """``["asr=test.en"]`` -> ``{"asr": Path("test.en")}``, checking the stream names."""
    files: dict[str, Path] = {}
    for item in items:
        stream, equals, path = item.partition("=")
        if not equals or not stream or not path:
            raise ValueError(f"`--reference` must look like STREAM=FILE, but is {item!r} instead.")
        if stream not in streams:
            raise ValueError(
                f"`--reference {item}` names stream {stream!r}, but the model writes only {streams}."
            )
        if stream in files:
            raise ValueError(f"`--reference` gives stream {stream!r} twice.")
        files[stream] = Path(path)
    return files


@dataclass(frozen=True, eq=False, kw_only=True)
class AgentSetup:
    """What the agent runs, built once from the command line.

    Attributes:
        model: the streaming model, on ``device``.
        policy: the read/write policy (``segment_ms`` = SimulEval's segment size).
        primary_stream: the output stream SimulEval sees.
        max_tokens: most tokens per instance.
        clock: how simul's own log computes ``elapsed``.
        device: where the model runs.
        target_lang: the ``st`` stream's language, from the checkpoint (``None`` if unknown).
        description: model, policy and settings, for provenance.
    """

    model: StreamingModel[Any]
    policy: Policy
    primary_stream: str
    max_tokens: int
    clock: ElapsedClock
    device: torch.device
    target_lang: str | None = None
    description: dict[str, Any] = field(default_factory=dict)


def _policy_request(args: argparse.Namespace, policy_overrides: dict[str, Any]) -> PolicyRequest:
    segment_ms = getattr(args, "source_segment_size", None)
    if segment_ms is not None:
        given = policy_overrides.get("segment_ms", segment_ms)
        if given != segment_ms:
            raise ValueError(
                f"`--set policy.segment_ms={given}` and SimulEval's `--source-segment-size "
                f"{segment_ms}` disagree; SimulEval cuts the segments, so give only the latter."
            )
        if segment_ms == _SIMULEVAL_DEFAULT_SEGMENT:
            logger.warning(
                "SimulEval sends %d ms segments (its default --source-segment-size); simul's "
                "policies default to 320 ms: pass --source-segment-size 320 for that.",
                segment_ms,
            )
        policy_overrides["segment_ms"] = segment_ms
    return PolicyRequest(args.policy, policy_overrides)


def build_setup(args: argparse.Namespace) -> AgentSetup:
    """The model and policy of SimulEval's parsed arguments (see the module doc).

    Raises:
        ValueError, FileNotFoundError: a bad override, policy or checkpoint, a policy the model
            cannot serve, an unknown primary stream, a bad ``--max-tokens``.
    """
    overrides = parse_overrides(args.overrides)
    device = torch.device(getattr(args, "device", "cpu") or "cpu")
    model = ModelRequest(
        checkpoint=args.checkpoint if args.model is None else None,
        options=overrides["model"],
        device=str(device),
        builtin=args.model or "toy",
    )
    run: Run = build_run(model, _policy_request(args, overrides["policy"]))
    loaded, policy = run.loaded, run.policy
    streams = loaded.model.output_streams
    primary = args.primary_stream if args.primary_stream is not None else streams[0]
    if primary not in streams:
        raise ValueError(
            f"`--primary-stream` must be one of the model's streams {streams}, but is {primary!r} instead."
        )
    if isinstance(args.max_tokens, bool) or args.max_tokens < 1:
        raise ValueError(f"`--max-tokens` must be >= 1, but is {args.max_tokens} instead.")
    description = {
        **run.description,
        "primary_stream": primary,
        "max_tokens": args.max_tokens,
        "clock": args.clock,
        "device": str(device),
    }
    return AgentSetup(
        model=loaded.model,
        policy=policy,
        primary_stream=primary,
        max_tokens=args.max_tokens,
        clock=ElapsedClock(args.clock),
        device=device,
        target_lang=loaded.target_lang,
        description=description,
    )

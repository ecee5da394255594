"""``simul eval``: stream a test set through a model and a policy; log, score, record provenance.

    simul eval DATA --checkpoint CKPT --policy alignatt --set policy.frames=4 --segment-ms 320
    simul eval DATA --model toy --policy waitk --set policy.k=3

Reads any corpus the readers know (MuST-C, CoVoST 2, fairseq S2T manifests, SimulEval lists;
``--format``, ``--split``, ``--src-lang``, ``--tgt-lang``), runs every instance through the one
simultaneous loop (:func:`simul.streaming.simulate_corpus`, with a progress bar and resumable
partial results), and writes into ``--output``: ``instances.log`` + ``config.yaml`` (SimulEval's
format, every output stream), ``scores.tsv``, ``instance_scores.tsv`` and ``scores.json``
(:mod:`simul.eval.report`), whose provenance names the model, the policy and all its parameters,
the segment size, the data and the software versions.

Elapsed times are always measured and logged (SimulEval's definition by default, ``--clock``);
``--computation-aware`` adds the ``*_CA`` latency columns computed on them.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from policies import build_policy, policy_names
from simul.data.readers import CORPUS_FORMATS, detect_format, find_splits, read_corpus_split
from simul.eval.latency import LATENCY_METRICS
from simul.eval.quality import QUALITY_METRICS
from simul.eval.report import format_scores, write_scores
from simul.eval.scoring import DEFAULT_LATENCY_METRICS, ScoringConfig, score
from simul.streaming import DEFAULT_MAX_TOKENS, ElapsedClock, simulate_corpus

__all__ = ["add_parser", "parse_overrides", "run"]

logger = logging.getLogger(__name__)

_OVERRIDE_GROUPS = ("policy", "model")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="run a test set simultaneously through a model and a policy; write instances.log and scores",
        description=(
            "Stream every instance of a test set through a model (a checkpoint, or the toy model) "
            "under a read/write policy, segment by segment as SimulEval does, and write "
            "instances.log, scores (latency and quality per output stream) and provenance."
        ),
    )
    parser.add_argument("data", type=Path, help="the corpus directory")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", type=Path, help="a checkpoint written by `simul train`")
    model.add_argument(
        "--model",
        choices=("toy",),
        help="a built-in model instead of a checkpoint: `toy` (deterministic, untrained; "
        "its settings are ToyConfig fields: --set model.FIELD=VALUE)",
    )
    parser.add_argument(
        "--policy",
        required=True,
        metavar="NAME",
        help=f"the read/write policy: {', '.join(policy_names())}, or an installed plugin's",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="GROUP.FIELD=VALUE",
        help="change a policy parameter (policy.frames=4, policy.attention.layer=2) or a model "
        "option (model.beam_size=4); repeatable",
    )
    parser.add_argument(
        "--segment-ms",
        type=int,
        default=None,
        help="source segment size in ms (same as --set policy.segment_ms=N; default: the policy's, 320)",
    )
    parser.add_argument(
        "--format", choices=CORPUS_FORMATS, default=None, help="corpus layout (default: detected)"
    )
    parser.add_argument("--split", default="test", help="the split to evaluate (default: test)")
    parser.add_argument("--src-lang", default="en", help="language of the speech (default: en)")
    parser.add_argument(
        "--tgt-lang",
        default=None,
        help="language of the translation stream's references (default: the checkpoint's target, "
        "else the corpus's only one)",
    )
    parser.add_argument(
        "--max-instances", type=int, default=None, help="evaluate the first N instances only"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="output directory (default: runs/eval/MODEL-POLICY-SEGMENTms)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run with the same settings in --output",
    )
    parser.add_argument(
        "--computation-aware",
        action="store_true",
        help="also score latency on the measured elapsed times (columns NAME_CA)",
    )
    parser.add_argument(
        "--clock",
        choices=[c.value for c in ElapsedClock],
        default=ElapsedClock.SIMULEVAL.value,
        help="elapsed time: `simuleval` (delay + compute since the utterance started, SimulEval's) "
        "or `real_time` (when a system fed in real time would write; default: simuleval)",
    )
    parser.add_argument(
        "--latency-metrics",
        nargs="+",
        default=list(DEFAULT_LATENCY_METRICS),
        choices=LATENCY_METRICS,
        metavar="METRIC",
        help=f"latency metrics (default: {' '.join(DEFAULT_LATENCY_METRICS)})",
    )
    parser.add_argument(
        "--quality-metrics",
        nargs="*",
        default=None,
        choices=QUALITY_METRICS,
        metavar="METRIC",
        help="quality metrics for every stream (default: WER CER on asr, BLEU chrF elsewhere)",
    )
    parser.add_argument(
        "--primary-stream",
        default=None,
        help="the stream SimulEval sees in instances.log (default: the model's first)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"most tokens per instance (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the model (default: cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's). A chunk's tensors are small: on a busy "
        "machine one thread is often much faster than two that wait for each other (10x measured "
        "on a shared 2-core machine), which computation-aware latency sees",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--simuleval",
        action="store_true",
        help="also print the `simuleval` command that reproduces this run with simul's agent "
        "(its inputs and command.sh go to OUTPUT/simuleval; see simul.agents.command)",
    )
    parser.set_defaults(run=run)


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["policy.frames=4", "model.beam_size=2"]`` -> ``{"policy": {"frames": 4}, "model": {...}}``.

    Values are parsed as YAML (``4`` is an int, ``true`` a bool, ``[0,1]`` a list).
    """
    dotlists: dict[str, list[str]] = {group: [] for group in _OVERRIDE_GROUPS}
    for item in items:
        group, dot, rest = item.partition(".")
        if not dot or group not in dotlists or "=" not in rest or not rest.split("=", 1)[0]:
            raise ValueError(
                f"`--set` must look like policy.FIELD=VALUE or model.FIELD=VALUE, but is {item!r} instead."
            )
        dotlists[group].append(rest)
    parsed = {}
    for group, dotlist in dotlists.items():
        try:
            parsed[group] = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist))
        except OmegaConfBaseException as error:
            raise ValueError(f"`--set {group}.*`: {str(error).splitlines()[0]}") from None
    return parsed


def _read_instances(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    root = args.data
    corpus_format = args.format or detect_format(root)
    splits = find_splits(root, corpus_format)
    if args.split not in splits:
        raise ValueError(
            f"`--split` must be one of the splits of {root} ({corpus_format}): {splits}, "
            f"but is {args.split!r} instead."
        )
    items = read_corpus_split(
        root,
        corpus_format,
        args.split,
        src_lang=args.src_lang,
        tgt_langs=[args.tgt_lang] if args.tgt_lang else None,
    )
    instances = [item.instance for item in items]
    if args.max_instances is not None:
        if args.max_instances < 1:
            raise ValueError(
                f"`--max-instances` must be >= 1, but is {args.max_instances} instead."
            )
        instances = instances[: args.max_instances]
    data = {
        "dir": str(root),
        "format": corpus_format,
        "split": args.split,
        "src_lang": args.src_lang,
        "tgt_lang": args.tgt_lang,
        "num_instances": len(instances),
        "instances_first_last": [instances[0].id, instances[-1].id] if instances else [],
    }
    return instances, data


def _arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed command-line options, as JSON values (for provenance)."""
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in vars(args).items()
        if not callable(value)
    }


def run(args: argparse.Namespace) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"`--threads` must be >= 1, but is {args.threads} instead.")
        torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.overrides)
    policy_overrides = overrides["policy"]
    if args.segment_ms is not None:
        if "segment_ms" in policy_overrides and policy_overrides["segment_ms"] != args.segment_ms:
            raise ValueError(
                f"`--segment-ms {args.segment_ms}` and `--set policy.segment_ms="
                f"{policy_overrides['segment_ms']}` disagree; give one."
            )
        policy_overrides["segment_ms"] = args.segment_ms
    policy = build_policy(args.policy, policy_overrides)

    if args.model == "toy":
        from simul.families.loading import toy_model

        loaded = toy_model(overrides["model"])
        model_name = "toy"
    else:
        from simul.families.loading import load_streaming_model

        loaded = load_streaming_model(
            args.checkpoint, options=overrides["model"], device=args.device
        )
        model_name = args.checkpoint.stem
    instances, data = _read_instances(args)
    if not instances:
        raise ValueError(f"split {args.split!r} of {args.data} holds no instances.")
    target_lang = args.tgt_lang or loaded.target_lang
    output = (
        args.output or Path("runs") / "eval" / f"{model_name}-{args.policy}-{policy.segment_ms}ms"
    )
    clock = ElapsedClock(args.clock)
    inputs = {
        "model": loaded.description,
        "policy": {
            "name": args.policy,
            "class": type(policy).__name__,
            "parameters": policy.parameters(),
        },
        "segment_ms": policy.segment_ms,
        "clock": clock.value,
        "max_tokens": args.max_tokens,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "data": data,
        "target_lang": target_lang,
        "arguments": _arguments(args),
    }
    identity = {key: value for key, value in inputs.items() if key != "arguments"}
    records = simulate_corpus(
        loaded.model,
        policy,
        instances,
        output,
        target_lang=target_lang,
        max_tokens=args.max_tokens,
        clock=clock,
        primary_stream=args.primary_stream,
        resume=args.resume,
        progress=not args.no_progress,
        identity=identity,
    )
    config = ScoringConfig(
        latency_metrics=tuple(args.latency_metrics),
        quality_metrics=None if args.quality_metrics is None else tuple(args.quality_metrics),
        computation_aware=args.computation_aware,
    )
    scores = score(records, config)
    written = write_scores(output, scores, **inputs)
    print(format_scores(scores))
    for name, signature in scores.signatures.items():
        print(f"{name}: {signature}")
    logger.info("wrote %s/instances.log and %s", output, ", ".join(str(p) for p in written))
    if args.simuleval:
        from simul.agents.command import write_simuleval_run

        command = write_simuleval_run(args, instances, loaded.model, policy, output, target_lang)
        print(f"SimulEval command ({output / 'simuleval' / 'command.sh'}):")
        print(command)
    return 0

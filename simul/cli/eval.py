"""``simul eval``: stream a test set through a model and a policy; log, score, record provenance.

    simul eval DATA --checkpoint CKPT --policy alignatt --set policy.frames=4 --segment-ms 320
    simul eval DATA --model toy --policy waitk --set policy.k=3

Reads any corpus the readers know (MuST-C, CoVoST 2, fairseq S2T manifests, SimulEval lists;
``--format``, ``--split``, ``--src-lang``, ``--tgt-lang``), runs every instance through the one
simultaneous loop and scores it (:func:`simul.evaluation.evaluate`, with a progress bar and
resumable partial results), and writes into ``--output``: ``instances.log`` + ``config.yaml`` (SimulEval's
format, every output stream), ``scores.tsv``, ``corpus_scores.tsv``, ``instance_scores.tsv`` and ``scores.json``
(:mod:`simul.eval.report`), whose provenance names the model, the policy and all its parameters,
the segment size, the data and the software versions.

Elapsed times are always measured and logged (SimulEval's definition by default, ``--clock``);
``--computation-aware`` adds the ``*_CA`` latency columns computed on them.

``--long-form`` streams whole talks instead (one instance per talk wav, the real-time clock by
default), writes ``segments.yaml`` and ``references.STREAM`` next to the talk-level log and scores
StreamLAAL; ``simul score --stream-laal OUTPUT --segments-yaml OUTPUT/segments.yaml --references
st=OUTPUT/references.st`` rescores it (and ``--scorer omnisteval`` with the same files gives
LongYAAL).
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from policies import policy_names
from simul.config import parse_overrides
from simul.data.readers import CORPUS_FORMATS
from simul.eval.latency import LATENCY_METRICS
from simul.eval.quality import QUALITY_METRICS, TextNormalization
from simul.eval.report import format_scores
from simul.eval.scoring import DEFAULT_LATENCY_METRICS, ScoringConfig
from simul.evaluation import (
    EvaluationRequest,
    ModelRequest,
    PolicyRequest,
    TestSet,
    build_run,
    evaluate,
    read_test_set,
)
from simul.streaming import DEFAULT_MAX_TOKENS, ElapsedClock

__all__ = ["add_parser", "default_output", "run"]

logger = logging.getLogger(__name__)


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
        choices=("toy", "whisper"),
        help="a model without a checkpoint: `toy` (deterministic, untrained; its settings are "
        "ToyConfig fields: --set model.FIELD=VALUE) or `whisper` (a local faster-whisper folder, "
        "default the bundled tiny.en of simul[whisper]; WhisperOptions fields, e.g. "
        "--set model.path=DIR model.beam_size=5)",
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
        "--source-segment-size",
        type=int,
        default=None,
        dest="segment_ms",
        help="source segment size in ms (same as --set policy.segment_ms=N; SimulEval's "
        "--source-segment-size; default: the policy's, 320)",
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
        help="output directory (default: runs/eval/MODEL-POLICY[-KEY=VALUE...]-SEGMENTms, with "
        "every --set given, so runs of other parameters never share a folder)",
    )
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="an interrupted run in --output is continued when its settings are this run's, "
        "else replaced with a warning; --resume refuses other settings (naming them), "
        "--no-resume starts over",
    )
    parser.add_argument(
        "--computation-aware",
        action="store_true",
        help="also score latency on the measured elapsed times (columns NAME_CA)",
    )
    parser.add_argument(
        "--clock",
        choices=[c.value for c in ElapsedClock],
        default=None,
        help="elapsed time: `simuleval` (delay + compute since the utterance started, SimulEval's) "
        "or `real_time` (when a system fed in real time would write; default: simuleval, "
        "real_time with --long-form)",
    )
    parser.add_argument(
        "--long-form",
        action="store_true",
        help="stream each talk wav whole (its sentences joined, the silences between them "
        "included) and score StreamLAAL after re-segmenting into the gold sentences; "
        "segments.yaml and references.STREAM are written next to the talk-level log for "
        "`simul score --stream-laal` (--max-instances counts talks, --max-tokens sentences)",
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
        "--lowercase",
        action="store_true",
        help="lowercase hypotheses and references before WER/CER",
    )
    parser.add_argument(
        "--remove-punctuation",
        action="store_true",
        help="remove punctuation (Unicode category P) before WER/CER (a cased, punctuated model "
        "such as Whisper against lowercase transcripts needs both)",
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


def default_output(
    model_name: str,
    policy_name: str,
    policy_overrides: Mapping[str, Any],
    model_overrides: Mapping[str, Any],
    segment_ms: int,
) -> Path:
    """``runs/eval/MODEL-POLICY-k=3-320ms``: the folder of a run given no ``--output``.

    Every ``--set`` is in the name (``model.`` ones with their prefix, nested keys dotted), so
    ``k=3`` and ``k=5`` go to two folders instead of the second replacing the first.  Characters
    other than letters, digits and ``.,=+_-`` become ``_``.
    """
    parts = [model_name, policy_name]
    for prefix, values in (("", policy_overrides), ("model.", model_overrides)):
        for key, value in _flat_items(values):
            if prefix == "" and key == "segment_ms":
                continue  # in the name's last part
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(re.sub(r"[^A-Za-z0-9.,=+_-]", "_", f"{prefix}{key}={text}"))
    return Path("runs") / "eval" / "-".join([*parts, f"{segment_ms}ms"])


def _flat_items(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"attention": {"layer": 2}, "k": 3}`` -> ``[("attention.layer", 2), ("k", 3)]``."""
    items: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            items += _flat_items(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


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
    model = ModelRequest(
        checkpoint=args.checkpoint if args.model is None else None,
        options=overrides["model"],
        device=args.device,
        builtin=args.model or "toy",
    )
    run = build_run(model, PolicyRequest(args.policy, policy_overrides))
    instances, data, origins = read_test_set(
        TestSet(
            dir=args.data, format=args.format, split=args.split, src_lang=args.src_lang,
            tgt_lang=args.tgt_lang, max_instances=args.max_instances, long_form=args.long_form,
        )
    )  # fmt: skip
    if args.clock is None:
        args.clock = (ElapsedClock.REAL_TIME if args.long_form else ElapsedClock.SIMULEVAL).value
    output = args.output or default_output(
        model.name, args.policy, policy_overrides, overrides["model"], run.policy.segment_ms
    )
    request = EvaluationRequest(
        model=model,
        policy=PolicyRequest(args.policy, policy_overrides),
        output=output,
        target_lang=args.tgt_lang,
        max_tokens=args.max_tokens,
        clock=ElapsedClock(args.clock),
        long_form=args.long_form,
        primary_stream=args.primary_stream,
        scoring=ScoringConfig(
            latency_metrics=tuple(args.latency_metrics),
            quality_metrics=None if args.quality_metrics is None else tuple(args.quality_metrics),
            computation_aware=args.computation_aware,
            normalization=TextNormalization(
                lowercase=args.lowercase, remove_punctuation=args.remove_punctuation
            ),
        ),
        resume=args.resume,
        progress=not args.no_progress,
    )
    result = evaluate(
        request,
        instances,
        data=data,
        run=run,
        extra={"arguments": _arguments(args)},
        origins=origins,
    )
    print(format_scores(result.scores))
    for name, signature in result.scores.signatures.items():
        print(f"{name}: {signature}")
    if args.simuleval:
        from simul.agents.command import write_simuleval_run

        command = write_simuleval_run(
            args, instances, run.loaded.model, run.policy, output, result.target_lang
        )
        print(f"SimulEval command ({output / 'simuleval' / 'command.sh'}):")
        print(command)
    return 0

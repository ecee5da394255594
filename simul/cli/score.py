"""``simul score``: score an ``instances.log`` (SimulEval's or simul's), every output stream."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from simul.eval.latency import LATENCY_METRICS
from simul.eval.log_io import find_log, read_instances_log
from simul.eval.quality import QUALITY_METRICS, TextNormalization
from simul.eval.report import format_scores, write_scores
from simul.eval.scoring import DEFAULT_LATENCY_METRICS, ScoringConfig, score
from simul.provenance import file_sha256

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score an instances.log: latency (AL, LAAL, DAL, AP, ATD, ...) and quality per stream",
        description=(
            "Score the instances.log of a SimulEval or simul run. Latency equals SimulEval 1.1.4's "
            "scorers (same definitions, same corpus mean); with --computation-aware the plain "
            "columns stay plain (SimulEval 1.1.4 makes them computation-aware too: its issue 44). "
            "Writes scores.tsv, instance_scores.tsv and scores.json with provenance."
        ),
    )
    parser.add_argument("log", type=Path, help="an instances.log, or the directory that holds one")
    parser.add_argument(
        "--output", type=Path, default=None,
        help="directory for the score files (default: LOG_DIR/simul-scores, never SimulEval's own scores.tsv)",
    )
    parser.add_argument(
        "--latency-metrics", nargs="+", default=list(DEFAULT_LATENCY_METRICS), choices=LATENCY_METRICS,
        metavar="METRIC",
        help=f"latency metrics, in column order; any of {' '.join(LATENCY_METRICS)} "
        f"(default: {' '.join(DEFAULT_LATENCY_METRICS)}, as SimulEval)",
    )
    parser.add_argument(
        "--quality-metrics", nargs="*", default=None, choices=QUALITY_METRICS, metavar="METRIC",
        help=f"quality metrics for every stream; any of {' '.join(QUALITY_METRICS)} "
        "(default: WER CER on a stream named asr, BLEU chrF on the others; none when there are no "
        "references; pass the flag alone for latency only)",
    )
    parser.add_argument(
        "--computation-aware", action="store_true",
        help="add NAME_CA columns computed on wall-clock elapsed times (speech input only)",
    )
    parser.add_argument(
        "--no-use-ref-len", action="store_true",
        help="take |Y*| from the hypothesis instead of the reference (AL, AP; LAAL then equals AL)",
    )
    parser.add_argument(
        "--latency-unit", choices=("word", "char", "spm"), default="word",
        help="unit of the delays in the log (SimulEval's --eval-latency-unit; default: word)",
    )
    parser.add_argument("--spm-model", default=None, help="SentencePiece model for --latency-unit spm")
    parser.add_argument("--source-type", choices=("speech", "text"), default=None,
                        help="speech (delays in ms) or text (delays in source tokens); "
                        "default: config.yaml beside the log, else inferred")
    parser.add_argument("--bleu-tokenizer", default="13a", help="sacrebleu tokenizer for BLEU (default: 13a)")
    parser.add_argument("--lowercase", action="store_true", help="lowercase hypotheses and references before WER/CER")
    parser.add_argument("--remove-punctuation", action="store_true",
                        help="remove punctuation (Unicode category P) before WER/CER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    log_path = find_log(args.log)
    instances = read_instances_log(log_path, source_type=args.source_type)
    config = ScoringConfig(
        latency_metrics=tuple(args.latency_metrics),
        quality_metrics=None if args.quality_metrics is None else tuple(args.quality_metrics),
        computation_aware=args.computation_aware,
        use_ref_len=not args.no_use_ref_len,
        latency_unit=args.latency_unit,
        spm_model=args.spm_model,
        bleu_tokenizer=args.bleu_tokenizer,
        normalization=TextNormalization(lowercase=args.lowercase, remove_punctuation=args.remove_punctuation),
    )
    scores = score(instances, config)
    output = args.output if args.output is not None else log_path.parent / "simul-scores"
    written = write_scores(output, scores, log=str(log_path), log_sha256=file_sha256(log_path))
    print(format_scores(scores))
    for name, signature in scores.signatures.items():
        print(f"{name}: {signature}")
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return 0

"""``simul score``: score an ``instances.log`` (SimulEval's or simul's), every output stream.

With ``--stream-laal`` each log line is a whole talk: its output is re-segmented into the
reference segments of ``--segments-yaml`` and ``--references`` and scored with StreamLAAL
(``simul.eval.stream_latency``).
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

# Only the metric names at import time: `simul score --help` must not load numpy, pandas or
# sacrebleu (start-up under 0.3 s); `run` imports what scoring needs.
from simul.eval.names import DEFAULT_LATENCY_METRICS, LATENCY_METRICS, QUALITY_METRICS

if TYPE_CHECKING:
    from simul.eval.scoring import ScoringConfig

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score an instances.log: latency (AL, LAAL, DAL, AP, ATD, YAAL, ...) and quality per stream",
        description=(
            "Score the instances.log of a SimulEval or simul run. Latency equals SimulEval 1.1.4's "
            "scorers (same definitions, same corpus mean); with --computation-aware the plain "
            "columns stay plain (SimulEval 1.1.4 makes them computation-aware too: its issue 44). "
            "Writes scores.tsv (rounded, as SimulEval's), corpus_scores.tsv (full precision), instance_scores.tsv and scores.json (with the provenance). "
            "--scorer omnisteval gives OmniSTEval 0.1.10's columns instead (IWSLT 2026: YAAL, "
            "LongYAAL after SoftSegmenter with --segments-yaml and --references)."
        ),
    )
    parser.add_argument("log", type=Path, help="an instances.log, or the directory that holds one")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="directory for the score files (default: LOG_DIR/simul-scores, never SimulEval's own scores.tsv)",
    )
    parser.add_argument(
        "--latency-metrics",
        nargs="+",
        default=None,
        choices=LATENCY_METRICS,
        metavar="METRIC",
        help=f"latency metrics, in column order; any of {' '.join(LATENCY_METRICS)} "
        f"(default: {' '.join(DEFAULT_LATENCY_METRICS)}, as SimulEval)",
    )
    parser.add_argument(
        "--quality-metrics",
        nargs="*",
        default=None,
        choices=QUALITY_METRICS,
        metavar="METRIC",
        help=f"quality metrics for every stream; any of {' '.join(QUALITY_METRICS)} "
        "(default: WER CER on a stream named asr, BLEU chrF on the others; none when there are no "
        "references; pass the flag alone for latency only)",
    )
    parser.add_argument(
        "--computation-aware",
        action="store_true",
        help="add NAME_CA columns computed on wall-clock elapsed times (speech input only)",
    )
    parser.add_argument(
        "--no-use-ref-len",
        action="store_true",
        help="take |Y*| from the hypothesis instead of the reference (AL, AP; LAAL then equals AL)",
    )
    parser.add_argument(
        "--latency-unit",
        "--eval-latency-unit",
        choices=("word", "char", "spm"),
        default="word",
        dest="latency_unit",
        help="unit of the delays in the log (SimulEval's --eval-latency-unit; default: word)",
    )
    parser.add_argument(
        "--spm-model", default=None, help="SentencePiece model for --latency-unit spm"
    )
    parser.add_argument(
        "--source-type",
        choices=("speech", "text"),
        default=None,
        help="speech (delays in ms) or text (delays in source tokens); "
        "default: config.yaml beside the log, else inferred",
    )
    parser.add_argument(
        "--bleu-tokenizer",
        "--sacrebleu-tokenizer",
        default="13a",
        dest="bleu_tokenizer",
        help="sacrebleu tokenizer for BLEU (SimulEval's --sacrebleu-tokenizer; default: 13a)",
    )
    parser.add_argument(
        "--lowercase",
        action="store_true",
        help="lowercase hypotheses and references before WER/CER",
    )
    parser.add_argument(
        "--remove-punctuation",
        action="store_true",
        help="remove punctuation (Unicode category P) before WER/CER",
    )
    parser.add_argument(
        "--log-format", choices=("simuleval", "simulstream"), default="simuleval",
        help="simuleval: an instances.log (SimulEval's or simul's; default); simulstream: the "
        "metrics log of FBK's simulstream server, one talk per wav_name, re-translations replayed "
        "as simulstream 1.0.0 does (word unit, its simuleval detokenizer)",
    )  # fmt: skip
    parser.add_argument(
        "--scorer", choices=("simuleval", "omnisteval"), default="simuleval",
        help="whose definitions: simuleval (SimulEval 1.1.4's columns, default) or omnisteval "
        "(OmniSTEval 0.1.10's, IWSLT 2026's scorer: BLEU, chrF, YAAL, AL, LAAL, AP, DAL, _CA columns "
        "when elapsed is logged, and the degeneracy test SWF, EFSW, DSPTV; with --segments-yaml and "
        "--references each log line is a talk, cut into the segments by SoftSegmenter and scored "
        "with LongYAAL, LongAL, ...)",
    )  # fmt: skip
    stream = parser.add_argument_group(
        "StreamLAAL (unsegmented talks)",
        "each log line is a whole talk; its output is re-segmented into the reference segments "
        "(mWERSegmenter's algorithm) and scored with StreamLAAL (LAAL per segment, delays re-based "
        "to the segment), StreamLAAL_CA with --computation-aware, and quality per stream",
    )
    stream.add_argument(
        "--stream-laal",
        action="store_true",
        help="score talk-level output with StreamLAAL (needs --segments-yaml and --references)",
    )
    stream.add_argument(
        "--segments-yaml",
        type=Path,
        default=None,
        help="MuST-C segment list txt/SPLIT.yaml: wav, offset, duration of every reference segment",
    )
    stream.add_argument(
        "--references",
        nargs="+",
        default=None,
        metavar="[STREAM=]FILE",
        help="one reference per segment, in YAML order, for each stream to score "
        "(e.g. st=txt/tst-COMMON.de asr=txt/tst-COMMON.en); a bare FILE names the "
        "log's only stream",
    )
    stream.add_argument(
        "--resegment-ignore-case",
        action="store_true",
        help="align case-insensitively, as mweralign does (default: case-sensitive, "
        "as FBK's StreamLAAL asks mwerSegmenter with -usecase 1)",
    )
    stream.add_argument(
        "--resegment-exact-minimum",
        action="store_true",
        help="take the exact minimum edit distance split, not mwerSegmenter's "
        "(which charges extra for a segment after the first that starts at the talk's first unit)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from simul.eval.log_io import collector_paused

    with collector_paused():  # millions of small objects, no cycles: see collector_paused
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from simul.eval.log_io import find_log
    from simul.eval.report import format_scores, write_scores
    from simul.eval.scoring import score
    from simul.provenance import file_sha256

    log_path = find_log(args.log)
    if args.scorer == "omnisteval":
        return _run_omnisteval(args, log_path)
    if args.stream_laal:
        return _run_stream_laal(args, log_path)
    for flag, value in (("--segments-yaml", args.segments_yaml), ("--references", args.references)):
        if value is not None:
            raise ValueError(f"{flag} is for talk-level output: add --stream-laal.")
    instances = _read_log(args, log_path)
    config = _scoring_config(args, tuple(args.latency_metrics or DEFAULT_LATENCY_METRICS))
    scores = score(instances, config)
    output = args.output if args.output is not None else log_path.parent / "simul-scores"
    _refuse_the_logs_own_scores(output, log_path)
    written = write_scores(output, scores, log=str(log_path), log_sha256=file_sha256(log_path))
    print(format_scores(scores))
    for name, signature in scores.signatures.items():
        print(f"{name}: {signature}")
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return 0


def _refuse_the_logs_own_scores(output: Path, log_path: Path) -> None:
    """Never write over the ``scores.tsv`` that the run (SimulEval's) wrote beside its log."""
    theirs = log_path.parent / "scores.tsv"
    if theirs.is_file() and output.resolve() == log_path.parent.resolve():
        raise ValueError(
            f"`--output` must not be the log's own folder, which holds the run's {theirs}, but "
            f"is {output} instead; choose another (default: {log_path.parent / 'simul-scores'})."
        )


def _read_log(args: argparse.Namespace, log_path: Path) -> list:
    """The log's records, in either format (``--log-format``)."""
    if args.log_format == "simulstream":
        from simul.eval.simulstream_log import read_simulstream_log

        if args.source_type == "text":
            raise ValueError("a simulstream log is speech input; drop --source-type text.")
        return read_simulstream_log(log_path)
    from simul.eval.log_io import read_instances_log

    return read_instances_log(log_path, source_type=args.source_type)


def _scoring_config(args: argparse.Namespace, latency_metrics: tuple[str, ...]) -> ScoringConfig:
    from simul.eval.quality import TextNormalization
    from simul.eval.scoring import ScoringConfig

    return ScoringConfig(
        latency_metrics=latency_metrics,
        quality_metrics=None if args.quality_metrics is None else tuple(args.quality_metrics),
        computation_aware=args.computation_aware,
        use_ref_len=not args.no_use_ref_len,
        latency_unit=args.latency_unit,
        spm_model=args.spm_model,
        bleu_tokenizer=args.bleu_tokenizer,
        normalization=TextNormalization(
            lowercase=args.lowercase, remove_punctuation=args.remove_punctuation
        ),
    )


_STREAM_PREFIX = re.compile(r"(?P<stream>[A-Za-z0-9_-]+)=(?P<path>.+)")


def reference_files(values: list[str], log_streams: list[str]) -> dict[str, Path]:
    """``--references`` as {stream: path}: ``STREAM=FILE``, or a bare FILE for a one-stream log."""
    files: dict[str, Path] = {}
    for value in values:
        match = _STREAM_PREFIX.fullmatch(value)
        if match is not None:
            stream, path = match["stream"], match["path"]
        elif len(log_streams) == 1:
            stream, path = log_streams[0], value
        else:
            raise ValueError(
                f"--references {value} must say its stream as STREAM=FILE, as the log has "
                f"several ({', '.join(log_streams)})."
            )
        if stream in files:
            raise ValueError(f"--references gives stream {stream} twice.")
        files[stream] = Path(path)
    return files


def _run_stream_laal(args: argparse.Namespace, log_path: Path) -> int:
    from simul.eval.log_io import write_instances_log
    from simul.eval.records import stream_names
    from simul.eval.report import format_scores, write_scores
    from simul.eval.stream_latency import score_stream_laal
    from simul.eval.talk_references import read_talk_references
    from simul.provenance import file_sha256

    if args.segments_yaml is None or not args.references:
        raise ValueError("--stream-laal needs --segments-yaml and --references.")
    if args.latency_metrics is not None:
        raise ValueError("--stream-laal scores LAAL only (StreamLAAL); drop --latency-metrics.")
    talks = _read_log(args, log_path)
    log_streams = stream_names(talks)
    files = reference_files(args.references, log_streams)
    unknown = sorted(set(files) - set(log_streams))
    if unknown:
        raise ValueError(
            f"--references names streams {unknown} that the log does not have ({', '.join(log_streams)})."
        )
    for stream in sorted(set(log_streams) - set(files)):
        logger.warning("stream %s has no --references: it is not scored", stream)
    config = _scoring_config(args, ("LAAL",))
    result = score_stream_laal(
        talks,
        read_talk_references(args.segments_yaml, files),
        config,
        case_sensitive=not args.resegment_ignore_case,
        mwersegmenter_first_row=not args.resegment_exact_minimum,
        progress=True,
    )
    output = args.output if args.output is not None else log_path.parent / "simul-stream-scores"
    _refuse_the_logs_own_scores(output, log_path)
    resegmented = write_instances_log(output / "resegmented", result.segments)
    inputs = {
        "log": str(log_path),
        "log_sha256": file_sha256(log_path),
        "segments_yaml": str(args.segments_yaml),
        "segments_yaml_sha256": file_sha256(args.segments_yaml),
        "references": {stream: str(path) for stream, path in files.items()},
        "references_sha256": {stream: file_sha256(path) for stream, path in files.items()},
        "resegmentation": {
            "algorithm": "mWERSegmenter (Matusov et al. 2005), simul.eval.resegment",
            "case_sensitive": not args.resegment_ignore_case,
            "mwersegmenter_first_row": not args.resegment_exact_minimum,
        },
    }
    written = write_scores(output, result.scores, **inputs)
    print(format_scores(result.scores))
    for name, signature in result.scores.signatures.items():
        print(f"{name}: {signature}")
    logger.info("wrote %s and %s", ", ".join(str(path) for path in written), resegmented)
    return 0


def _run_omnisteval(args: argparse.Namespace, log_path: Path) -> int:
    """``--scorer omnisteval``: short form, or long form with --segments-yaml and --references."""
    from simul.eval.log_io import write_instances_log
    from simul.eval.omnisteval_scoring import score_omnisteval, score_omnisteval_long
    from simul.eval.records import stream_names
    from simul.eval.report import format_scores, write_scores
    from simul.eval.talk_references import read_talk_references
    from simul.provenance import file_sha256

    refused = {
        "--stream-laal": args.stream_laal,
        "--latency-metrics": args.latency_metrics is not None,
        "--quality-metrics": args.quality_metrics is not None,
        "--computation-aware": args.computation_aware,  # _CA columns come whenever elapsed is logged
        "--no-use-ref-len": args.no_use_ref_len,
        "--latency-unit": args.latency_unit != "word",
    }
    for flag, given in refused.items():
        if given:
            raise ValueError(
                f"{flag} does not apply to --scorer omnisteval (its metrics are fixed)."
            )
    long_form = args.segments_yaml is not None or args.references is not None
    instances = _read_log(args, log_path)
    inputs: dict = {
        "log": str(log_path),
        "log_sha256": file_sha256(log_path),
        "scorer": "omnisteval 0.1.10",
    }
    if long_form:
        if args.segments_yaml is None or not args.references:
            raise ValueError(
                "long-form --scorer omnisteval needs both --segments-yaml and --references."
            )
        files = reference_files(args.references, stream_names(instances))
        result = score_omnisteval_long(
            instances,
            read_talk_references(args.segments_yaml, files),
            bleu_tokenizer=args.bleu_tokenizer,
        )
        scores = result.scores
        inputs.update(segments_yaml=str(args.segments_yaml), references={k: str(v) for k, v in files.items()},
                      resegmentation="SoftSegmenter (OmniSTEval 0.1.10, no Moses tokenisation)")  # fmt: skip
    else:
        scores = score_omnisteval(instances, bleu_tokenizer=args.bleu_tokenizer)
    default = "simul-omnisteval-long-scores" if long_form else "simul-omnisteval-scores"
    output = args.output if args.output is not None else log_path.parent / default
    _refuse_the_logs_own_scores(output, log_path)
    written = write_scores(output, scores, **inputs)
    if long_form:
        written.append(write_instances_log(output / "resegmented", result.segments))
    print(format_scores(scores))
    for name, signature in scores.signatures.items():
        print(f"{name}: {signature}")
    logger.info("wrote %s", ", ".join(str(path) for path in written))
    return 0

"""``simul data oracle``: the oracle latency of a corpus split, as a log ``simul score`` reads.

The oracle writes each target word as soon as the last source word it translates has ended
(``simul.data.oracle``): the lower bound every latency curve of the split is drawn against.  This
command writes those emissions as an ``instances.log`` (one stream per target language, which
SimulEval can also rescore: it sees the first language), scores it with the harness and writes
``scores.tsv``/``scores.json`` beside it.  It needs gold word times and gold alignments
(``SPLIT/txt/SPLIT.jsonl``), which the corpora built by ``simul data synth`` carry; a corpus spoken
by ``simul data tts`` has the word times but no alignments, and is refused naming the instance.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from simul.eval.names import LATENCY_METRICS

__all__ = ["ORACLE_LATENCY_METRICS", "add_parser", "run"]

logger = logging.getLogger(__name__)

#: Columns of the oracle's table (its quality is the reference's own: nothing to score).
ORACLE_LATENCY_METRICS = ("LAAL", "AL", "AP", "DAL", "ATD", "StartOffset", "EndOffset")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "oracle",
        help="oracle latency of a split (each target word when its last aligned source word ends)",
        description=(
            "Compute the oracle delays of a corpus split with gold word times and alignments "
            "(a corpus built by `simul data synth`): each target word is "
            "due when the last source word aligned to it ends (unaligned words inherit their "
            "predecessor's delay; delays never decrease). Writes OUT/instances.log (one stream "
            "per language), OUT/config.yaml, and the latency scores (OUT/scores.tsv, corpus_scores.tsv, "
            "scores.json, instance_scores.tsv), and prints the table. The delays are exact word "
            "ends in ms; a system reading S ms segments can only write at multiples of S, "
            "which --segment-ms S accounts for (the floor of that segment size's curves)."
        ),
    )
    parser.add_argument("corpus_dir", type=Path, metavar="CORPUS_DIR",
                        help="corpus in MuST-C layout with SPLIT/txt/SPLIT.jsonl gold times")  # fmt: skip
    parser.add_argument("--split", default="test", help="split to score (default: test)")
    parser.add_argument("--langs", nargs="+", default=["de"], metavar="LANG",
                        help="target languages, one stream each (default: de)")  # fmt: skip
    parser.add_argument("--src-lang", default="en", help="language of the speech (default: en)")
    parser.add_argument(
        "--latency-metrics", nargs="+", default=list(ORACLE_LATENCY_METRICS),
        choices=LATENCY_METRICS, metavar="METRIC",
        help=f"latency metrics (default: {' '.join(ORACLE_LATENCY_METRICS)})",
    )  # fmt: skip
    parser.add_argument("--segment-ms", type=int, default=None, metavar="MS",
                        help="the oracle of a system reading MS ms segments: every delay rounded up "
                        "to the end of its segment (default: the exact word ends)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=None,
                        help="output directory (default: CORPUS_DIR/oracle/SPLIT, or "
                        "CORPUS_DIR/oracle/SPLIT-MSms with --segment-ms)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: these load numpy, pandas and sacrebleu, which `--help` does not need.
    from simul.data.oracle import oracle_outputs
    from simul.data.readers.mustc import read_mustc
    from simul.eval.log_io import write_instances_log
    from simul.eval.report import format_scores, write_scores
    from simul.eval.scoring import ScoringConfig, score
    from simul.provenance import file_sha256

    langs = list(dict.fromkeys(args.langs))
    instances = read_mustc(args.corpus_dir, args.split, src_lang=args.src_lang, tgt_langs=langs)
    if not instances:
        raise ValueError(f"{args.corpus_dir} split {args.split} holds no segments.")
    by_lang = [oracle_outputs(instances, lang, segment_ms=args.segment_ms) for lang in langs]
    records = [  # one record per instance, with every language's stream
        dataclasses.replace(group[0], streams={k: v for r in group for k, v in r.streams.items()})
        for group in zip(*by_lang, strict=True)
    ]
    name = args.split if args.segment_ms is None else f"{args.split}-{args.segment_ms}ms"
    output = args.output if args.output is not None else args.corpus_dir / "oracle" / name
    config = ScoringConfig(latency_metrics=tuple(args.latency_metrics), quality_metrics=())
    scores = score(records, config)  # before writing anything: a failure leaves no files
    log = write_instances_log(output, records, primary_stream=langs[0])
    write_scores(
        output, scores, log=str(log), log_sha256=file_sha256(log),
        corpus=str(args.corpus_dir), split=args.split, segment_ms=args.segment_ms,
    )  # fmt: skip
    print(format_scores(scores))
    logger.info("wrote %s and the scores beside it", log)
    return 0

"""``simul demo OUT_DIR``: the whole platform end to end on the built-in corpus, resumably.

    simul demo runs/demo                       # small corpus, 30-minute training, 200 test utterances
    simul demo /tmp/demo --size tiny --set trainer.max_steps=3 --max-instances 3

The stages and their outputs are described in :mod:`simul.demo.run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "parse_waitk", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end demo: build the corpus, train a streaming ASR T-T, evaluate native and "
        "wait-k policies, write a latency/WER table and plot",
        description=(
            "Build the built-in corpus (data/built/synth-SIZE), its SentencePiece vocabulary and "
            "CMVN where missing; train the streaming ASR Transformer-Transducer of "
            "experiments/asr_tt_SIZE.yaml into OUT_DIR/train; stream the test split through it "
            "under the transducer's native policy and under wait-k (OUT_DIR/eval, computation-"
            "aware); score the oracle latency; write OUT_DIR/results.tsv, results.md and "
            "results.png (WER against LAAL). Every stage whose output is complete is skipped, "
            "so running the command again resumes an interrupted demo (training continues from "
            "its last checkpoint)."
        ),
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="output directory")
    parser.add_argument(
        "--size", choices=("tiny", "small"), default="small",
        help="corpus and recipe: small (4000 training utterances, 30 min of training) or tiny "
        "(seconds, for tests) (default: small)",
    )  # fmt: skip
    parser.add_argument(
        "--corpus-dir", type=Path, default=None,
        help="where the corpus is or is built (default: data/built/synth-SIZE)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, default=None,
        help="another transducer training recipe (default: experiments/asr_tt_SIZE.yaml)",
    )  # fmt: skip
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="change a recipe key, as `simul train` does (trainer.max_steps=3, optim.lr=1e-3); "
        "repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--waitk", type=parse_waitk, default=(2, 4), metavar="K,K,...",
        help="the k of each wait-k run, in source segments; '' for none (default: 2,4)",
    )  # fmt: skip
    parser.add_argument(
        "--segment-ms", type=int, default=320, help="source segment size in ms (default: 320)"
    )
    parser.add_argument(
        "--max-instances", type=int, default=None, help="evaluate the first N test instances only"
    )
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads of the evaluation (default: 1; a chunk's tensors are tiny, and on "
        "a busy machine more threads wait on each other: 10x slower on a shared 2-core machine)",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=2, help="synthesis processes for the corpus (default: 2)"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device of the evaluation (default: cpu)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def parse_waitk(text: str) -> tuple[int, ...]:
    """``"2,4"`` -> ``(2, 4)``; ``""`` -> ``()`` (no wait-k run)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be integers separated by commas, e.g. 2,4, but is {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    from simul.demo import DemoConfig, run_demo  # loads torch: not for `simul --help`

    config = DemoConfig(
        out_dir=args.out_dir, size=args.size, corpus_dir=args.corpus_dir, config=args.config,
        overrides=tuple(args.overrides), waitk=args.waitk, segment_ms=args.segment_ms,
        max_instances=args.max_instances, threads=args.threads, jobs=args.jobs,
        device=args.device, progress=not args.no_progress,
    )  # fmt: skip
    result = run_demo(config)
    print(result.markdown, end="")
    print("wrote " + ", ".join(str(path) for path in result.paths))
    return 0

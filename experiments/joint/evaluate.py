"""Stream a test split through trained T-T models and write one table: quality, latency, oracle.

The one command of the joint ASR/ST comparison (issue 5, ``experiments/joint/README.md``)::

    bash .ci/venv python experiments/joint/evaluate.py          # the four configs' runs
    bash .ci/venv python experiments/joint/evaluate.py --configs experiments/asr_tt_equal.yaml \\
        experiments/joint_tt_asr_st.yaml --max-instances 20 --output runs/joint_tt/eval-20

For each training config (its ``trainer.output_dir``):

1. the run's final checkpoint, ``checkpoints/last.pt``, which must have reached
   ``trainer.max_steps``: every model is scored after the same budget, none is picked on dev;
2. the test split streamed through simul's one loop (:func:`simul.evaluation.evaluate`) in
   ``--segment-ms`` segments under the transducer's native emission
   (``policies.TransducerEmission``: a token is written as soon as the search emits it, blank
   is READ);
3. scored by :func:`simul.eval.scoring.score`, every stream on its own: WER on ``asr``, BLEU and
   chrF on each translation, LAAL and AL on every stream, plain (``source_ms``) and
   computation-aware (``*_CA``, SimulEval's elapsed clock on this machine, with ``--threads``
   torch threads, 1 by default: what one stream of a streaming server gets);
4. ``OUTPUT/NAME/`` gets what ``simul eval`` writes (``instances.log``, ``config.yaml``,
   ``scores.tsv``, ``instance_scores.tsv``, ``scores.json`` with provenance).

Oracle latency (the floor of each stream, on the same instances): a translation word when the
last source word aligned to it ends (:func:`simul.data.oracle.oracle_outputs`, what ``simul data
oracle`` scores), a transcript word when it ends
(:func:`simul.data.oracle.transcript_oracle_outputs`).  It needs the gold word times and
alignments of a corpus built by ``simul data synth``.  The oracle's delays
are exact word ends; a system reading 320 ms segments can only write at their ends.

The table (``OUTPUT/table.tsv``, full precision, and ``OUTPUT/table.md``): one row per model and
stream, with ``lang`` (the stream's language), the model's parameter count and vocabulary size,
its quality columns (``WER`` on ``asr`` rows, ``BLEU``/``chrF`` on the others, empty elsewhere),
``LAAL``, ``AL``, ``LAAL_CA``, ``AL_CA`` and ``oracle_LAAL``, ``oracle_AL`` of its language.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from simul import evaluation
from simul.data.instance import Instance
from simul.data.oracle import oracle_outputs, transcript_oracle_outputs
from simul.eval.report import write_scores
from simul.eval.scoring import Scores, ScoringConfig, score
from simul.families.checkpoint import load_checkpoint
from simul.io import atomic_write_text
from simul.train.config import TrainConfig, load_train_config

__all__ = [
    "DEFAULT_CONFIGS",
    "LATENCY_METRICS",
    "TABLE_COLUMNS",
    "ModelRun",
    "evaluate_runs",
    "main",
    "model_runs",
    "transcript_oracle_outputs",
]

logger = logging.getLogger("experiments.joint.evaluate")

#: The four models of the comparison, in table order.
DEFAULT_CONFIGS = (
    "experiments/asr_tt_equal.yaml",
    "experiments/st_tt_equal.yaml",
    "experiments/joint_tt_asr_st.yaml",
    "experiments/joint_tt_one_to_many.yaml",
)

#: Latency metrics of every stream (each also computation-aware, ``NAME_CA``).
LATENCY_METRICS = ("LAAL", "AL")

#: Columns of the table, in order.
TABLE_COLUMNS = (
    "model", "stream", "lang", "params", "vocab", "WER", "BLEU", "chrF",
    "LAAL", "AL", "LAAL_CA", "AL_CA", "oracle_LAAL", "oracle_AL",
)  # fmt: skip

_QUALITY_COLUMNS = ("WER", "BLEU", "chrF")


@dataclass(frozen=True)
class ModelRun:
    """One trained model of the comparison.

    Attributes:
        name: its name in the table (the config file's stem).
        config: its training config.
        checkpoint: the final checkpoint of its run.
    """

    name: str
    config: TrainConfig
    checkpoint: Path


def model_runs(config_paths: Sequence[Path], *, root: Path = Path(".")) -> list[ModelRun]:
    """The runs of ``config_paths``, each checked to have finished its ``trainer.max_steps``.

    Args:
        config_paths: training configs (``experiments/*.yaml``).
        root: the directory relative ``trainer.output_dir`` paths start from.

    Raises:
        FileNotFoundError: a config or a run's ``checkpoints/last.pt`` is missing.
        ValueError: a run has not finished, two configs share a name, or the configs read
            different corpora.
    """
    runs: list[ModelRun] = []
    for path in config_paths:
        config = load_train_config(Path(path))
        checkpoint = root / config.trainer.output_dir / "checkpoints" / "last.pt"
        if not checkpoint.is_file():
            raise FileNotFoundError(
                f"{checkpoint} does not exist: train the model first (`simul train {path}`)."
            )
        step = load_checkpoint(checkpoint).step
        if step != config.trainer.max_steps:
            raise ValueError(
                f"{checkpoint} must be the end of its run ({config.trainer.max_steps} steps, "
                f"`trainer.max_steps` of {path}), but is at step {step}: finish it by running "
                f"`simul train {path}` again (it resumes)."
            )
        runs.append(ModelRun(name=Path(path).stem, config=config, checkpoint=checkpoint))
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"`config_paths` must have distinct file names, but are {names}.")
    corpora = {(r.config.data.corpus_dir, r.config.data.src_lang) for r in runs}
    if len(corpora) > 1:
        raise ValueError(
            "the configs must read one corpus (`data.corpus_dir`, `data.src_lang`), "
            f"but read {sorted(corpora)}."
        )
    return runs


def _oracle_latency(
    instances: Sequence[Instance], langs: Sequence[str], output: Path
) -> dict[str, dict[str, float]]:
    """Oracle LAAL/AL by stream (``asr`` and each of ``langs``); their scores go to ``output``."""
    by_stream = [transcript_oracle_outputs(instances)] + [
        oracle_outputs(instances, lang) for lang in langs
    ]
    records = [  # one record per instance, with every stream (as `simul data oracle` does)
        dataclasses.replace(group[0], streams={k: v for r in group for k, v in r.streams.items()})
        for group in zip(*by_stream, strict=True)
    ]
    scores = score(records, ScoringConfig(latency_metrics=LATENCY_METRICS, quality_metrics=()))
    write_scores(
        output, scores,
        oracle="asr: a word at its end; LANG: a word at the end of its last aligned source word",
    )  # fmt: skip
    return {
        stream: {metric: float(row[metric]) for metric in LATENCY_METRICS}
        for stream, row in scores.corpus.to_dict(orient="index").items()
    }


def _stream_lang(stream: str, target_lang: str | None, src_lang: str) -> str:
    if stream == "asr":
        return src_lang
    if stream == "st":
        if target_lang is None:
            raise ValueError("a model with an `st` stream must name its target language.")
        return target_lang
    return stream


def _evaluate_model(
    run: ModelRun,
    instances: Sequence[Instance],
    data: dict[str, Any],
    output: Path,
    *,
    segment_ms: int,
    progress: bool,
) -> tuple[Scores, str | None, dict[str, Any]]:
    """Stream ``instances`` through one model and score them; write its ``simul eval`` files."""
    request = evaluation.EvaluationRequest(
        model=evaluation.ModelRequest(checkpoint=run.checkpoint),
        policy=evaluation.PolicyRequest("transducer", {"segment_ms": segment_ms}),
        output=output,
        scoring=ScoringConfig(latency_metrics=LATENCY_METRICS, computation_aware=True),
        progress=progress,
    )
    result = evaluation.evaluate(request, instances, data=data)
    state = load_checkpoint(run.checkpoint).state_dict
    facts = {
        "params": sum(tensor.numel() for tensor in state.values()),
        "vocab": int(result.run.loaded.description["config"]["vocab_size"]),
    }
    return result.scores, result.target_lang, facts


def _markdown(table: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def evaluate_runs(
    runs: Sequence[ModelRun],
    output: Path,
    *,
    split: str = "test",
    segment_ms: int = 320,
    max_instances: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Evaluate every run on ``split`` and write ``output/table.tsv`` and ``output/table.md``.

    Args:
        runs: from :func:`model_runs`.
        output: the output directory (one subdirectory per model, ``oracle/``, the tables).
        split: the corpus split streamed.
        segment_ms: source segment size, in ms.
        max_instances: the first N instances only (``None``: all).
        progress: show progress bars.

    Returns:
        The table, columns :data:`TABLE_COLUMNS`, one row per model and output stream.
    """
    if not runs:
        raise ValueError("`runs` must hold at least one model, but is empty.")
    data = runs[0].config.data
    root = Path(data.corpus_dir)
    instances, provenance, _ = evaluation.read_test_set(
        evaluation.TestSet(dir=root, format=data.corpus_format, split=split, src_lang=data.src_lang,
                max_instances=max_instances)
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    stream_rows: list[tuple[dict[str, Any], str]] = []
    for run in runs:
        logger.info("streaming %d instances through %s (%s)", len(instances), run.name,
                    run.checkpoint)  # fmt: skip
        scores, target_lang, facts = _evaluate_model(
            run, instances, provenance, output / run.name, segment_ms=segment_ms,
            progress=progress,
        )  # fmt: skip
        for stream, values in scores.corpus.to_dict(orient="index").items():
            lang = _stream_lang(str(stream), target_lang, data.src_lang)
            row = {"model": run.name, "stream": stream, "lang": lang, **facts}
            row.update({name: values.get(name, math.nan) for name in _QUALITY_COLUMNS})
            row.update({name: values[name] for name in LATENCY_METRICS})
            row.update({f"{name}_CA": values[f"{name}_CA"] for name in LATENCY_METRICS})
            rows.append(row)
            stream_rows.append((row, lang))
    target_langs = sorted({lang for _, lang in stream_rows if lang != data.src_lang})
    oracle = _oracle_latency(instances, target_langs, output / "oracle")
    for row, lang in stream_rows:
        values = oracle["asr" if lang == data.src_lang else lang]
        row.update({f"oracle_{name}": values[name] for name in LATENCY_METRICS})
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    header = (
        f"# {len(instances)} instances of {root} split {split}, {segment_ms} ms segments, "
        "transducer native emission; latency in ms\n"
    )
    tsv = table.to_csv(sep="\t", index=False, float_format="%.6g")
    atomic_write_text(output / "table.tsv", header + tsv)
    atomic_write_text(output / "table.md", _markdown(table))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Stream the test split through the joint ASR/ST comparison's T-T models and "
        "write one table (quality; per-stream LAAL/AL, plain and computation-aware; oracle).",
    )
    parser.add_argument(
        "--configs", type=Path, nargs="+", default=[Path(p) for p in DEFAULT_CONFIGS],
        metavar="CONFIG", help="training configs of the models (default: the four)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path("runs/joint_tt/eval"),
                        help="output directory (default: runs/joint_tt/eval)")  # fmt: skip
    parser.add_argument("--split", default="test", help="split to stream (default: test)")
    parser.add_argument("--segment-ms", type=int, default=320,
                        help="source segment size in ms (default: 320)")  # fmt: skip
    parser.add_argument("--max-instances", type=int, default=None,
                        help="the first N instances only")  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default: 1; a chunk's tensors are tiny, and on a busy machine "
        "more threads wait on each other: 10x slower on this project's shared 2 cores)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="[joint-eval] %(levelname)s %(message)s")
    if args.max_instances is not None and args.max_instances < 1:
        parser.error(f"--max-instances must be >= 1, but is {args.max_instances}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, but is {args.threads}")
    torch.set_num_threads(args.threads)
    table = evaluate_runs(
        model_runs(args.configs), args.output, split=args.split, segment_ms=args.segment_ms,
        max_instances=args.max_instances, progress=not args.no_progress,
    )  # fmt: skip
    logger.info("wrote %s and %s", args.output / "table.tsv", args.output / "table.md")
    print(_markdown(table), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``simul demo OUT_DIR``: the whole platform on the built-in corpus, in one resumable command.

Stages (:data:`STAGES`), each skipped when its output is complete (``skip`` in the log):

1. ``corpus``, ``vocabulary``, ``cmvn``: the built-in corpus and what the recipe reads from it
   (:mod:`simul.demo.prepare`);
2. ``train``: the streaming ASR Transformer-Transducer of ``experiments/asr_tt_SIZE.yaml``
   (or ``config``), with its data paths pointed at the demo's corpus and ``trainer.output_dir`` at
   ``OUT_DIR/train``, then the ``overrides``, through :func:`simul.train.train`.  The trainer
   resumes from ``checkpoints/last.pt``, so an interrupted demo continues training where the
   last checkpoint left it (a recipe's ``trainer.max_minutes`` counts per invocation).  When
   a call ends its run, ``OUT_DIR/train/finished.json`` records the config: the same config
   later is a skip, another one trains again (resuming);
3. ``eval``: the test split streamed through the best checkpoint (``best.pt``, as ``simul
   train``'s test; ``last.pt`` without one) under the transducer's native emission and under
   wait-k for each ``waitk`` value, each a ``simul eval`` run of a sweep (:mod:`simul.sweep`,
   in this process, one run at a time, ``threads`` torch threads), scored computation-aware.
   The sweep evaluates a copy of the checkpoint named by its hash
   (``OUT_DIR/eval/checkpoint-HASH.pt``), so runs of an older checkpoint are never reused;
4. ``oracle``: the oracle latency of the same instances (the transcript's: each word when it
   ends, for an ASR model; the translation's for an ST one), as ``simul data oracle`` scores it,
   exact and at the segment size (each delay rounded up to a segment's end: the policies' floor);
5. ``results``: ``OUT_DIR/results.tsv`` (every column, full precision), ``results.md`` and
   ``results.png`` (quality against LAAL, plain and computation-aware, with the oracle).

Limits: the demo trains the transducer family only (the native policy needs it); one oracle
stream is drawn (a joint ASR/ST model's ``asr`` one).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from simul.config import check_positive_int
from simul.demo.prepare import DEMO_SIZES, prepare_cmvn, prepare_corpus, prepare_vocabulary
from simul.families.base import target_streams
from simul.io import atomic_write, atomic_write_bytes, atomic_write_text
from simul.provenance import file_sha256
from simul.sweep import expand, gather, markdown_table, plot_curves, run_sweep
from simul.sweep.config import DataSection, GridEntry, ModelSection, OracleSection, SweepConfig
from simul.sweep.gather import ORACLE_LABEL
from simul.sweep.runner import (
    ORACLE_DIR,
    RUNS_DIR,
    finished_result,
    oracle_identity,
    run_oracle,
)
from simul.train import TrainConfig, load_train_config, train
from simul.train.config import config_to_dict

__all__ = ["DEMO_FILE", "STAGES", "DemoConfig", "DemoResult", "run_demo"]

logger = logging.getLogger(__name__)

#: The stages, in order.
STAGES = ("corpus", "vocabulary", "cmvn", "train", "eval", "oracle", "results")

#: Marks a directory as a demo's output (its settings); any other non-empty OUT_DIR is refused.
DEMO_FILE = "demo.json"

#: Columns of ``results.md``, in order (those the table has).
_MARKDOWN_COLUMNS = (
    "policy", "params", "segment_ms", "stream", "WER", "BLEU", "LAAL", "AL", "LAAL_CA", "AL_CA",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """One demo run (``simul demo``'s options)."""

    out_dir: Path
    """Where everything but the corpus goes (train/, eval/, results.*)."""
    size: str = "small"
    """The corpus and recipe size: ``tiny`` (seconds, for tests) or ``small``."""
    corpus_dir: Path | None = None
    """The corpus directory; ``None``: ``data/built/synth-SIZE``."""
    config: Path | None = None
    """The training recipe; ``None``: ``experiments/asr_tt_SIZE.yaml``."""
    overrides: tuple[str, ...] = ()
    """``KEY=VALUE`` changes of the recipe (OmegaConf dotted keys, as ``simul train``)."""
    waitk: tuple[int, ...] = (2, 4)
    """The k of each wait-k run (source segments before the first token)."""
    segment_ms: int = 320
    """Source segment size of the evaluation, in ms."""
    max_instances: int | None = None
    """Evaluate the first N test instances only (``None``: all)."""
    threads: int = 1
    """torch CPU threads of the evaluation (more threads wait on each other on a busy machine)."""
    jobs: int = 2
    """Synthesis worker processes for the corpus."""
    device: str = "cpu"
    """torch device of the evaluation."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        if self.size not in DEMO_SIZES:
            raise ValueError(
                f"`size` must be one of {sorted(DEMO_SIZES)}, but is {self.size!r} instead."
            )
        counts = {"segment_ms": self.segment_ms, "threads": self.threads, "jobs": self.jobs}
        counts.update({f"waitk[{index}]": k for index, k in enumerate(self.waitk)})
        if self.max_instances is not None:
            counts["max_instances"] = self.max_instances
        for name, value in counts.items():
            check_positive_int(name, value)
        if len(set(self.waitk)) != len(self.waitk):
            raise ValueError(f"`waitk` must list distinct values, but is {list(self.waitk)}.")

    @property
    def corpus(self) -> Path:
        """The corpus directory."""
        if self.corpus_dir is not None:
            return self.corpus_dir
        return Path("data/built") / f"synth-{self.size}"

    @property
    def recipe(self) -> Path:
        """The training config."""
        return self.config if self.config is not None else DEMO_SIZES[self.size].recipe

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for ``demo.json``)."""
        return {
            "size": self.size, "corpus_dir": str(self.corpus), "config": str(self.recipe),
            "overrides": list(self.overrides), "waitk": list(self.waitk),
            "segment_ms": self.segment_ms, "max_instances": self.max_instances,
            "threads": self.threads, "device": self.device,
        }  # fmt: skip


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` did.

    Attributes:
        table: the results, one row per (run, output stream) and the oracle's (``results.tsv``).
        markdown: ``results.md``'s text.
        paths: ``results.tsv``, ``results.md``, ``results.png``.
        skipped: the stages that had nothing to do, in :data:`STAGES` order.
    """

    table: pd.DataFrame
    markdown: str
    paths: tuple[Path, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"OUT_DIR {out_dir} must be a directory, but is a file.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / DEMO_FILE).is_file():
        raise ValueError(
            f"OUT_DIR {out_dir} must be new, empty or an earlier demo's (with {DEMO_FILE}), but "
            "holds other files: choose another directory."
        )


def _load_recipe(config: DemoConfig, spm_model: Path, cmvn: Path) -> TrainConfig:
    """The training config: the recipe, the demo's paths, then the user's overrides."""
    demo_paths = [
        f"data.corpus_dir={config.corpus}", f"data.spm_model={spm_model}", f"data.cmvn={cmvn}",
        f"trainer.output_dir={config.out_dir / 'train'}",
    ]  # fmt: skip
    if not config.progress:
        demo_paths.append("trainer.progress=false")
    if config.config is None and not config.recipe.is_file():
        # The recipes live in the repository's experiments/, which a wheel does not ship (yet).
        raise FileNotFoundError(
            f"the demo's recipe {config.recipe} does not exist: simul demo runs from a clone of "
            "the repository (an installed simul has no experiments/), or give a recipe with --config."
        )
    train_config = load_train_config(config.recipe, [*demo_paths, *config.overrides])
    if train_config.model.family != "transducer":
        raise ValueError(
            f"the demo's recipe must train the `transducer` family (its native policy needs it), "
            f"but {config.recipe} trains {train_config.model.family!r}."
        )
    return train_config


def _comparable(config_dict: dict[str, Any]) -> dict[str, Any]:
    """The config without what does not change the result (progress bars)."""
    trainer = {k: v for k, v in config_dict.get("trainer", {}).items() if k != "progress"}
    return {**config_dict, "trainer": trainer}


def _train(train_config: TrainConfig) -> tuple[Path, bool]:
    """Train (or resume) unless ``finished.json`` records this config; returns the checkpoint."""
    run_dir = Path(train_config.trainer.output_dir)
    marker = run_dir / "finished.json"
    values = config_to_dict(train_config)
    checkpoints = run_dir / "checkpoints"
    done = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    skipped = (
        done is not None
        and _comparable(done.get("config", {})) == _comparable(values)
        and (checkpoints / "last.pt").is_file()
    )
    if skipped:
        logger.info("train: skip (%s: step %d, valid %s)", marker, done["step"], done["best_valid"])
    else:
        last = checkpoints / "last.pt"
        logger.info(
            "train: %s %s for %d steps%s into %s",
            "resuming" if last.is_file() else "training", train_config.model.preset,
            train_config.trainer.max_steps,
            f" or {train_config.trainer.max_minutes} min" if train_config.trainer.max_minutes else "",
            run_dir,
        )  # fmt: skip
        result = train(train_config)
        record = {
            "config": values, "step": result.step, "best_valid": result.best_metric,
            "test": result.test_metrics,
        }  # fmt: skip
        atomic_write_text(marker, json.dumps(record, indent=2, sort_keys=True) + "\n")
        logger.info("train: step %d, best valid %s", result.step, result.best_metric)
    best = checkpoints / "best.pt"
    return (best if best.is_file() else checkpoints / "last.pt"), skipped


def _eval_checkpoint(checkpoint: Path, eval_dir: Path) -> Path:
    """A copy of ``checkpoint`` named by its hash (the sweep's runs belong to its exact bytes)."""
    path = eval_dir / f"checkpoint-{file_sha256(checkpoint)[:12]}.pt"
    if not path.is_file():
        with open(checkpoint, "rb") as source:
            atomic_write(path, lambda target: shutil.copyfileobj(source, target))
        for old in eval_dir.glob("checkpoint-*.pt"):
            if old != path:
                old.unlink()
    return path


def _sweep_config(config: DemoConfig, train_config: TrainConfig, checkpoint: Path) -> SweepConfig:
    """The evaluation as a sweep: the native run, one wait-k run per k, the oracle."""
    data = train_config.data
    streams, target_lang = target_streams(data.target)
    quality = "WER" if "asr" in streams else "BLEU"
    oracle_lang = data.src_lang if "asr" in streams else target_lang
    grid = [GridEntry(label="native", policy="transducer", segment_ms=[config.segment_ms])]
    if config.waitk:
        grid.append(
            GridEntry(label="wait-k", policy="waitk", segment_ms=[config.segment_ms],
                      vary={"k": list(config.waitk)})
        )  # fmt: skip
    return SweepConfig(
        name="simul demo",
        output_dir=str(config.out_dir / "eval"),
        data=DataSection(
            dir=str(data.corpus_dir),
            format=data.corpus_format,
            split=data.test_split or "test",
            src_lang=data.src_lang,
            max_instances=config.max_instances,
        ),  # fmt: skip
        model=ModelSection(checkpoint=str(checkpoint)),
        grid=grid,
        oracle=OracleSection(enabled=oracle_lang is not None, lang=oracle_lang or ""),
        workers=0,
        threads_per_run=config.threads,
        device=config.device,
        computation_aware=True,
        quality_metric=quality,
        latency_axes=["LAAL"],
    )


def _evaluate(sweep: SweepConfig) -> tuple[Path, bool]:
    """Run the sweep's unfinished runs; their directory, and whether there were none."""
    specs = expand(sweep)
    runs = Path(sweep.output_dir) / RUNS_DIR
    todo = [spec.run_id for spec in specs if finished_result(runs / spec.run_id, spec) is None]
    if not todo:
        logger.info("eval: skip (%d runs finished in %s)", len(specs), runs)
        return runs, True
    logger.info("eval: %d of %d runs to do (%s)", len(todo), len(specs), ", ".join(todo))
    outcome = run_sweep(replace(sweep, oracle=replace(sweep.oracle, enabled=False)))
    if outcome.failed:
        failures = "; ".join(f"{run_id}: {message}" for run_id, message in outcome.failed.items())
        raise ValueError(f"{len(outcome.failed)} evaluation runs failed ({failures}); see {runs}.")
    return runs, False


def _oracle(sweep: SweepConfig) -> tuple[Path | None, bool]:
    """Score the oracle of the sweep's instances unless done; its directory, and whether skipped."""
    if not sweep.oracle.enabled:
        logger.info("oracle: skip (the model has no stream with an oracle)")
        return None, True
    directory = Path(sweep.output_dir) / ORACLE_DIR
    done = finished_result(directory)
    if done is not None and done.get("identity") == oracle_identity(sweep):
        logger.info("oracle: skip (%s)", directory)
        return directory, True
    result = run_oracle(sweep)
    scores = ", ".join(f"{s} LAAL {v['LAAL']:.1f} ms" for s, v in result["scores"].items())
    logger.info("oracle: %s (%s)", scores, directory)
    return directory, False


def _results(
    sweep: SweepConfig, out_dir: Path
) -> tuple[tuple[pd.DataFrame, str, tuple[Path, ...]], bool]:
    """Gather the table; write results.tsv/.md/.png unless they already hold it."""
    gathered = gather(sweep)
    expected = len(expand(sweep))
    runs = (
        gathered[gathered["policy"] != ORACLE_LABEL]["run_id"].nunique()
        if not gathered.empty
        else 0
    )
    if runs != expected:
        raise ValueError(f"the table must hold {expected} finished runs, but holds {runs}.")
    table = gathered.rename(columns={"varied": "params"})
    first = [c for c in _MARKDOWN_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    buffer = io.StringIO()
    table.to_csv(buffer, sep="\t", index=False)
    tsv = buffer.getvalue()
    markdown = markdown_table(table, list(_MARKDOWN_COLUMNS))
    paths = (out_dir / "results.tsv", out_dir / "results.md", out_dir / "results.png")
    unchanged = all(p.is_file() for p in paths) and paths[0].read_text(encoding="utf-8") == tsv
    if unchanged:
        logger.info("results: skip (%s holds this table)", paths[0])
        return (table, markdown, paths), True
    image = io.BytesIO()
    plot_curves(gathered, sweep).savefig(image, format="png", dpi=110)
    atomic_write_bytes(paths[2], image.getvalue())
    atomic_write_text(paths[1], markdown)
    atomic_write_text(paths[0], tsv)  # last: it says the others are complete
    logger.info("results: wrote %s", ", ".join(str(p) for p in paths))
    return (table, markdown, paths), False


@contextlib.contextmanager
def _torch_threads() -> Iterator[None]:
    """Restore torch's thread count afterwards (training and evaluation set their own)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run_stage(name: str, call: Callable[[], tuple[Any, bool]], skipped: list[str]) -> Any:
    """Run one stage, log how it went and how long it took; ``call`` returns (value, skipped)."""
    since = time.perf_counter()
    value, was_skipped = call()
    if was_skipped:
        skipped.append(name)
    logger.info(
        "[%d/%d %s] %s in %.1f s", STAGES.index(name) + 1, len(STAGES), name,
        "skipped" if was_skipped else "done", time.perf_counter() - since,
    )  # fmt: skip
    return value


def run_demo(config: DemoConfig) -> DemoResult:
    """Run every stage of the demo that has work left (see the module doc).

    Raises:
        ValueError, FileNotFoundError: a bad OUT_DIR, recipe, override or corpus; a failed
            evaluation run.  Nothing is written before the recipe and OUT_DIR are checked.
    """
    out_dir = Path(config.out_dir)
    _check_out_dir(out_dir)
    size = DEMO_SIZES[config.size]
    corpus = config.corpus
    # The recipe first (an unknown key fails in a second, not after the corpus is built).
    _load_recipe(config, corpus / f"{size.spm_prefix}.model", corpus / "cmvn.npz")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / DEMO_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    skipped: list[str] = []
    started = time.perf_counter()
    with _torch_threads():
        _run_stage("corpus", lambda: prepare_corpus(
            corpus, config.size, record=out_dir / "corpus.json", jobs=config.jobs,
            progress=config.progress,
        ), skipped)  # fmt: skip
        spm_model = _run_stage("vocabulary", lambda: prepare_vocabulary(corpus, size), skipped)
        cmvn = _run_stage("cmvn", lambda: prepare_cmvn(corpus, progress=config.progress), skipped)
        train_config = _load_recipe(config, spm_model, cmvn)
        checkpoint = _run_stage("train", lambda: _train(train_config), skipped)
        sweep = _sweep_config(config, train_config, _eval_checkpoint(checkpoint, out_dir / "eval"))
        _run_stage("eval", lambda: _evaluate(sweep), skipped)
        _run_stage("oracle", lambda: _oracle(sweep), skipped)
        table, markdown, paths = _run_stage("results", lambda: _results(sweep, out_dir), skipped)
    logger.info("demo finished in %.1f s (%s)", time.perf_counter() - started, out_dir)
    return DemoResult(table=table, markdown=markdown, paths=paths, skipped=tuple(skipped))

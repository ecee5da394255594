"""Run a sweep: every grid point is one ``simul eval``, executed locally or on SLURM, resumably.

A run is one :func:`simul.evaluation.evaluate`, the code path of ``simul eval`` (the equivalent
command is recorded in its ``result.json``), writing ``instances.log``, ``scores.tsv``,
``scores.json`` (with provenance) into ``OUTPUT/runs/RUN_ID/``.  When it has finished, the run
writes ``result.json`` (its spec, its command, its corpus scores, its wall time) atomically and
last: a run directory with a valid ``result.json`` is finished and is never run again; one without
it is run again, and ``simul eval --resume`` continues it after the instances it had finished.
So a sweep that is killed and started again loses at most the instances in progress.

Executors (``executor``): ``local``, a process pool of ``workers`` processes (``0``: one run after
the other in this process), each with ``threads_per_run`` torch threads; ``slurm``, a submitit job
array (one task per run, ``slurm.*`` resources); ``submitit_local``, the same submitit path on this
machine.  A failed run does not stop the others; the failures are listed at the end.

The ``oracle`` run scores the oracle delays (:mod:`simul.data.oracle`) of the same instances.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from simul.eval.report import format_scores
from simul.eval.scoring import ScoringConfig
from simul.evaluation import (
    EvaluationRequest,
    ModelRequest,
    PolicyRequest,
    TestSet,
    evaluate,
    read_test_set,
)
from simul.io import atomic_write_text
from simul.logs import progress_bar_disabled
from simul.streaming import ElapsedClock
from simul.sweep.config import RunSpec, SweepConfig, expand

__all__ = [
    "FAILED_FILE",
    "ORACLE_DIR",
    "RESULT_FILE",
    "RUNS_DIR",
    "SweepOutcome",
    "eval_arguments",
    "evaluation_request",
    "execute_run",
    "finished_result",
    "oracle_identity",
    "oracle_segment_sizes",
    "run_oracle",
    "run_sweep",
]

logger = logging.getLogger(__name__)

#: Written last by a finished run.
RESULT_FILE = "result.json"
#: Written into a run's folder when it raised (the message), removed when it is run again.
FAILED_FILE = "failed.txt"
#: Where the runs' directories go, inside the sweep's output directory.
RUNS_DIR = "runs"
#: The oracle's directory, inside the sweep's output directory.
ORACLE_DIR = "oracle"


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes:
        executed: run ids run (or resumed) by this call and finished.
        reused: run ids already finished before this call.
        skipped: run ids of optional entries whose checkpoint does not exist.
        failed: run id -> error message, for runs that raised.
    """

    executed: tuple[str, ...]
    reused: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: dict[str, str]


def _dotted(values: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` -> ``("a.b", 1)`` (lists and scalars are leaves)."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _dotted(value, f"{name}.")
        else:
            yield name, value


def eval_arguments(spec: RunSpec, run_dir: Path) -> list[str]:
    """The ``simul eval`` arguments of a run (after ``simul eval``)."""
    data, model, scoring = spec.data, spec.model, spec.scoring
    argv = [str(data["dir"]), "--policy", spec.policy, "--segment-ms", str(spec.segment_ms)]
    argv += ["--split", str(data["split"]), "--src-lang", str(data["src_lang"])]
    if data.get("format"):
        argv += ["--format", str(data["format"])]
    if data.get("tgt_lang"):
        argv += ["--tgt-lang", str(data["tgt_lang"])]
    if data.get("max_instances") is not None:
        argv += ["--max-instances", str(data["max_instances"])]
    if data.get("long_form"):
        argv.append("--long-form")
    argv += ["--model", "toy"] if model["toy"] else ["--checkpoint", str(model["checkpoint"])]
    parameters = {k: v for k, v in spec.parameters.items() if k != "segment_ms"}
    for name, value in _dotted(parameters):
        argv += ["--set", f"policy.{name}={json.dumps(value)}"]
    for name, value in _dotted(model.get("options") or {}):
        argv += ["--set", f"model.{name}={json.dumps(value)}"]
    argv += ["--clock", str(scoring["clock"]), "--latency-metrics", *scoring["latency_metrics"]]
    if scoring["computation_aware"]:
        argv.append("--computation-aware")
    argv += ["--device", spec.device, "--output", str(run_dir), "--resume", "--no-progress"]
    return argv


def _run_dir(output_dir: Path, spec: RunSpec) -> Path:
    return Path(output_dir) / RUNS_DIR / spec.run_id


def finished_result(run_dir: Path, spec: RunSpec | None = None) -> dict[str, Any] | None:
    """The ``result.json`` of a finished run (of ``spec``, when given), or ``None``."""
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # written atomically, so this is not ours: run again
    if spec is not None and result.get("spec", {}).get("run_id") != spec.run_id:
        return None
    return result


def evaluation_request(spec: RunSpec, run_dir: Path) -> tuple[EvaluationRequest, TestSet]:
    """The evaluation of a run, as :func:`simul.evaluation.evaluate` takes it (what
    :func:`eval_arguments` says on the command line)."""
    data, model, scoring = spec.data, spec.model, spec.scoring
    test_set = TestSet(
        dir=Path(data["dir"]), format=data.get("format") or None, split=str(data["split"]),
        src_lang=str(data["src_lang"]), tgt_lang=data.get("tgt_lang") or None,
        max_instances=data.get("max_instances"), long_form=bool(data.get("long_form")),
    )  # fmt: skip
    request = EvaluationRequest(
        model=ModelRequest(
            checkpoint=None if model["toy"] else Path(model["checkpoint"]),
            options=dict(model.get("options") or {}),
            device=spec.device,
        ),
        policy=PolicyRequest(spec.policy, {**spec.parameters, "segment_ms": spec.segment_ms}),
        output=run_dir,
        target_lang=data.get("tgt_lang") or None,
        clock=ElapsedClock(scoring["clock"]),
        long_form=bool(data.get("long_form")),
        scoring=ScoringConfig(
            latency_metrics=tuple(scoring["latency_metrics"]),
            computation_aware=bool(scoring["computation_aware"]),
        ),
        resume=True,
        progress=False,
    )
    return request, test_set


def execute_run(spec: RunSpec, output_dir: str) -> dict[str, Any]:
    """Run one grid point (:func:`simul.evaluation.evaluate`) and write its ``result.json``.

    Picklable: the workers call it.  ``eval.log`` gets the scores table ``simul eval`` would print.
    """
    torch.set_num_threads(spec.threads)
    run_dir = _run_dir(Path(output_dir), spec)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / FAILED_FILE).unlink(missing_ok=True)  # an earlier attempt's
    command = "simul eval " + shlex.join(eval_arguments(spec, run_dir))
    request, test_set = evaluation_request(spec, run_dir)
    start = time.perf_counter()
    instances, data, origins = read_test_set(test_set)
    outcome = evaluate(request, instances, data=data, extra={"command": command}, origins=origins)
    atomic_write_text(run_dir / "eval.log", format_scores(outcome.scores) + "\n")
    result = {
        "spec": spec.to_dict(),
        "command": command,
        "scores": json.loads((run_dir / "scores.json").read_text(encoding="utf-8"))["corpus"],
        "wall_seconds": time.perf_counter() - start,
    }
    atomic_write_text(run_dir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def oracle_segment_sizes(config: SweepConfig) -> list[int]:
    """The grid's segment sizes, in ms: the oracle is also scored at each of them."""
    return sorted({size for entry in config.grid for size in entry.segment_ms})


def oracle_identity(config: SweepConfig) -> dict[str, Any]:
    """What makes two oracle runs the same (``OUTPUT/oracle/result.json`` records it)."""
    return {"data": OmegaConf.to_container(OmegaConf.structured(config.data)),
            "lang": config.oracle.lang, "latency_metrics": list(config.latency_metrics),
            "segment_ms": oracle_segment_sizes(config)}  # fmt: skip


def run_oracle(config: SweepConfig) -> dict[str, Any]:
    """Score the oracle delays of the sweep's instances; write ``OUTPUT/oracle/`` (once)."""
    from simul.data.oracle import oracle_outputs, transcript_oracle_outputs
    from simul.data.readers.mustc import read_mustc
    from simul.eval.log_io import write_instances_log
    from simul.eval.report import write_scores
    from simul.eval.scoring import ScoringConfig, score

    directory = Path(config.output_dir) / ORACLE_DIR
    data, lang = config.data, config.oracle.lang
    identity = oracle_identity(config)
    done = finished_result(directory)
    if done is not None and done.get("identity") == identity:
        return done
    transcript = lang == data.src_lang  # the transcript's oracle, stream `asr`
    tgt_langs = [] if transcript else [lang]
    instances = read_mustc(Path(data.dir), data.split, src_lang=data.src_lang, tgt_langs=tgt_langs)
    if data.max_instances is not None:
        instances = instances[: data.max_instances]
    if not instances:
        raise ValueError(f"the oracle found no instance in split {data.split!r} of {data.dir}.")
    scoring = ScoringConfig(latency_metrics=tuple(config.latency_metrics), quality_metrics=())

    def oracle_records(segment_ms: int | None) -> list:
        if transcript:
            return transcript_oracle_outputs(instances, segment_ms=segment_ms)
        return oracle_outputs(instances, lang, segment_ms=segment_ms)

    records = oracle_records(None)
    scores = score(records, scoring)
    # the floor of each segment size's curves: every delay rounded up to a segment's end
    segment_scores = {
        str(size): score(oracle_records(size), scoring).corpus.to_dict(orient="index")
        for size in oracle_segment_sizes(config)
    }
    write_instances_log(directory, records)
    write_scores(
        directory, scores, corpus=data.dir, split=data.split, lang=lang, num_instances=len(records)
    )
    corpus = {s: row for s, row in scores.corpus.to_dict(orient="index").items()}
    result = {"identity": identity, "scores": corpus, "segment_scores": segment_scores}
    atomic_write_text(directory / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def _exit_with_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """In a pool worker: end this process as soon as the sweep that started it is gone.

    Why: a sweep killed with SIGKILL (or by the OOM killer, or a closed terminal) runs no
    cleanup, and its workers would finish their run, then wait for work forever, orphaned.  A
    daemon thread polls the parent's pid (portable, unlike Linux's ``PR_SET_PDEATHSIG``, which
    also fires when the thread that started the worker ends); the finished instances of the
    run in progress stay in its ``.partial`` folder, so a rerun of the sweep continues it.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_local(specs: Sequence[RunSpec], config: SweepConfig, run: Callable) -> dict[str, str]:
    failures: dict[str, str] = {}
    output = str(config.output_dir)
    progress = tqdm(total=len(specs), desc="sweep", unit="run", disable=progress_bar_disabled(True))
    if config.workers == 0:
        for spec in specs:
            try:
                run(spec, output)
            except (ValueError, FileNotFoundError, RuntimeError) as error:
                failures[spec.run_id] = f"{type(error).__name__}: {error}"
            progress.update()
        progress.close()
        return failures
    context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
    pool = ProcessPoolExecutor(
        max_workers=config.workers, mp_context=context,
        initializer=_exit_with_parent, initargs=(os.getpid(),),
    )  # fmt: skip
    with pool:
        futures = {pool.submit(run, spec, output): spec for spec in specs}
        for future in as_completed(futures):
            error = future.exception()
            if error is not None:
                failures[futures[future].run_id] = f"{type(error).__name__}: {error}"
            progress.update()
    progress.close()
    return failures


def _run_submitit(specs: Sequence[RunSpec], config: SweepConfig, run: Callable) -> dict[str, str]:
    import submitit

    cluster = "slurm" if config.executor == "slurm" else "local"
    executor = submitit.AutoExecutor(folder=Path(config.output_dir) / "submitit", cluster=cluster)
    slurm = config.slurm
    parameters: dict[str, Any] = {
        "timeout_min": slurm.timeout_min, "cpus_per_task": slurm.cpus_per_task,
        "gpus_per_node": slurm.gpus_per_node, "mem_gb": slurm.mem_gb, "name": config.name,
    }  # fmt: skip
    if cluster == "slurm":
        parameters.update(
            slurm_array_parallelism=slurm.array_parallelism,
            slurm_additional_parameters=dict(slurm.additional_parameters),
        )
        if slurm.partition is not None:
            parameters["slurm_partition"] = slurm.partition
    executor.update_parameters(**parameters)
    jobs = executor.map_array(run, list(specs), [str(config.output_dir)] * len(specs))
    failures: dict[str, str] = {}
    for spec, job in tqdm(
        list(zip(specs, jobs, strict=True)),
        desc="sweep",
        unit="run",
        disable=progress_bar_disabled(True),
    ):
        try:
            job.result()
        except Exception as error:  # submitit re-raises the job's error, or a scheduler failure
            failures[spec.run_id] = (
                f"{type(error).__name__}: {str(error).splitlines()[-1] if str(error) else ''}"
            )
    return failures


def run_sweep(
    config: SweepConfig, *, run: Callable[[RunSpec, str], Any] = execute_run
) -> SweepOutcome:
    """Run every unfinished grid point of ``config`` (see the module doc).

    Args:
        config: the sweep.
        run: what runs one point (default :func:`execute_run`; tests pass a wrapper).

    Returns:
        What was run, reused, skipped and what failed.
    """
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "sweep.yaml", OmegaConf.to_yaml(OmegaConf.structured(config)))
    todo, reused, skipped = [], [], []
    for spec in expand(config):
        checkpoint = spec.model.get("checkpoint")
        if spec.model.get("optional") and checkpoint is not None and not Path(checkpoint).is_file():
            skipped.append(spec.run_id)
        elif finished_result(_run_dir(output, spec), spec) is not None:
            reused.append(spec.run_id)
        else:
            todo.append(spec)
    logger.info(
        "sweep %s: %d runs to do, %d finished before, %d skipped (optional, no checkpoint)",
        config.name, len(todo), len(reused), len(skipped),
    )  # fmt: skip
    failures: dict[str, str] = {}
    if todo:
        if config.executor == "local":
            failures = _run_local(todo, config, run)
        else:
            failures = _run_submitit(todo, config, run)
    for run_id, message in failures.items():
        logger.error("run %s failed: %s", run_id, message)
        run_dir = output / RUNS_DIR / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / FAILED_FILE, message + "\n")  # for `simul sweep status`
    if config.oracle.enabled:
        run_oracle(config)
    executed = tuple(s.run_id for s in todo if s.run_id not in failures)
    return SweepOutcome(
        executed=executed, reused=tuple(reused), skipped=tuple(skipped), failed=failures
    )

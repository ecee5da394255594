"""Run a test set through the loop and write its ``instances.log``, resumably.

Each instance goes through :func:`simul.streaming.simulate.simulate`; its record (the scorer's
``InstanceOutput``) is saved at once under ``OUTPUT/.partial/`` (one small SimulEval-format log per
instance, written atomically), so a run that is killed loses at most the instance in progress, and
a rerun with the same settings continues after the instances already done
(``OUTPUT/.partial/run.json`` records the settings).  ``resume=True`` insists on continuing: a
run with other settings is refused, naming the settings that differ; by default such a run
replaces the unfinished one with a warning that says how many finished instances it discards and
why; ``resume=False`` always starts over.  At the end the records are written to
``OUTPUT/instances.log`` (and SimulEval's ``config.yaml``) atomically, in corpus order, and the
partial directory is removed.  Callers lock ``OUTPUT`` (:func:`simul.io.lock_directory`) so that
two runs never share a partial directory.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simul.data.instance import Instance
from simul.eval.log_io import read_instances_log, write_instances_log
from simul.eval.records import InstanceOutput
from simul.io import atomic_write_text
from simul.logs import progress_bar_disabled
from simul.provenance import changed_settings
from simul.streaming.model import StreamingModel
from simul.streaming.policy import Policy
from simul.streaming.result import stream_references
from simul.streaming.session import DEFAULT_MAX_TOKENS, ElapsedClock, check_compatible
from simul.streaming.simulate import simulate

__all__ = ["PARTIAL_DIR", "simulate_corpus"]

logger = logging.getLogger(__name__)

#: Where finished instances wait for the final log, inside the output directory.
PARTIAL_DIR = ".partial"


def _partial_record_dir(partial: Path, index: int) -> Path:
    return partial / f"{index:07d}"


def _finished_count(partial: Path) -> int:
    return sum(1 for p in partial.iterdir() if (p / "instances.log").is_file())


def _start_partial(
    partial: Path, identity: Mapping[str, Any], resume: bool | None
) -> dict[int, InstanceOutput]:
    """Prepare the partial directory; return the records already done when resuming."""
    run_file = partial / "run.json"
    identity_text = json.dumps(identity, sort_keys=True, indent=2) + "\n"
    if partial.exists():
        stored_text = run_file.read_text(encoding="utf-8") if run_file.is_file() else None
        if stored_text != identity_text:
            try:
                stored = json.loads(stored_text) if stored_text is not None else {}
            except json.JSONDecodeError:
                stored = {}
            changed = changed_settings(stored, json.loads(identity_text)) or ["(unreadable)"]
            if resume:
                raise ValueError(
                    f"{partial} holds an unfinished run with other settings than this one "
                    f"(changed: {', '.join(changed)}; see {run_file}); use another output "
                    "directory, or --no-resume to discard it."
                )
            resume = False
            reason = f"its settings differ: {', '.join(changed)}"
        else:
            reason = "resume is off"
        if resume is False:
            logger.warning(
                "discarding %d finished instances of the unfinished run in %s (%s)",
                _finished_count(partial), partial, reason,
            )  # fmt: skip
            shutil.rmtree(partial)
    done: dict[int, InstanceOutput] = {}
    if partial.exists():
        for record_dir in sorted(p for p in partial.iterdir() if p.is_dir()):
            if (record_dir / "instances.log").is_file():
                (record,) = read_instances_log(record_dir, source_type="speech")
                done[record.index] = record
        logger.info("resuming: %d instances already done in %s", len(done), partial)
    else:
        partial.mkdir(parents=True)
        atomic_write_text(run_file, identity_text)
    return done


def simulate_corpus(
    model: StreamingModel[Any],
    policy: Policy,
    instances: Sequence[Instance],
    output_dir: Path,
    *,
    target_lang: str | None = None,
    segment_ms: int | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    clock: ElapsedClock = ElapsedClock.SIMULEVAL,
    primary_stream: str | None = None,
    resume: bool | None = None,
    progress: bool = True,
    identity: Mapping[str, Any] | None = None,
    timer: Callable[[], float] | None = None,
    origins: Sequence[str] | None = None,
) -> list[InstanceOutput]:
    """Simulate every instance and write ``output_dir/instances.log`` (see the module doc).

    Args:
        model: the streaming model.
        policy: the policy (checked against the model before any audio is read).
        instances: the test set, in order (``index`` is the position).
        output_dir: where ``instances.log`` goes (created if missing).
        target_lang: the language of the ``st`` stream's references (default: each instance's
            only one).
        segment_ms: source segment size; default ``policy.segment_ms``.
        max_tokens: most tokens per instance; per gold segment for a talk (an instance with
            ``segments``), so a talk may write as much as its sentences would.
        clock: how ``elapsed_ms`` is computed.
        primary_stream: the stream SimulEval sees in the log (default: the model's first).
        resume: ``None``: continue an interrupted run with the same settings, else replace it
            (with a warning); ``True``: continue it, refusing other settings; ``False``: start
            over.
        progress: show a progress bar.
        identity: what makes two runs the same for ``resume`` (model, policy, data, ...);
            default: the model's description, the policy's parameters and the instance ids.
        timer: wall-clock seconds (tests pass a fake one).
        origins: where each instance was listed (``path:line``), named when one fails.

    Returns:
        The records, in corpus order.
    """
    check_compatible(model, policy)
    if not instances:
        raise ValueError("`instances` must hold at least one instance, but is empty.")
    output_dir = Path(output_dir)
    if identity is None:
        identity = {
            "model": model.describe(),
            "policy": {"class": type(policy).__name__, **policy.parameters()},
            "segment_ms": segment_ms,
            "instances": [instance.id for instance in instances],
        }
    partial = output_dir / PARTIAL_DIR
    done = _start_partial(partial, identity, resume)
    records: list[InstanceOutput] = []
    for index, instance in enumerate(
        tqdm(instances, desc="simulate", unit="utt", disable=progress_bar_disabled(progress))
    ):
        if index in done:
            records.append(done[index])
            continue
        try:
            limit = max_tokens * len(instance.segments or (instance,))
            result = simulate(
                model, policy, instance, segment_ms, max_tokens=limit, clock=clock, timer=timer
            )
        except (ValueError, FileNotFoundError) as error:  # say which instance, then stop
            kind = FileNotFoundError if isinstance(error, FileNotFoundError) else ValueError
            where = (
                f"{instance.id!r}, {origins[index]}" if origins is not None else repr(instance.id)
            )
            raise kind(
                f"stopped at instance {index} ({where}) of {len(instances)}: {error}"
            ) from error
        record = result.to_instance_output(
            index,
            references=stream_references(instance, model.output_streams, target_lang),
            source=str(instance.audio_path),
            extra={"id": instance.id, "offset_samples": instance.offset_samples},
        )
        write_instances_log(
            _partial_record_dir(partial, index), [record], primary_stream=primary_stream
        )
        records.append(record)
    write_instances_log(output_dir, records, primary_stream=primary_stream)
    shutil.rmtree(partial)
    return records

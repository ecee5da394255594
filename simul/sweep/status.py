"""Where a sweep stands: every grid point finished, failed, under way or not started.

Why: ``--gather-only`` draws what is finished, and a point that failed or was cut off is simply
not in the table; ``simul sweep status CONFIG`` lists every point of the grid with its state,
from the files alone (a sweep on SLURM can be asked while it runs).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from simul.streaming.corpus import PARTIAL_DIR
from simul.sweep.config import RunSpec, SweepConfig, expand
from simul.sweep.runner import FAILED_FILE, RUNS_DIR, finished_result

__all__ = ["PointState", "PointStatus", "format_status", "sweep_status"]


class PointState(enum.Enum):
    """What the files of one grid point say."""

    FINISHED = "finished"
    """``result.json`` is there: in the table."""
    FAILED = "failed"
    """The last attempt raised (its message is in ``failed.txt``)."""
    PARTIAL = "partial"
    """Instances done, the run not finished: under way, or cut off (rerunning resumes it)."""
    NOT_STARTED = "not started"
    """Nothing written yet."""
    SKIPPED = "skipped"
    """An optional entry whose checkpoint does not exist."""


@dataclass(frozen=True)
class PointStatus:
    """One grid point and its state.

    Attributes:
        spec: the point.
        state: what its files say.
        instances_done: instances finished so far (``PARTIAL``), else ``None``.
        detail: the error of a ``FAILED`` point (first line), else ``""``.
    """

    spec: RunSpec
    state: PointState
    instances_done: int | None = None
    detail: str = ""


def _status(spec: RunSpec, run_dir: Path) -> PointStatus:
    checkpoint = spec.model.get("checkpoint")
    if finished_result(run_dir, spec) is not None:
        return PointStatus(spec, PointState.FINISHED)
    if spec.model.get("optional") and checkpoint is not None and not Path(checkpoint).is_file():
        return PointStatus(spec, PointState.SKIPPED)
    failed = run_dir / FAILED_FILE
    if failed.is_file():
        lines = failed.read_text(encoding="utf-8").strip().splitlines()
        return PointStatus(spec, PointState.FAILED, detail=lines[0] if lines else "")
    partial = run_dir / PARTIAL_DIR
    if partial.is_dir():
        done = sum(1 for p in partial.iterdir() if (p / "instances.log").is_file())
        return PointStatus(spec, PointState.PARTIAL, instances_done=done)
    return PointStatus(spec, PointState.NOT_STARTED)


def sweep_status(config: SweepConfig) -> list[PointStatus]:
    """The state of every point of ``config``'s grid, in the grid's order."""
    runs = Path(config.output_dir) / RUNS_DIR
    return [_status(spec, runs / spec.run_id) for spec in expand(config)]


def format_status(points: list[PointStatus]) -> str:
    """One line per point (state, label, varied values, segment size, run id), then the counts."""
    lines = []
    for point in points:
        varied = ", ".join(f"{name}={value}" for name, value in point.spec.varied.items())
        extra = ""
        if point.state is PointState.PARTIAL:
            extra = f" ({point.instances_done} instances done)"
        elif point.state is PointState.FAILED and point.detail:
            extra = f": {point.detail}"
        where = " ".join(
            part for part in (point.spec.label, varied, f"{point.spec.segment_ms} ms") if part
        )
        lines.append(f"{point.state.value:<11}  {where}  [{point.spec.run_id}]{extra}")
    counts = {state: sum(p.state is state for p in points) for state in PointState}
    summary = ", ".join(f"{count} {state.value}" for state, count in counts.items() if count)
    return "\n".join([*lines, f"{len(points)} points: {summary or 'none'}"]) + "\n"

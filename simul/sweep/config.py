"""A sweep config: one YAML file that expands to a grid of ``simul eval`` runs.

Each entry of ``grid`` names a policy, the values of the parameters it varies, the segment sizes,
and optionally its own model; the grid is the product, per entry, of the segment sizes and every
varied parameter (so a curve is one entry, its points the values).  Loaded as OmegaConf
structured configs, so an unknown key is an error naming it::

    name: aed_curves
    output_dir: runs/sweeps/aed_curves
    data: {dir: data/built/synth-small, split: test, tgt_lang: de}
    model: {checkpoint: runs/st_aed_small/checkpoints/best.pt}
    grid:
      - {label: wait-k, policy: waitk, segment_ms: [320], vary: {k: [1, 2, 3, 5]}}
      - {label: AlignAtt, policy: alignatt, vary: {frames: [2, 4, 6]}, fixed: {attention: {layer: 2}}}

Override any key on the command line (``simul sweep CONFIG executor=slurm workers=8``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simul.io import yaml_error_message

__all__ = [
    "EXECUTORS",
    "DataSection",
    "GridEntry",
    "ModelSection",
    "OracleSection",
    "RunSpec",
    "SlurmSection",
    "SweepConfig",
    "expand",
    "load_sweep_config",
]

#: Where runs execute: a local process pool, SLURM through submitit, or submitit's local executor
#: (the SLURM code path on one machine, for testing a config before a cluster run).
EXECUTORS = ("local", "slurm", "submitit_local")


@dataclass(kw_only=True)
class DataSection:
    """The test set every run streams (``simul eval``'s data options)."""

    dir: str = "???"
    """Corpus directory (MuST-C, CoVoST 2, S2T manifests or SimulEval lists)."""
    format: str | None = None
    """Corpus layout; ``None``: detected."""
    split: str = "test"
    """The split to evaluate."""
    src_lang: str = "en"
    """Language of the speech."""
    tgt_lang: str | None = None
    """Language of the translation references (default: the checkpoint's target)."""
    max_instances: int | None = None
    """Evaluate the first N instances only (``None``: all)."""
    long_form: bool = False
    """Stream whole talks and score StreamLAAL (``simul eval --long-form``)."""


@dataclass(kw_only=True)
class ModelSection:
    """The model a run streams through: a checkpoint, or the built-in toy model."""

    checkpoint: str | None = None
    """A checkpoint written by ``simul train``; ``None`` with ``toy``."""
    toy: bool = False
    """Use the deterministic toy model (``simul eval --model toy``) instead of a checkpoint."""
    options: dict[str, Any] = field(default_factory=dict)
    """The adapter's settings (``--set model.KEY=VALUE``), nested (``decoding: {beam_size: 5}``)."""
    optional: bool = False
    """Skip the entry (a documented empty slot in the table) when the checkpoint does not exist."""


@dataclass(kw_only=True)
class GridEntry:
    """One curve: a policy, the parameter values it takes, and the segment sizes."""

    label: str = "???"
    """Name of the curve in the table and the plot (e.g. ``AlignAtt (f)``)."""
    policy: str = "???"
    """A registered policy name (``waitk``, ``edatt``, ``alignatt``, ``local_agreement``, ...)."""
    segment_ms: list[int] = field(default_factory=lambda: [320])
    """Source segment sizes, in ms: one run per size and parameter value."""
    vary: dict[str, list[Any]] = field(default_factory=dict)
    """Parameters and their values (dotted names for nested ones: ``attention.layer``); the runs
    are their product.  Empty: one run per segment size."""
    fixed: dict[str, Any] = field(default_factory=dict)
    """Parameters set in every run of the entry (nested dicts)."""
    model: ModelSection | None = None
    """This entry's model, instead of the sweep's (e.g. a transducer's native operating point)."""


@dataclass(kw_only=True)
class OracleSection:
    """The oracle latency drawn beside the curves (``simul data oracle``; needs gold word times)."""

    enabled: bool = False
    """Compute it (corpora built by ``simul data synth``/``tts``)."""
    lang: str = "de"
    """Target language whose oracle delays are scored; ``data.src_lang`` scores the transcript's
    (each source word when it ends, stream ``asr``: the floor of an ASR curve)."""


@dataclass(kw_only=True)
class SlurmSection:
    """submitit's SLURM parameters (``executor: slurm``)."""

    partition: str | None = None
    """SLURM partition."""
    timeout_min: int = 60
    """Wall-time limit per run, in minutes."""
    cpus_per_task: int = 2
    """CPUs per run."""
    gpus_per_node: int = 0
    """GPUs per run (then pass ``device: cuda``)."""
    mem_gb: int = 8
    """Memory per run, in GB."""
    array_parallelism: int = 64
    """Runs of the job array that may run at once."""
    additional_parameters: dict[str, Any] = field(default_factory=dict)
    """Other sbatch options (``{account: ..., qos: ...}``)."""


@dataclass(kw_only=True)
class SweepConfig:
    """A whole sweep (see the module doc)."""

    name: str = "sweep"
    """Name of the sweep (titles of the table and plot)."""
    output_dir: str = "???"
    """Where every run's directory, the table and the plot go."""
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    grid: list[GridEntry] = field(default_factory=list)
    oracle: OracleSection = field(default_factory=OracleSection)
    executor: str = "local"
    """``local`` (process pool), ``slurm`` (submitit) or ``submitit_local``."""
    workers: int = 2
    """Runs at once with the local executor (0: one after the other in this process)."""
    threads_per_run: int = 1
    """torch CPU threads of each run (small models on CPU are fastest with one per process)."""
    device: str = "cpu"
    """torch device of the models."""
    computation_aware: bool = True
    """Also score latency on measured elapsed times (``*_CA`` columns)."""
    clock: str = "simuleval"
    """Elapsed-time definition (``simul eval --clock``)."""
    latency_metrics: list[str] = field(default_factory=lambda: ["LAAL", "AL", "AP", "DAL", "ATD"])
    """Latency metrics of every run."""
    quality_metric: str = "BLEU"
    """The y axis of the plot (a quality column of the table)."""
    latency_axes: list[str] = field(default_factory=lambda: ["LAAL", "AL"])
    """The x axes of the plot (each also drawn computation-aware with ``computation_aware``)."""
    slurm: SlurmSection = field(default_factory=SlurmSection)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(
                f"`executor` must be one of {list(EXECUTORS)}, but is {self.executor!r} instead."
            )
        if self.workers < 0 or self.threads_per_run < 1:
            raise ValueError(
                f"`workers` must be >= 0 and `threads_per_run` >= 1, but are {self.workers} and "
                f"{self.threads_per_run} instead."
            )
        if not self.grid:
            raise ValueError("`grid` must hold at least one entry, but is empty.")
        labels = [entry.label for entry in self.grid]
        if len(set(labels)) != len(labels):
            raise ValueError(f"`grid` labels must be unique, but are {labels}.")
        for entry in self.grid:
            model = entry.model or self.model
            if model.toy == (model.checkpoint is not None):
                raise ValueError(
                    f"grid entry {entry.label!r}: its model must give exactly one of `checkpoint` "
                    f"and `toy: true`, but has checkpoint={model.checkpoint!r}, toy={model.toy}."
                )
            if not entry.segment_ms or any(s < 1 for s in entry.segment_ms):
                raise ValueError(
                    f"grid entry {entry.label!r}: `segment_ms` must list sizes >= 1, but is {entry.segment_ms}."
                )
            for name, values in entry.vary.items():
                if not values:
                    raise ValueError(
                        f"grid entry {entry.label!r}: `vary.{name}` must list values, but is empty."
                    )


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One point of the grid: everything that defines a run (and its identity).

    Attributes:
        label: the grid entry's label (the curve).
        policy: the policy name.
        parameters: the policy's parameters (nested), ``segment_ms`` included.
        varied: the varied parameters' values of this point (dotted name -> value).
        segment_ms: the source segment size.
        model: the model section (plain values).
        data: the data section (plain values).
        scoring: latency metrics, computation-aware flag and clock.
        device: torch device.
        threads: torch CPU threads.
    """

    label: str
    policy: str
    parameters: dict[str, Any]
    varied: dict[str, Any]
    segment_ms: int
    model: dict[str, Any]
    data: dict[str, Any]
    scoring: dict[str, Any]
    device: str
    threads: int

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same (everything but the number of threads)."""
        return {
            "label": self.label, "policy": self.policy, "parameters": self.parameters,
            "segment_ms": self.segment_ms, "model": self.model, "data": self.data,
            "scoring": self.scoring, "device": self.device,
        }  # fmt: skip

    @property
    def run_id(self) -> str:
        """A readable, unique directory name: label, varied values, segment size, and a hash."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[
            :8
        ]
        values = "-".join(f"{name.split('.')[-1]}{value}" for name, value in self.varied.items())
        readable = "-".join(part for part in (self.label, values, f"{self.segment_ms}ms") if part)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in readable)
        return f"{safe}-{digest}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for ``result.json``)."""
        return {
            **self.identity(),
            "varied": self.varied,
            "threads": self.threads,
            "run_id": self.run_id,
        }


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = target
    for name in parents:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise ValueError(
                f"`vary.{dotted}` sets inside {name!r}, which `fixed` gives a plain value."
            )
    node[last] = value


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _check_policies(runs: Sequence[RunSpec]) -> None:
    """Build every run's policy once, so that a misspelt or invalid parameter fails the sweep
    at load, naming the grid entry, rather than every run one by one."""
    from policies import build_policy  # the registry loads plugins: only when expanding

    for run in runs:
        try:
            build_policy(run.policy, run.parameters)
        except ValueError as error:
            varied = ", ".join(f"{k}={v!r}" for k, v in run.varied.items()) or "no varied values"
            raise ValueError(
                f"sweep grid entry {run.label!r} ({varied}, segment_ms={run.segment_ms}): {error}"
            ) from None


def expand(config: SweepConfig) -> list[RunSpec]:
    """The runs of the grid, entry by entry, segment sizes outermost, in the order the YAML lists values."""
    runs: list[RunSpec] = []
    scoring = {
        "latency_metrics": list(config.latency_metrics),
        "computation_aware": config.computation_aware,
        "clock": config.clock,
    }
    data = OmegaConf.to_container(OmegaConf.structured(config.data), resolve=True)
    if not data.get("long_form"):
        data.pop("long_form", None)  # sentence-level runs keep the run ids they had before it
    for entry in config.grid:
        model = OmegaConf.to_container(
            OmegaConf.structured(entry.model or config.model), resolve=True
        )
        names = list(entry.vary)
        for segment_ms in entry.segment_ms:
            for values in itertools.product(*(list(entry.vary[name]) for name in names)):
                parameters = json.loads(json.dumps(_plain(entry.fixed)))  # a deep copy
                varied = {name: _plain(value) for name, value in zip(names, values, strict=True)}
                for name, value in varied.items():
                    _set_dotted(parameters, name, value)
                parameters["segment_ms"] = int(segment_ms)
                runs.append(
                    RunSpec(
                        label=entry.label, policy=entry.policy, parameters=parameters, varied=varied,
                        segment_ms=int(segment_ms), model=model, data=data, scoring=scoring,
                        device=config.device, threads=config.threads_per_run,
                    )
                )  # fmt: skip
    _check_policies(runs)
    ids = [run.run_id for run in runs]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"the grid lists the same run more than once: {duplicates}.")
    return runs


def load_sweep_config(path: Path, overrides: Sequence[str] = ()) -> SweepConfig:
    """The sweep config of YAML ``path`` with dotted ``key=value`` overrides applied in order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown key, a wrong type, a value left ``???``, or an invalid setting.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {path} does not exist.")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(SweepConfig), OmegaConf.load(path))
    except yaml.YAMLError as error:
        raise ValueError(f"sweep config {yaml_error_message(path, error)}") from None
    except (OmegaConfBaseException, ValueError) as error:
        raise ValueError(f"sweep config {path}: {error}") from None
    for override in overrides:
        if "=" not in override:
            raise ValueError(f"override {override!r} must be KEY=VALUE, e.g. workers=4.")
        try:
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist([override]))
        except OmegaConfBaseException as error:
            raise ValueError(f"override {override!r}: {error}") from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ValueError(f"sweep config {path} must set {missing}, but leaves them ??? instead.")
    try:
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ValueError(f"sweep config {path}: {error}") from None

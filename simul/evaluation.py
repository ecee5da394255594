"""Evaluate this model under this policy on this corpus into this folder: the one entry point.

Why one: ``simul eval``, the sweep's runs, the demo (through the sweep), the SimulEval agent,
``experiments/joint/evaluate.py`` and the notebooks all need the same steps, and a step done twice
drifts (a provenance key missing here, a check skipped there).  The steps:

1. :func:`read_test_set`: a corpus split as instances, and what the run records about it;
2. :func:`load_model` and :func:`build_run`: the streaming model (a checkpoint's, through its
   family, or the toy model) and the policy, with their provenance (:attr:`Run.description`);
   the agent stops here, SimulEval drives the loop;
3. :func:`evaluate`: :func:`~simul.streaming.simulate_corpus` (``instances.log``, resumable),
   :func:`~simul.eval.scoring.score`, and :func:`~simul.eval.report.write_scores`
   (``scores.tsv``, ``corpus_scores.tsv``, ``instance_scores.tsv``, ``scores.json`` with provenance).

Long form (``TestSet.long_form`` and ``EvaluationRequest.long_form``, ``simul eval --long-form``):
each instance is a whole talk (:func:`simul.data.talks.talks_from_segments`), streamed as one
utterance; ``instances.log`` then has one line per talk, and next to it ``segments.yaml`` (the
talks' gold segments, MuST-C's layout) and ``references.STREAM`` (one line per segment) are
written, the inputs of ``simul score --stream-laal`` and of ``simul score --scorer omnisteval``'s
long form.  The scores are StreamLAAL's (:func:`~simul.eval.stream_latency.score_stream_laal`):
each talk's output re-segmented into its gold segments, LAAL on each (``StreamLAAL``, and
``StreamLAAL_CA`` with ``computation_aware``), quality on the re-segmented text.

Example:
    >>> request = EvaluationRequest(
    ...     model=ModelRequest(checkpoint=Path("runs/train/best.pt")),
    ...     policy=PolicyRequest("waitk", {"k": 3}), output=Path("runs/eval/waitk3"))
    >>> instances, data, origins = read_test_set(TestSet(dir=Path("data/built/synth-small")))
    >>> result = evaluate(request, instances, data=data)
    >>> result.scores.corpus
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import torch

from policies import build_policy
from simul.config import check_positive_int
from simul.data.features.audio import corpus_conversions
from simul.data.instance import Instance
from simul.data.readers import detect_format, find_splits, read_corpus_split
from simul.data.talks import talks_from_segments
from simul.eval.records import InstanceOutput
from simul.eval.report import write_scores, wrote_nothing
from simul.eval.scoring import Scores, ScoringConfig, score
from simul.eval.stream_latency import score_stream_laal
from simul.eval.talk_references import read_talk_references
from simul.families.base import LoadedModel
from simul.families.loading import builtin_model, load_streaming_model
from simul.io import atomic_write_text, lock_directory
from simul.streaming import (
    DEFAULT_MAX_TOKENS,
    ElapsedClock,
    Policy,
    simulate_corpus,
    stream_references,
)

__all__ = [
    "EvaluationRequest",
    "EvaluationResult",
    "ModelRequest",
    "PolicyRequest",
    "Run",
    "TestSet",
    "build_run",
    "evaluate",
    "load_model",
    "read_test_set",
    "write_talk_references",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TestSet:
    """A corpus split to evaluate on (the ``simul eval`` data options)."""

    __test__ = False  # not a pytest test class

    dir: Path
    """The corpus directory."""
    format: str | None = None
    """Its layout (``mustc``, ``covost``, ``s2t``, ``simuleval``); ``None``: detected."""
    split: str = "test"
    """The split."""
    src_lang: str = "en"
    """The language of the speech."""
    tgt_lang: str | None = None
    """The language of the translation references; ``None``: every one the corpus has."""
    max_instances: int | None = None
    """Evaluate the first N instances (talks, in long form) only; ``None``: all."""
    long_form: bool = False
    """Whole talks instead of sentences (:func:`simul.data.talks.talks_from_segments`)."""


def read_test_set(test_set: TestSet) -> tuple[list[Instance], dict[str, Any], list[str]]:
    """The instances of ``test_set``, what a run records about them (``data`` provenance), and
    where each was listed (``path:line``, named when one fails).

    Raises:
        FileNotFoundError, ValueError: no such directory, an unknown layout or split, a bad
            ``max_instances``, or a split without instances.
    """
    root = Path(test_set.dir)
    corpus_format = test_set.format or detect_format(root)
    splits = find_splits(root, corpus_format)
    if test_set.split not in splits:
        raise ValueError(
            f"`--split` must be one of the splits of {root} ({corpus_format}): {splits}, "
            f"but is {test_set.split!r} instead."
        )
    items = read_corpus_split(
        root,
        corpus_format,
        test_set.split,
        src_lang=test_set.src_lang,
        tgt_langs=[test_set.tgt_lang] if test_set.tgt_lang else None,
    )
    instances = [item.instance for item in items]
    origin_of = {item.instance.id: item.origin for item in items}
    if test_set.long_form:
        instances = talks_from_segments(instances)
    if test_set.max_instances is not None:
        if test_set.max_instances < 1:
            raise ValueError(
                f"`--max-instances` must be >= 1, but is {test_set.max_instances} instead."
            )
        instances = instances[: test_set.max_instances]
    if not instances:
        raise ValueError(f"split {test_set.split!r} of {root} holds no instances.")
    # a talk is listed where its first sentence is
    origins = [origin_of[(i.segments or (i,))[0].id] for i in instances]
    data = {
        "dir": str(root),
        "format": corpus_format,
        "split": test_set.split,
        "src_lang": test_set.src_lang,
        "tgt_lang": test_set.tgt_lang,
        "num_instances": len(instances),
        "instances_first_last": [instances[0].id, instances[-1].id],
    }
    if test_set.long_form:
        data["long_form"] = True
        data["num_segments"] = sum(len(i.segments or ()) for i in instances)
    return instances, data, origins


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    """Which model: a checkpoint of ``simul train`` (any registered family), or a built-in one."""

    checkpoint: Path | None = None
    """The checkpoint; ``None``: the built-in model ``builtin``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The family's streaming options (``--set model.FIELD=VALUE``), or the built-in model's
    (``ToyConfig``, ``WhisperOptions`` fields)."""
    builtin: str = "toy"
    """Without a checkpoint: ``toy`` (:class:`~simul.streaming.toy.ToyModel`) or ``whisper``
    (:class:`~simul.families.whisper.streaming.WhisperStreamingModel`, a local pretrained model)."""
    device: str = "cpu"
    """The torch device the model runs on."""

    @property
    def name(self) -> str:
        """The built-in model's name, or the checkpoint's file stem (for default output folders)."""
        return self.builtin if self.checkpoint is None else Path(self.checkpoint).stem


def load_model(request: ModelRequest) -> LoadedModel:
    """The streaming model of ``request``."""
    if request.checkpoint is None:
        return builtin_model(request.builtin, request.options)
    return load_streaming_model(
        Path(request.checkpoint), options=request.options, device=request.device
    )


@dataclass(frozen=True)
class PolicyRequest:
    """Which policy: a registered name (built-in or plugin) and its field overrides."""

    name: str
    """The policy's name (:func:`policies.policy_names`)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Its fields (``--set policy.FIELD=VALUE``), ``segment_ms`` included."""


@dataclass(frozen=True, eq=False)
class Run:
    """A model and a policy ready for the loop, and the provenance both record.

    Attributes:
        loaded: the streaming model, its ``st`` language and its description.
        policy: the policy, checked against the model.
        policy_name: the name it was built from.
    """

    loaded: LoadedModel
    policy: Policy
    policy_name: str

    @property
    def description(self) -> dict[str, Any]:
        """``model`` and ``policy`` (name, class, every parameter), JSON-ready."""
        return {
            "model": self.loaded.description,
            "policy": {
                "name": self.policy_name,
                "class": type(self.policy).__name__,
                "parameters": self.policy.parameters(),
            },
        }


def build_run(model: ModelRequest, policy: PolicyRequest) -> Run:
    """The policy, then the model (so that a bad policy option fails before a checkpoint loads).

    Raises:
        ValueError, FileNotFoundError: a bad policy or option, or a bad checkpoint.
    """
    built = build_policy(policy.name, policy.options)
    return Run(loaded=load_model(model), policy=built, policy_name=policy.name)


@dataclass(frozen=True, kw_only=True)
class EvaluationRequest:
    """Evaluate ``model`` under ``policy`` into ``output`` (the instances come separately)."""

    model: ModelRequest
    """The model."""
    policy: PolicyRequest
    """The policy."""
    output: Path
    """The folder ``instances.log``, ``config.yaml`` and the scores go to."""
    target_lang: str | None = None
    """The ``st`` stream's reference language; ``None``: the checkpoint's, else each instance's only one."""
    max_tokens: int = DEFAULT_MAX_TOKENS
    """Most tokens per instance (per gold segment of a talk, in long form)."""
    clock: ElapsedClock = ElapsedClock.SIMULEVAL
    """How elapsed times are computed (``REAL_TIME`` for talks: SimulEval's grows without
    bound over a long stream)."""
    long_form: bool = False
    """The instances are whole talks (:attr:`TestSet.long_form`): write the segment references
    next to the log and score StreamLAAL (see the module doc)."""
    primary_stream: str | None = None
    """The stream SimulEval sees in ``instances.log``; ``None``: the model's first."""
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    """Which metrics, plain or computation-aware."""
    resume: bool | None = None
    """An interrupted run in ``output``: ``None`` continues it when its settings are this run's
    (else replaces it, with a warning naming what differs), ``True`` refuses other settings,
    ``False`` starts over."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        check_positive_int("max_tokens", self.max_tokens)


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """What :func:`evaluate` did.

    Attributes:
        run: the model and policy it ran.
        records: every instance's output, in corpus order.
        scores: corpus and instance scores, with signatures.
        written: the score files written.
        target_lang: the ``st`` references' language it used.
        inputs: the provenance recorded in ``scores.json`` (``inputs``).
    """

    run: Run
    records: list[InstanceOutput]
    scores: Scores
    written: list[Path]
    target_lang: str | None
    inputs: dict[str, Any]


def evaluate(
    request: EvaluationRequest,
    instances: Sequence[Instance],
    *,
    data: Mapping[str, Any],
    run: Run | None = None,
    extra: Mapping[str, Any] | None = None,
    origins: Sequence[str] | None = None,
) -> EvaluationResult:
    """Simulate ``instances``, score them, write logs, scores and provenance into ``request.output``.

    Args:
        request: what to run and how.
        instances: the test set, in order.
        data: what the run records about the test set (:func:`read_test_set`'s second value).
        run: the model and policy when the caller built them already (:func:`build_run`).
        extra: more provenance that does not make two runs different for ``resume`` (the
            command line's arguments, say).
        origins: where each instance was listed (:func:`read_test_set`'s third value), named
            when one fails.

    Raises:
        ValueError: a policy the model cannot serve, no instances, a ``resume`` of other settings.
    """
    talks = [instance.segments is not None for instance in instances]
    if request.long_form and not all(talks):
        raise ValueError(
            "`long_form` needs talk instances (read with `TestSet(long_form=True)`), but "
            f"instance {instances[talks.index(False)].id!r} is a sentence."
        )
    if not request.long_form and any(talks):
        raise ValueError(
            f"instance {instances[talks.index(True)].id!r} is a talk: set `long_form` to score it."
        )
    if run is None:
        run = build_run(request.model, request.policy)
    target_lang = request.target_lang or run.loaded.target_lang
    inputs: dict[str, Any] = {
        **run.description,
        "segment_ms": run.policy.segment_ms,
        "clock": request.clock.value,
        "max_tokens": request.max_tokens,
        "device": request.model.device,
        "torch_threads": torch.get_num_threads(),
        "data": dict(data),
        "target_lang": target_lang,
    }
    model_rate = run.loaded.model.sample_rate
    for note, count in corpus_conversions(instances, model_rate).items():
        logger.info(
            "the audio of %d of %d instances is %s for the model", count, len(instances), note
        )
    if request.long_form:
        inputs["long_form"] = True
    # One run per output folder: the lock is held until the scores are written (a second run
    # into the folder is refused instead of deleting this one's live .partial).
    with lock_directory(request.output, "simul eval"):
        records = simulate_corpus(
            run.loaded.model,
            run.policy,
            instances,
            request.output,
            target_lang=target_lang,
            max_tokens=request.max_tokens,
            clock=request.clock,
            primary_stream=request.primary_stream,
            resume=request.resume,
            progress=request.progress,
            identity=inputs,
            origins=origins,
        )
        if request.long_form:
            yaml_path, reference_paths = write_talk_references(
                request.output, instances, run.loaded.model.output_streams, target_lang
            )
            scores = score_stream_laal(
                records, read_talk_references(yaml_path, reference_paths), request.scoring
            ).scores
            inputs["segments_yaml"] = str(yaml_path)
            inputs["references"] = {k: str(v) for k, v in reference_paths.items()}
        else:
            scores = score(records, request.scoring)
        for stream, row in scores.corpus.iterrows():
            if wrote_nothing(row):
                logger.warning(
                    "stream %s: none of the %d instances wrote any output, so it has no latency "
                    "(an untrained model, or a policy that never writes)", stream, len(records),
                )  # fmt: skip
        inputs = {**inputs, **dict(extra or {})}
        written = write_scores(request.output, scores, **inputs)
    logger.info("wrote %s/instances.log and %s", request.output, ", ".join(str(p) for p in written))
    return EvaluationResult(
        run=run, records=records, scores=scores, written=written, target_lang=target_lang,
        inputs=inputs,
    )  # fmt: skip


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.\-]*")  # a plain YAML scalar in flow style


def _seconds(num_samples: int, sample_rate: int) -> str:
    """Decimal seconds of a sample count, without exponent (exact at 16 kHz: ``"2.5375"``)."""
    return format((Decimal(num_samples) / sample_rate).normalize(), "f")


def write_talk_references(
    directory: Path, talks: Sequence[Instance], streams: Sequence[str], target_lang: str | None
) -> tuple[Path, dict[str, Path]]:
    """Write the talks' gold segments as ``directory/segments.yaml`` and ``references.STREAM``.

    Why: ``simul score --stream-laal`` and ``--scorer omnisteval``'s long form read a MuST-C
    segment list and one reference file per stream; a run limited to some talks (or a corpus in
    another layout) has no such files of its own, so the run writes the ones it was scored on.

    Args:
        directory: where the files go (the run's output folder).
        talks: talk instances (:attr:`~simul.data.instance.Instance.segments` set).
        streams: the model's output streams (a file each, where the segments have references).
        target_lang: the ``st`` stream's language (:func:`~simul.streaming.stream_references`).

    Returns:
        The segment list's path and the reference files by stream.
    """
    lines: list[str] = []
    texts: dict[str, list[str]] = {stream: [] for stream in streams}
    for talk in talks:
        name = talk.audio_path.name
        wav = name if _PLAIN_NAME.fullmatch(name) else json.dumps(name)
        for segment in talk.segments or ():
            offset = _seconds(segment.offset_samples - talk.offset_samples, talk.sample_rate)
            duration = _seconds(segment.num_samples, talk.sample_rate)
            lines.append(f"- {{duration: {duration}, offset: {offset}, wav: {wav}}}\n")
            references = stream_references(segment, tuple(streams), target_lang)
            for stream in streams:
                texts[stream].append(" ".join((references[stream] or "").split()))
    yaml_path = Path(directory) / "segments.yaml"
    atomic_write_text(yaml_path, "".join(lines))
    paths: dict[str, Path] = {}
    for stream, stream_texts in texts.items():
        if not any(stream_texts):
            continue  # no references for this stream (e.g. no translation of that language)
        paths[stream] = Path(directory) / f"references.{stream}"
        atomic_write_text(paths[stream], "".join(text + "\n" for text in stream_texts))
    if not paths:
        raise ValueError(f"the talks' segments have no reference for any of the streams {streams}.")
    return yaml_path, paths

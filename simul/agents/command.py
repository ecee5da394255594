"""The ``simuleval`` command that reproduces a ``simul eval`` run, and the files it reads.

``simul eval ... --simuleval`` calls :func:`write_simuleval_run` after its own run: it writes
into ``OUTPUT/simuleval/``

- ``source.txt``: one wav per instance (absolute paths; SimulEval reads one file per line).  An
  instance that is a whole mono file at the model's rate is listed as is; any other (a segment of
  a talk, as in MuST-C, or another rate or channel count) is written to ``wav/`` exactly as
  ``simul eval`` fed it to the model (16-bit PCM when that is lossless, else 32-bit float), so
  SimulEval sends the very same samples;
- ``reference.STREAM``: each stream's references, one per line (the primary stream's is
  SimulEval's ``--target``, the others go to the agent's ``--reference`` for simul's own log);
- ``command.sh``: the command, which writes SimulEval's output to ``OUTPUT/simuleval/output``
  (and simul's multi-stream log to ``OUTPUT/simuleval/output/simul``).

The command maps every ``simul eval`` option that changes the result: the model, the policy and
its ``--set`` overrides, the segment size (SimulEval's ``--source-segment-size``), the primary
stream, ``--max-tokens``, ``--clock``, ``--device``, and the metrics SimulEval has: all latency
metrics, BLEU and WER among the quality ones (default: WER for an ``asr`` primary stream, else
BLEU; SimulEval has no chrF, TER or CER), and ``--computation-aware`` (beware SimulEval issue 44:
its plain columns then hold the computation-aware values; simul's do not).
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tqdm import tqdm

from simul.data.features.audio import load_waveform
from simul.data.instance import Instance
from simul.eval.scoring import default_quality_metrics
from simul.io import atomic_write_text
from simul.logs import progress_bar_disabled
from simul.streaming import Policy, StreamingModel, stream_references

__all__ = [
    "AGENT_CLASS",
    "SIMULEVAL_QUALITY_METRICS",
    "SimulEvalInputs",
    "simuleval_command",
    "simuleval_quality_metrics",
    "write_simuleval_inputs",
    "write_simuleval_run",
]

#: How ``simuleval --agent-class`` names simul's agent.
AGENT_CLASS = "simul.agents.SimulSpeechAgent"

#: The quality metrics of simul that SimulEval 1.1.4 also has.
SIMULEVAL_QUALITY_METRICS = ("BLEU", "WER")

_PCM16_SCALE = 32768.0


@dataclass(frozen=True)
class SimulEvalInputs:
    """The files a ``simuleval`` run reads.

    Attributes:
        source_list: one wav path per line.
        reference_files: by stream, one reference per line (streams without any are left out).
    """

    source_list: Path
    reference_files: dict[str, Path]


def _is_whole_file(instance: Instance, sample_rate: int) -> bool:
    """Whether SimulEval reading ``instance.audio_path`` gets the samples ``simul eval`` used."""
    if instance.offset_samples != 0 or instance.sample_rate != sample_rate:
        return False
    info = soundfile.info(str(instance.audio_path))
    return (
        info.channels == 1
        and info.frames == instance.num_samples
        and info.samplerate == sample_rate
    )


def _write_wav(path: Path, waveform: np.ndarray, sample_rate: int) -> None:
    """Write (N,) float32 samples so that ``soundfile.read(dtype="float32")`` returns them exactly."""
    scaled = waveform.astype(np.float64) * _PCM16_SCALE
    lossless = bool(np.all(scaled == np.round(scaled)) and scaled.min() >= -_PCM16_SCALE
                    and scaled.max() < _PCM16_SCALE)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    soundfile.write(temporary, waveform, sample_rate, subtype="PCM_16" if lossless else "FLOAT",
                    format="WAV")  # fmt: skip
    temporary.replace(path)


def write_simuleval_inputs(
    directory: Path,
    instances: Sequence[Instance],
    references: Sequence[Mapping[str, str | None]],
    *,
    sample_rate: int,
    progress: bool = True,
) -> SimulEvalInputs:
    """Write the source list, wavs and reference files of ``instances`` (see the module doc).

    Args:
        directory: created if missing.
        instances: the test set, in order.
        references: for each instance, the reference of each stream (``None``: none).
        sample_rate: the model's rate, in Hz: the samples ``simul eval`` fed it.
        progress: show a progress bar while wavs are written.
    """
    if len(references) != len(instances):
        raise ValueError(
            f"`references` must give one mapping per instance ({len(instances)}), "
            f"but gives {len(references)}."
        )
    directory = Path(directory).resolve()
    paths = []
    for index, instance in enumerate(
        tqdm(instances, desc="simuleval wavs", unit="utt", disable=progress_bar_disabled(progress))
    ):
        if _is_whole_file(instance, sample_rate):
            paths.append(str(Path(instance.audio_path).resolve()))
            continue
        waveform = load_waveform(instance, sample_rate).numpy()
        name = re.sub(r"[^\w.-]", "_", instance.id)
        path = directory / "wav" / f"{index:07d}_{name}.wav"
        _write_wav(path, waveform, sample_rate)
        paths.append(str(path))
    source_list = directory / "source.txt"
    atomic_write_text(source_list, "".join(p + "\n" for p in paths))
    files = {}
    streams = list(dict.fromkeys(stream for refs in references for stream in refs))
    for stream in streams:
        lines = [refs.get(stream) for refs in references]
        if all(line is None for line in lines):
            continue
        for index, line in enumerate(lines):
            if line is not None and "\n" in line:
                raise ValueError(
                    f"the `{stream}` reference of instance {index} spans several lines."
                )
        files[stream] = directory / f"reference.{stream}"
        atomic_write_text(files[stream], "".join((line or "") + "\n" for line in lines))
    return SimulEvalInputs(source_list=source_list, reference_files=files)


def simuleval_quality_metrics(
    quality_metrics: Sequence[str] | None, primary_stream: str
) -> tuple[str, ...]:
    """The quality metrics a ``simuleval`` run computes for ``simul eval``'s choice (module doc)."""
    wanted = default_quality_metrics(primary_stream) if quality_metrics is None else quality_metrics
    known = tuple(name for name in wanted if name in SIMULEVAL_QUALITY_METRICS)
    if known:
        return known
    return ("WER",) if primary_stream == "asr" else ("BLEU",)


def simuleval_command(
    *,
    inputs: SimulEvalInputs,
    model_options: Sequence[str],
    policy: str,
    overrides: Sequence[str],
    segment_ms: int,
    primary_stream: str,
    max_tokens: int,
    clock: str,
    device: str,
    latency_metrics: Sequence[str],
    quality_metrics: Sequence[str],
    computation_aware: bool,
    output: Path,
) -> list[str]:
    """The ``simuleval`` argument list that runs simul's agent on ``inputs``.

    Args:
        inputs: the source list and reference files (:func:`write_simuleval_inputs`).
        model_options: ``["--checkpoint", PATH]`` or ``["--model", "toy"]``.
        policy: the policy's name.
        overrides: ``--set`` items (``policy.k=3``, ``model.beam_size=2``), in order.
        segment_ms: the source segment size.
        primary_stream: the stream SimulEval sees; it needs a reference file in ``inputs``.
        max_tokens: most tokens per instance.
        clock: the elapsed clock of simul's own log.
        device: the torch device.
        latency_metrics: SimulEval's ``--latency-metrics``.
        quality_metrics: SimulEval's ``--quality-metrics``.
        computation_aware: add SimulEval's ``--computation-aware``.
        output: SimulEval's ``--output`` directory.
    """
    if primary_stream not in inputs.reference_files:
        raise ValueError(
            f"the primary stream {primary_stream!r} has no references, which SimulEval's "
            f"--target needs; streams with references: {sorted(inputs.reference_files)}."
        )
    command = ["simuleval", "--agent-class", AGENT_CLASS, *model_options, "--policy", policy]
    for item in overrides:
        command += ["--set", item]
    command += [
        "--primary-stream",
        primary_stream,
        "--max-tokens",
        str(max_tokens),
        "--clock",
        clock,
    ]
    for stream, path in inputs.reference_files.items():
        if stream != primary_stream:
            command += ["--reference", f"{stream}={path}"]
    command += [
        "--source", str(inputs.source_list),
        "--target", str(inputs.reference_files[primary_stream]),
        "--source-segment-size", str(segment_ms),
        "--device", device,
        "--quality-metrics", *quality_metrics,
        "--latency-metrics", *latency_metrics,
    ]  # fmt: skip
    if computation_aware:
        command.append("--computation-aware")
    command += ["--output", str(output)]
    return command


def write_simuleval_run(
    args: argparse.Namespace,
    instances: Sequence[Instance],
    model: StreamingModel[Any],
    policy: Policy,
    output: Path,
    target_lang: str | None,
) -> str:
    """For ``simul eval --simuleval``: write the inputs and ``command.sh``; return the command.

    Args:
        args: ``simul eval``'s parsed arguments.
        instances: the instances it evaluated, in order.
        model: its streaming model.
        policy: its policy (``segment_ms`` is the segment size it ran with).
        output: its output directory; the files go to ``output/simuleval``.
        target_lang: the language of the ``st`` stream's references.
    """
    directory = (Path(output) / "simuleval").resolve()
    streams = model.output_streams
    references = [stream_references(instance, streams, target_lang) for instance in instances]
    inputs = write_simuleval_inputs(
        directory,
        instances,
        references,
        sample_rate=model.sample_rate,
        progress=not args.no_progress,
    )
    if args.model is not None:
        model_options = ["--model", args.model]
    else:
        model_options = ["--checkpoint", str(Path(args.checkpoint).resolve())]
    primary = args.primary_stream if args.primary_stream is not None else streams[0]
    command = simuleval_command(
        inputs=inputs,
        model_options=model_options,
        policy=args.policy,
        overrides=args.overrides,
        segment_ms=policy.segment_ms,
        primary_stream=primary,
        max_tokens=args.max_tokens,
        clock=args.clock,
        device=args.device,
        latency_metrics=args.latency_metrics,
        quality_metrics=simuleval_quality_metrics(args.quality_metrics, primary),
        computation_aware=args.computation_aware,
        output=directory / "output",
    )
    line = shlex.join(command)
    atomic_write_text(directory / "command.sh", line + "\n")
    return line

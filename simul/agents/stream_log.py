"""simul's own multi-stream ``instances.log`` of a SimulEval run, written by the agent beside SimulEval's.

Why: SimulEval sees one output stream (``--primary-stream``), but a joint ASR/ST model writes two,
and both must be scored.  The agent keeps every finished utterance's record (every stream, with
the delays simul's loop gave each word) and writes ``DIR/instances.log`` + ``config.yaml``
(:func:`simul.eval.log_io.write_instances_log`, SimulEval-rescorable: the primary stream is the
plain SimulEval line) and ``DIR/agent.json`` (what ran: model, policy, settings, versions).
``simul score DIR`` then scores every stream.  ``DIR`` is ``OUTPUT/simul`` by default.

Which instance is which: SimulEval does not tell an agent the index of the instance it streams,
but it runs them in order from its start index and resets the agent after each one, so the n-th
finished utterance is instance ``start + n``.  The start is SimulEval's ``--start-index``, or with
``--continue-unfinished`` the index after the last line of SimulEval's ``OUTPUT/instances.log``
(computed as SimulEval computes it, before SimulEval opens the file); records of an earlier run
below the start are kept.

References: the primary stream's are SimulEval's ``--target`` file, another stream's come from
``--reference STREAM=FILE``; lines are stripped, as SimulEval's speech loader strips them.

The log is rewritten (atomically) after every utterance, so that it is complete up to the last
finished utterance whenever the run stops.  That is quadratic in the number of utterances, but
cheap next to the model: rewriting 2,641 records (MuST-C tst-COMMON's size, two streams of 20
words) took 0.09 s here.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

from simul.eval.log_io import read_instances_log, write_instances_log
from simul.eval.records import InstanceOutput
from simul.io import atomic_write_text
from simul.provenance import provenance
from simul.streaming import UtteranceResult

__all__ = ["SimulStreamLog", "open_stream_log"]


def _read_lines(path: Path, what: str) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist.")
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f]


def _simuleval_start_index(args: argparse.Namespace, output: Path | None) -> int:
    """The index SimulEval starts at (``SentenceLevelEvaluator.__init__``, 1.1.4)."""
    start = int(getattr(args, "start_index", 0) or 0)
    log = output / "instances.log" if output is not None else None
    if getattr(args, "continue_unfinished", False) and log is not None and log.is_file():
        last = None
        with open(log, encoding="utf-8") as f:
            for line in f:
                last = line
        if last is not None and last.strip():
            start = int(json.loads(last)["index"]) + 1
    return start


@final
class SimulStreamLog:
    """The records of a SimulEval run, every stream, rewritten after each utterance.

    Args:
        directory: where ``instances.log``, ``config.yaml`` and ``agent.json`` go.
        primary_stream: the stream SimulEval sees (the plain line of the log).
        references: by stream, one reference per instance (corpus order).
        sources: the audio path of each instance, or ``None`` when unknown.
        start_index: the index of the first instance this run streams.
        kept: records of an earlier run (indices below ``start_index``) to keep.
    """

    def __init__(
        self,
        directory: Path,
        *,
        primary_stream: str,
        references: Mapping[str, list[str]],
        sources: list[str] | None,
        start_index: int,
        kept: list[InstanceOutput] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.primary_stream = primary_stream
        self.references = dict(references)
        self.sources = sources
        self.next_index = start_index
        self.records: list[InstanceOutput] = list(kept or [])

    def add(self, result: UtteranceResult) -> InstanceOutput:
        """Record the next instance's result and rewrite the log."""
        index = self.next_index
        references: dict[str, str | None] = {}
        for stream, lines in self.references.items():
            if index >= len(lines):
                raise ValueError(
                    f"instance {index} has no reference for stream {stream!r}: its reference "
                    f"file has {len(lines)} lines."
                )
            references[stream] = lines[index]
        source = (
            self.sources[index] if self.sources is not None and index < len(self.sources) else None
        )
        record = result.to_instance_output(index, references=references, source=source)
        self.records.append(record)
        self.next_index += 1
        write_instances_log(self.directory, self.records, primary_stream=self.primary_stream)
        return record


def open_stream_log(
    args: argparse.Namespace,
    *,
    primary_stream: str,
    reference_files: Mapping[str, Path],
    description: Mapping[str, Any],
) -> SimulStreamLog | None:
    """The log of this SimulEval run (see the module doc), or ``None`` without an output directory.

    Args:
        args: SimulEval's parsed arguments (``output``, ``target``, ``source``, ``start_index``,
            ``continue_unfinished``) and the agent's (``simul_output``).
        primary_stream: the stream SimulEval sees; its references are SimulEval's ``--target``.
        reference_files: the other streams' reference files.
        description: what runs (written to ``agent.json`` with the software versions).
    """
    output = Path(args.output) if getattr(args, "output", None) else None
    directory = args.simul_output or (output / "simul" if output is not None else None)
    if directory is None:
        return None
    files = dict(reference_files)
    target = getattr(args, "target", None)
    if target and primary_stream not in files:
        files[primary_stream] = Path(target)
    references = {
        stream: _read_lines(path, f"`{stream}` reference") for stream, path in files.items()
    }
    source_list = getattr(args, "source", None)
    sources = _read_lines(Path(source_list), "source list") if source_list else None
    if sources is not None:
        for stream, lines in references.items():
            if len(lines) != len(sources):
                raise ValueError(
                    f"the `{stream}` references {files[stream]} must have one line per entry of "
                    f"{source_list} ({len(sources)}), but have {len(lines)}."
                )
    start = _simuleval_start_index(args, output)
    kept: list[InstanceOutput] = []
    resuming = getattr(args, "continue_unfinished", False)
    if resuming and (Path(directory) / "instances.log").is_file():
        kept = [r for r in read_instances_log(directory, source_type="speech") if r.index < start]
    atomic_write_text(
        Path(directory) / "agent.json",
        json.dumps(provenance(agent=dict(description)), indent=2, sort_keys=True) + "\n",
    )
    return SimulStreamLog(
        directory,
        primary_stream=primary_stream,
        references=references,
        sources=sources,
        start_index=start,
        kept=kept,
    )

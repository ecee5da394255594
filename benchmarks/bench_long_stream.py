"""Benchmark: memory and compute per second of audio over one long unsegmented stream.

Why: a model run on whole talks (``simul eval --long-form``) must cost the same in its tenth
minute as in its first, or it cannot run on live speech.  The transducer's encoder attends to a
bounded left context (``num_left_chunks``) and its predictor to a bounded history (stateless: the
last few tokens; LSTM: one state), so it should need nothing more; an attention encoder-decoder
without history selection keeps every encoder frame (its encoder caches, the decoder's memory)
and re-decodes its whole written prefix after every segment, so it should grow.

Each model streams ``--minutes`` of audio through the one loop (:class:`StreamingSession`, one
``push`` per ``--segment-ms`` segment, one torch thread by default); per minute of audio the script
prints the CPU time per second of audio in that minute (the compute, without the machine's other
load), the process's resident memory at the minute's end, and the bytes of every tensor reachable
from the model's state (its caches: encoder layers, predictor, decoder memory, frames kept) with the
number of tokens written so far.  Audio: the test split's talk wavs of ``--corpus``, one after
the other (cycled when shorter), or white noise without it.

Models:

- ``transducer``: ``--transducer-checkpoint`` (a ``simul train`` checkpoint; its family's streaming
  model, native ``transducer`` policy), or the ``small`` preset with random weights;
- ``aed``: the AED family's ``small`` preset (unlimited left context, as its recipe) with random
  weights, step decoding, wait-k (k = 2 segments, every piece committed as written:
  ``whole_words=False``, else a random model's pieces that never start a word would all be taken
  back): no history selection.  The special tokens'
  (tied) embeddings are zeroed, so that it writes ordinary pieces (a random AED otherwise writes
  ``<s>`` or its end of sentence, and its prefix would not grow as a real model's does);
- ``streamatt``: the same AED with StreamAtt's history selection (``decoding.history``: the last
  20 words kept as prefix, the audio before the earliest frame they attend to most dropped).

    bash .ci/venv python benchmarks/bench_long_stream.py --minutes 10 \
        --corpus data/built/synth-small --transducer-checkpoint runs/asr_tt_small/checkpoints/best.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import numpy as np
import soundfile
import torch
from typing_extensions import override

from policies import TransducerEmission, WaitK
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.aed.model import AttentionEncoderDecoder
from simul.families.aed.model import small as aed_small
from simul.families.aed.streaming import AedOptions, aed_streaming_model
from simul.families.loading import load_streaming_model
from simul.families.transducer.model import Transducer
from simul.families.transducer.model import small as transducer_small
from simul.families.transducer.search import SearchConfig
from simul.families.transducer.streaming import TransducerStreamingModel
from simul.streaming import Policy, Requirements, Signals, StreamingModel, StreamingSession, Token
from simul.streaming.attention_decoder import DecodingConfig, DecodingMode
from simul.streaming.history import HistoryConfig, TextHistory
from simul.streaming.signals import SignalRequest

SAMPLE_RATE = 16_000
_TEXTS = ["the cat sleeps on the mat", "a big dog runs in the park", "we see the green tree"]


def _tensor_bytes(value: Any, seen: set[int]) -> int:
    """Bytes of every tensor reachable from ``value`` (dataclasses, sequences, dicts), each once."""
    if isinstance(value, torch.Tensor):
        key = value.untyped_storage().data_ptr()
        if key in seen:
            return 0
        seen.add(key)
        return value.untyped_storage().nbytes()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = (getattr(value, f.name) for f in dataclasses.fields(value))
        return sum(_tensor_bytes(item, seen) for item in fields)
    if isinstance(value, (tuple, list)):
        return sum(_tensor_bytes(item, seen) for item in value)
    if isinstance(value, dict):
        return sum(_tensor_bytes(item, seen) for item in value.values())
    if hasattr(value, "__dict__") and not isinstance(value, (torch.nn.Module, type)):
        return sum(_tensor_bytes(item, seen) for item in vars(value).values())
    return 0


def _rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


@final
class _Watched(StreamingModel[Any]):
    """A streaming model that remembers the last state it returned (to measure its size)."""

    def __init__(self, inner: StreamingModel[Any]) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.output_streams = inner.output_streams
        self.state: Any = None

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        return self.inner.capabilities

    @override
    def new_state(self) -> Any:
        self.state = self.inner.new_state()
        return self.state

    @override
    def read(self, state: Any, samples: torch.Tensor, *, source_finished: bool) -> Any:
        self.state = self.inner.read(state, samples, source_finished=source_finished)
        return self.state

    @override
    def signals(self, state: Any, requirements: Requirements) -> Signals:
        return self.inner.signals(state, requirements)

    @override
    def write(self, state: Any, tokens: Sequence[Token]) -> Any:
        self.state = self.inner.write(state, tokens)
        return self.state

    @override
    def check_requirements(self, requirements: Requirements) -> None:
        self.inner.check_requirements(requirements)


@dataclass(frozen=True)
class MinuteRow:
    """One minute of audio of one model."""

    model: str
    minute: int
    cpu_ms_per_audio_s: float
    wall_ms_per_audio_s: float
    rss_mb: float
    state_kb: float
    tokens_written: int


def _audio(minutes: float, corpus: Path | None, seed: int) -> Iterator[np.ndarray]:
    """Chunks of the stream: the corpus' test talks in order (cycled), or white noise."""
    total = int(minutes * 60 * SAMPLE_RATE)
    if corpus is None:
        rng = np.random.default_rng(seed)
        for start in range(0, total, SAMPLE_RATE * 10):
            size = min(SAMPLE_RATE * 10, total - start)
            yield (0.05 * rng.standard_normal(size)).astype(np.float32)
        return
    wavs = sorted((corpus / "test" / "wav").glob("*.wav"))
    if not wavs:
        raise ValueError(f"`--corpus` must hold test/wav/*.wav, but {corpus} has none.")
    sent = 0
    while sent < total:
        for wav in wavs:
            samples, rate = soundfile.read(wav, dtype="float32")
            if rate != SAMPLE_RATE:
                raise ValueError(f"{wav} must be at {SAMPLE_RATE} Hz, but is at {rate} Hz.")
            samples = samples[: total - sent]
            sent += samples.shape[0]
            yield samples
            if sent >= total:
                return


def _stream(
    name: str, model: StreamingModel[Any], policy: Policy, args: argparse.Namespace
) -> list[MinuteRow]:
    """Stream the audio through the loop; one row per minute of audio."""
    watched = _Watched(model)
    session = StreamingSession(watched, policy, max_tokens=10**9)
    segment = SAMPLE_RATE * args.segment_ms // 1000
    minute = SAMPLE_RATE * 60
    audio = np.concatenate(list(_audio(args.minutes, args.corpus, args.seed)))
    rows: list[MinuteRow] = []
    cpu = wall = 0.0
    row_start = 0  # the sample where the current row's minute began
    deadline = time.perf_counter() + args.max_seconds
    for start in range(0, audio.shape[0], segment):
        chunk = torch.from_numpy(audio[start : start + segment])
        last = start + segment >= audio.shape[0]
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        session.push(chunk, source_finished=last)
        cpu += time.process_time() - cpu_start
        wall += time.perf_counter() - wall_start
        end = min(start + segment, audio.shape[0])
        if end >= (len(rows) + 1) * minute or last:
            seconds = (end - row_start) / SAMPLE_RATE
            rows.append(
                MinuteRow(
                    model=name,
                    minute=len(rows) + 1,
                    cpu_ms_per_audio_s=1000 * cpu / seconds,
                    wall_ms_per_audio_s=1000 * wall / seconds,
                    rss_mb=_rss_bytes() / 2**20,
                    state_kb=_tensor_bytes(watched.state, set()) / 1024,
                    tokens_written=len(session.progress.committed),
                )
            )
            print(_format_row(rows[-1]), flush=True)
            cpu = wall = 0.0
            row_start = end
            if time.perf_counter() > deadline and not last:
                print(f"# {name}: stopped after minute {len(rows)} (--max-seconds)", flush=True)
                break
    return rows


def _tokenizer(directory: Path) -> Tokenizer:
    spm = train_sentencepiece(
        directory / "spm", SpmConfig(vocab_size=32, model_type="char"), texts=_TEXTS
    )
    return Tokenizer(spm.model_path)


def _transducer(args: argparse.Namespace, tokenizer: Tokenizer) -> tuple[StreamingModel[Any], str]:
    if args.transducer_checkpoint is not None:
        options = {"restart_after_sentence_end": args.restart_after_sentence_end}
        loaded = load_streaming_model(args.transducer_checkpoint, options=options)
        restart = (
            ", predictor restarted after each sentence end"
            if args.restart_after_sentence_end
            else ""
        )
        return loaded.model, f"transducer (trained: {args.transducer_checkpoint}{restart})"
    config = dataclasses.replace(
        transducer_small(), vocab_size=tokenizer.vocab_size, blank_id=tokenizer.pad_id
    )
    torch.manual_seed(args.seed)
    model = TransducerStreamingModel(
        Transducer(config).eval(), tokenizer, fbank=FbankConfig(), cmvn=None, search=SearchConfig(),
        streams=("asr",),
    )  # fmt: skip
    return model, "transducer (small preset, random weights)"


def _aed(
    args: argparse.Namespace, tokenizer: Tokenizer, *, streamatt: bool = False
) -> tuple[StreamingModel[Any], str]:
    config = dataclasses.replace(
        aed_small(), vocab_size=tokenizer.vocab_size, eos_id=tokenizer.eos_id
    )
    torch.manual_seed(args.seed)
    history = HistoryConfig(text=TextHistory.WORDS if streamatt else TextHistory.ALL, words=20)
    options = AedOptions(decoding=DecodingConfig(mode=DecodingMode.STEP, history=history))
    network = AttentionEncoderDecoder(config).eval()
    with torch.no_grad():
        network.decoder.embedding.weight[:4] = (
            0.0  # <s>, <pad>, </s>, <unk>: logit 0, never the best
        )
    model = aed_streaming_model(
        network,
        tokenizer,
        fbank=FbankConfig(),
        cmvn=None,
        options=options,
    )
    if streamatt:
        return model, "streamatt (the aed, last 20 words kept, audio cut by their attention)"
    return (
        model,
        "aed (small preset, random weights, step decoding, wait-k 2, no history selection)",
    )


def _format_row(row: MinuteRow) -> str:
    return (
        f"| {row.model} | {row.minute} | {row.cpu_ms_per_audio_s:.1f} | {row.wall_ms_per_audio_s:.1f} "
        f"| {row.rss_mb:.0f} | {row.state_kb:.0f} | {row.tokens_written} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio per model (default 10)")
    parser.add_argument("--segment-ms", type=int, default=320, help="source segment (default 320)")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="a corpus whose test talks are the audio"
    )
    parser.add_argument("--transducer-checkpoint", type=Path, default=None)
    parser.add_argument(
        "--restart-after-sentence-end",
        action="store_true",
        help="the transducer's predictor starts over after a sentence end (SearchConfig)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=("transducer", "aed", "streamatt"),
        default=["transducer", "aed", "streamatt"],
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=1200.0,
        help="stop a model after the minute that passes this much wall time",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    if len(args.models) > 1:  # one process per model, so that each RSS is its own
        for name in args.models:
            child = [sys.executable, __file__, "--models", name, "--minutes", str(args.minutes),
                     "--segment-ms", str(args.segment_ms), "--threads", str(args.threads),
                     "--max-seconds", str(args.max_seconds), "--seed", str(args.seed)]  # fmt: skip
            if args.restart_after_sentence_end:
                child.append("--restart-after-sentence-end")
            for flag, value in (("--corpus", args.corpus),
                                ("--transducer-checkpoint", args.transducer_checkpoint),
                                ("--json", args.json and args.json.with_suffix(f".{name}.json"))):  # fmt: skip
                if value is not None:
                    child += [flag, str(value)]
            subprocess.run(child, check=True)
        return 0
    torch.set_num_threads(args.threads)
    rows: list[MinuteRow] = []
    with tempfile.TemporaryDirectory() as directory:
        tokenizer = _tokenizer(Path(directory))
        for name in args.models:
            if name == "transducer":
                model, label = _transducer(args, tokenizer)
                policy: Policy = TransducerEmission(segment_ms=args.segment_ms)
            else:
                model, label = _aed(args, tokenizer, streamatt=name == "streamatt")
                policy = WaitK(k=2, segment_ms=args.segment_ms, whole_words=False)
            print(f"# {label}; {args.minutes} min of {'corpus talks' if args.corpus else 'noise'}, "
                  f"{args.segment_ms} ms segments, {args.threads} thread(s)")  # fmt: skip
            print(
                "| model | minute | CPU ms / audio s | wall ms / audio s | RSS MB | state KB | tokens |"
            )
            print("|---|---|---|---|---|---|---|", flush=True)
            with torch.inference_mode():
                rows += _stream(name, model, policy, args)
    if args.json is not None:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

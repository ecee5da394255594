"""Benchmark: the AED in the loop, incremental encoder vs re-encoding all the audio at every segment.

The attention encoder-decoder's streaming adapter (:mod:`simul.families.aed.streaming`) turns audio into
encoder frames in one of two documented modes; this script prices them on the same ``--seconds``
of audio through the one loop (:func:`simul.streaming.simulate_waveform`), wait-k (k=3, one token
per 320 ms segment, ``decoding.mode=step`` so that decoding is the same small cost in every mode):

- ``chunked/incremental``: the AED ``small`` preset (320 ms chunks, all left context), encoder
  streamed with per-layer caches (each segment costs one chunk of encoder work);
- ``chunked/reencode``: the same model, ``Encoder.forward`` on all the audio received after every
  segment, complete chunks kept (FBK's agents' ``update_model_encoder``); it must write exactly
  what ``incremental`` writes, only slower (checked);
- ``full/reencode``: the same sizes with a full-context encoder (``chunk_size_frames: null``), the
  only way to run an offline encoder simultaneously.

Random weights (cost does not depend on them); ``--max-len-a`` caps the untrained decoder's
output.  Prints total loop time, time spent in the front end (fbank + encoder + memory), the cost
of a segment at the start and at the end of the input, and the ratios against ``incremental``
measured in the same run.

    bash .ci/venv python benchmarks/bench_aed_reencode.py --threads 1
    bash .ci/venv python benchmarks/bench_aed_reencode.py --seconds 60 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch

from policies import WaitK
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.families.aed.model import AttentionEncoderDecoder, small
from simul.families.aed.streaming import AedOptions, EncoderMode, aed_streaming_model
from simul.io import atomic_write_text
from simul.streaming import simulate_waveform
from simul.streaming.attention_decoder import DecodingConfig, DecodingMode

_TEXTS = ["die katze schläft", "der hund läuft schnell", "ein großes haus", "wir sehen den baum"]


class _TimedRead:
    """Wraps a backend's ``read`` to add up the seconds spent in the front end, per segment."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.inner = backend.read
        self.seconds: list[float] = []
        backend.read = self

    def __call__(self, state, samples, *, source_finished):
        start = time.perf_counter()
        out = self.inner(state, samples, source_finished=source_finished)
        self.seconds.append(time.perf_counter() - start)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="audio length, in s (default 60)")
    parser.add_argument("--segment-ms", type=int, default=320, help="source segment, in ms (320)")
    parser.add_argument(
        "--max-len-a", type=float, default=0.05, help="decoder tokens per frame cap (0.05)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--spm-dir", type=Path, default=Path("/tmp/simul-bench-aed"),
                        help="where the benchmark's tiny SentencePiece model is written")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    spm = train_sentencepiece(
        args.spm_dir / "spm", SpmConfig(vocab_size=30, model_type="char"), texts=_TEXTS
    )
    tokenizer = Tokenizer(spm.model_path)
    chunked = dataclasses.replace(small(), vocab_size=tokenizer.vocab_size)
    full = dataclasses.replace(
        chunked, encoder=dataclasses.replace(chunked.encoder, chunk_size_frames=None)
    )
    torch.manual_seed(0)
    chunked_model = AttentionEncoderDecoder(chunked).to(args.device).eval()
    full_model = AttentionEncoderDecoder(full).to(args.device).eval()
    full_model.load_state_dict(chunked_model.state_dict())  # same weights, only the mask differs
    decoding = DecodingConfig(mode=DecodingMode.STEP, max_len_a=args.max_len_a, max_len_b=5)
    setups = {
        "chunked/incremental": (chunked_model, EncoderMode.INCREMENTAL),
        "chunked/reencode": (chunked_model, EncoderMode.REENCODE),
        "full/reencode": (full_model, EncoderMode.REENCODE),
    }
    policy = WaitK(k=3, segment_ms=args.segment_ms, whole_words=False)
    waveform = 0.1 * torch.randn(args.seconds * 16_000, generator=torch.Generator().manual_seed(0))
    report: dict[str, object] = {
        "device": args.device, "torch_threads": torch.get_num_threads(), "audio_s": args.seconds,
        "segment_ms": args.segment_ms, "model": dataclasses.asdict(chunked),
    }  # fmt: skip
    outputs = {}
    for name, (model, mode) in setups.items():
        options = AedOptions(encoder_mode=mode, decoding=decoding)
        streaming = aed_streaming_model(
            model, tokenizer, fbank=FbankConfig(), cmvn=None, options=options
        )
        simulate_waveform(streaming, policy, waveform[: 2 * 16_000])  # warm-up
        timed = _TimedRead(streaming.backend)
        start = time.perf_counter()
        result = simulate_waveform(streaming, policy, waveform)
        total = time.perf_counter() - start
        outputs[name] = [(c.token.id, c.source_ms) for c in result.tokens]
        tenth = max(1, len(timed.seconds) // 10)
        report[name] = {
            "loop_s": total,
            "front_end_s": sum(timed.seconds),
            "segments": len(timed.seconds),
            "tokens_written": len(result.tokens),
            "first_tenth_median_ms_per_segment": 1000 * statistics.median(timed.seconds[:tenth]),
            "last_tenth_median_ms_per_segment": 1000 * statistics.median(timed.seconds[-tenth:]),
        }
    base = report["chunked/incremental"]
    for name in ("chunked/reencode", "full/reencode"):
        entry = report[name]
        entry["loop_ratio_vs_incremental"] = entry["loop_s"] / base["loop_s"]
        entry["front_end_ratio_vs_incremental"] = entry["front_end_s"] / base["front_end_s"]
    same = outputs["chunked/incremental"] == outputs["chunked/reencode"]
    report["chunked_reencode_writes_the_same_tokens_and_delays"] = same
    for key, value in report.items():
        if key == "model":
            continue
        if isinstance(value, dict):
            print(f"{key}:")
            for name, number in value.items():
                print(
                    f"  {name:>40}: {number:.4g}"
                    if isinstance(number, float)
                    else f"  {name:>40}: {number}"
                )
        else:
            print(f"{key}: {value}")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

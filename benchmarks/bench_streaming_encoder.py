"""Benchmark: cached streaming encoder vs re-encoding the received prefix at every chunk.

Feeds ``--seconds`` of random fbank frames (100 per second) to a randomly initialised encoder
(``simul.models.encoder.small()`` unless told otherwise) in pieces of ``--chunk-ms`` and times
(a) ``Encoder.stream`` with its per-layer caches, and (b) what re-encoding agents do (FBK-fairseq's
SimulEval agents, for instance): ``Encoder.forward`` on the whole prefix received so far, after
every piece.  Both see the same chunk mask; the script checks that (a)'s frames equal the last
frames of (b) and prints both times, their ratio, and the cost of (a)'s first and last chunks
(constant with a limited left context).

    bash .ci/venv python benchmarks/bench_streaming_encoder.py --threads 1
    bash .ci/venv python benchmarks/bench_streaming_encoder.py --num-left-chunks 4 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from tqdm import tqdm

from simul.models.encoder import Encoder, small

FBANK_FRAMES_PER_SECOND = 100
FBANK_FRAME_MS = 10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_streaming(
    encoder: Encoder, features: torch.Tensor, piece_frames: int
) -> tuple[float, list[float], torch.Tensor]:
    """Stream ``features`` (1, T, F) in pieces; returns total seconds, seconds per piece, output."""
    device = features.device
    per_piece = []
    outputs = []
    _sync(device)
    start = time.perf_counter()
    state = encoder.init_state(1, device=device)
    for begin in tqdm(range(0, features.shape[1], piece_frames), desc="stream", leave=False):
        piece_start = time.perf_counter()
        out, state = encoder.stream(features[:, begin : begin + piece_frames], state)
        _sync(device)
        per_piece.append(time.perf_counter() - piece_start)
        outputs.append(out)
    out, state = encoder.flush(state)
    outputs.append(out)
    _sync(device)
    return time.perf_counter() - start, per_piece, torch.cat(outputs, dim=1)


def time_reencoding(
    encoder: Encoder, features: torch.Tensor, piece_frames: int
) -> tuple[float, torch.Tensor]:
    """Encode the whole received prefix after every piece; returns total seconds, last output."""
    device = features.device
    out = features.new_zeros(1, 0, encoder.config.d_model)
    _sync(device)
    start = time.perf_counter()
    for end in tqdm(
        range(piece_frames, features.shape[1] + piece_frames, piece_frames),
        desc="re-encode",
        leave=False,
    ):
        received = min(end, features.shape[1])
        lengths = torch.tensor([received], device=device)
        out, _ = encoder(features[:, :received], lengths)
    _sync(device)
    return time.perf_counter() - start, out


def _write_json_atomic(path: Path, payload: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(handle.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="audio length, in s (default 60)")
    parser.add_argument(
        "--chunk-ms", type=int, default=320, help="audio per piece and per chunk, in ms (320)"
    )
    parser.add_argument(
        "--num-left-chunks", type=int, default=-1, help="left chunks attended to; -1: all (-1)"
    )
    parser.add_argument(
        "--block-type", choices=("conformer", "transformer"), default="conformer", help="blocks"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    frame_ms = FBANK_FRAME_MS * 4
    if args.chunk_ms % frame_ms != 0:
        parser.error(f"--chunk-ms must be a multiple of {frame_ms}, but is {args.chunk_ms}")
    config = replace(
        small(),
        block_type=args.block_type,
        chunk_size_frames=args.chunk_ms // frame_ms,
        num_left_chunks=args.num_left_chunks,
    )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    encoder = Encoder(config).to(device).eval()
    num_frames = args.seconds * FBANK_FRAMES_PER_SECOND
    features = torch.randn(1, num_frames, config.num_mel_bins, device=device)
    piece_frames = args.chunk_ms // FBANK_FRAME_MS

    with torch.inference_mode():
        time_streaming(encoder, features[:, : 4 * piece_frames], piece_frames)  # warm-up
        stream_s, per_piece, streamed = time_streaming(encoder, features, piece_frames)
        reencode_s, reencoded = time_reencoding(encoder, features, piece_frames)
    max_abs_diff = float((streamed - reencoded).abs().max())
    tenth = max(1, len(per_piece) // 10)
    results = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "config": asdict(config),
        "audio_s": args.seconds,
        "chunk_ms": args.chunk_ms,
        "num_pieces": len(per_piece),
        "stream_s": stream_s,
        "reencode_s": reencode_s,
        "speedup": reencode_s / stream_s,
        "stream_first_tenth_median_ms_per_chunk": 1000 * statistics.median(per_piece[:tenth]),
        "stream_last_tenth_median_ms_per_chunk": 1000 * statistics.median(per_piece[-tenth:]),
        "max_abs_diff": max_abs_diff,
    }
    for key, value in results.items():
        if key != "config":
            print(f"{key:>40}: {value:.4g}" if isinstance(value, float) else f"{key:>40}: {value}")
    if args.json is not None:
        _write_json_atomic(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

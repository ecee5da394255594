"""Benchmark: the simultaneous loop with an incremental encoder vs re-encoding at every READ.

Both runs go through the one loop (:func:`simul.streaming.simulate_waveform`) on the same
``--seconds`` of audio in ``--segment-ms`` segments, with the shared streaming encoder
(``simul.models.encoder.small()``: 6 Conformer layers of 256, ~11M parameters, 320 ms chunks,
full left context, random weights) behind :class:`simul.streaming.frontend.EncoderFrontEnd`, under
a greedy emission head (a linear layer over the encoder
frames, CTC-style collapse, blank = read) and the native-emission policy:

- ``incremental``: streaming fbank, then ``Encoder.stream`` with its per-layer caches (``flush`` on
  the last segment): each segment costs one chunk of encoder work;
- ``reencode``: streaming fbank, then ``Encoder.forward`` on *all* the audio received so far after
  every segment, as FBK-fairseq's SimulEval agents do (``update_model_encoder``), keeping only the
  completed chunks' frames: segment k costs an encoding of k segments, so the whole input costs
  O(n^2).

The emission head only looks at new frames in both runs, so the difference is the encoder's.  The
script checks that both write the same tokens at the same delays (the chunk mask makes the frames
equal) and prints both times and their ratio, plus the cost of a segment at the start and at the
end of the input.

    bash .ci/venv python benchmarks/bench_loop.py --threads 1
    bash .ci/venv python benchmarks/bench_loop.py --seconds 60 --device cuda --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, final

import torch
from torch import Tensor, nn
from typing_extensions import override

from policies import TransducerEmission
from simul.data.features.fbank import FbankConfig
from simul.io import atomic_write_text
from simul.models.encoder import Encoder, small
from simul.streaming import (
    Capability,
    Requirements,
    Signals,
    StreamingModel,
    Token,
    UtteranceResult,
    simulate_waveform,
)
from simul.streaming.frontend import EncoderFrontEnd, FrontEndState

Mode = Literal["incremental", "reencode"]
_BLANK = 0


@final
@dataclass(frozen=True, eq=False)
class _State:
    front: FrontEndState
    num_frames: int = 0  # encoder frames already searched
    last_label: int = _BLANK
    pending: tuple[tuple[int, int], ...] = ()  # (token id, emitting frame), not yet written


@final
class _EncoderEmissionModel(StreamingModel[_State]):
    """The shared encoder's front end, incremental or re-encoding, and a greedy emission head."""

    def __init__(self, encoder: Encoder, head: nn.Linear, mode: Mode) -> None:
        self.front = EncoderFrontEnd(encoder, FbankConfig(), reencode=mode == "reencode")
        self.head = head
        self.timings: list[float] = []  # seconds per read

    capabilities = property(lambda self: frozenset({Capability.TRANSDUCER}))
    sample_rate = property(lambda self: 16_000)
    output_streams = property(lambda self: ("asr",))

    @override
    def new_state(self) -> _State:
        return _State(front=self.front.initial_state())

    @override
    def read(self, state: _State, samples: Tensor, *, source_finished: bool) -> _State:
        start = time.perf_counter()
        front = self.front.read(state.front, samples, source_finished=source_finished)
        with torch.inference_mode():
            labels = self.head(front.frames[state.num_frames :]).argmax(dim=-1).tolist()  # (n,)
        pending = list(state.pending)
        last = state.last_label
        for offset, label in enumerate(labels):
            if label != _BLANK and label != last:
                pending.append((label, state.num_frames + offset))
            last = label
        self.timings.append(time.perf_counter() - start)
        return _State(
            front=front,
            num_frames=state.num_frames + len(labels),
            last_label=last,
            pending=tuple(pending),
        )

    @override
    def signals(self, state: _State, requirements: Requirements) -> Signals:
        return Signals(
            candidates=tuple(
                Token(id=label, piece=f"\u2581t{label}") for label, _ in state.pending
            ),
            num_frames=state.num_frames,
            emission_frames=tuple(frame for _, frame in state.pending),
        )

    @override
    def write(self, state: _State, tokens: Sequence[Token]) -> _State:
        return replace(state, pending=state.pending[len(tokens) :])


def _run(
    model: _EncoderEmissionModel, waveform: Tensor, segment_ms: int
) -> tuple[float, UtteranceResult]:
    policy = TransducerEmission(segment_ms=segment_ms, whole_words=False)
    model.timings.clear()
    if model.front.device.type == "cuda":
        torch.cuda.synchronize(model.front.device)
    start = time.perf_counter()
    result = simulate_waveform(model, policy, waveform, segment_ms=segment_ms)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="audio length, in s (default 60)")
    parser.add_argument("--segment-ms", type=int, default=320, help="source segment, in ms (320)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    config = replace(small(), num_left_chunks=-1)
    encoder = Encoder(config).to(device).eval()
    head = nn.Linear(config.d_model, 256).to(device)
    waveform = 0.1 * torch.randn(args.seconds * 16_000, generator=torch.Generator().manual_seed(0))

    models = {
        mode: _EncoderEmissionModel(encoder, head, mode) for mode in ("incremental", "reencode")
    }
    for model in models.values():  # warm-up
        _run(model, waveform[: 2 * 16_000], args.segment_ms)
    seconds, results, per_segment = {}, {}, {}
    for mode, model in models.items():
        seconds[mode], results[mode] = _run(model, waveform, args.segment_ms)
        per_segment[mode] = list(model.timings)
    same = [(c.token.id, c.source_ms) for c in results["incremental"].tokens] == [
        (c.token.id, c.source_ms) for c in results["reencode"].tokens
    ]
    tenth = max(1, len(per_segment["incremental"]) // 10)
    report = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "encoder": asdict(config),
        "audio_s": args.seconds,
        "segment_ms": args.segment_ms,
        "num_segments": len(per_segment["incremental"]),
        "tokens_written": len(results["incremental"].tokens),
        "same_tokens_and_delays": same,
        "incremental_s": seconds["incremental"],
        "reencode_s": seconds["reencode"],
        "speedup": seconds["reencode"] / seconds["incremental"],
    }
    for mode in models:
        report[f"{mode}_first_tenth_median_ms_per_segment"] = 1000 * statistics.median(
            per_segment[mode][:tenth]
        )
        report[f"{mode}_last_tenth_median_ms_per_segment"] = 1000 * statistics.median(
            per_segment[mode][-tenth:]
        )
    for key, value in report.items():
        if key != "encoder":
            print(f"{key:>45}: {value:.4g}" if isinstance(value, float) else f"{key:>45}: {value}")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

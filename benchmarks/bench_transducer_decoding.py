"""Benchmark: real-time factor of streaming transducer decoding, audio in, tokens out.

Each utterance's waveform arrives in segments of ``--segment-ms`` (SimulEval's
``--source-segment-size``); every segment goes through the streaming fbank + CMVN
(``StreamingFbank``), the cached encoder and the search (``TransducerSearch.advance``), then the
stream ends (``finish``).  The real-time factor is compute time over audio time (below 1: faster
than real time); the script also times offline decoding of the same utterances (whole-utterance
fbank, one ``decode`` call) and checks that both give the same tokens.

With ``--checkpoint`` it decodes a corpus split with a trained model; without, a randomly
initialised ``small`` transducer decodes noise (a random model emits a random number of tokens,
so its search costs are not representative).  Process CPU time is shown next to wall time: on a
machine shared with other jobs it is far less noisy.

    bash .ci/venv python benchmarks/bench_transducer_decoding.py \
        --checkpoint runs/asr_tt_small/checkpoints/best.pt \
        --corpus data/built/synth-small --split test --num 50 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import time
from pathlib import Path

import torch
from tqdm import tqdm

from simul.data.features.audio import load_waveform
from simul.data.features.fbank import FbankConfig, FbankExtractor, StreamingFbank
from simul.data.readers.corpus_dir import detect_format, read_corpus_split
from simul.families.checkpoint import build_model, load_checkpoint
from simul.families.transducer.model import Transducer, small
from simul.families.transducer.search import SearchConfig, TransducerSearch

LOGGER = logging.getLogger("bench_transducer_decoding")


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clocks()
    return wall - start[0], cpu - start[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained transducer")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="corpus directory (with --checkpoint)"
    )
    parser.add_argument("--split", default="test", help="split to decode (default test)")
    parser.add_argument("--num", type=int, default=50, help="utterances to decode (default 50)")
    parser.add_argument("--segment-ms", type=int, default=320, help="audio per read, in ms (320)")
    parser.add_argument("--beam-sizes", type=int, nargs="+", default=[1, 4], help="(1 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    if args.checkpoint is not None:
        checkpoint = load_checkpoint(args.checkpoint)
        model = build_model(checkpoint)
        fbank_config, cmvn = checkpoint.fbank(), checkpoint.cmvn_stats()
        if args.corpus is None:
            parser.error("--checkpoint needs --corpus to read audio from")
        items = read_corpus_split(args.corpus, detect_format(args.corpus), args.split)
        waveforms = [
            load_waveform(item.instance, fbank_config.sample_rate) for item in items[: args.num]
        ]
    else:
        torch.manual_seed(0)
        model = Transducer(dataclasses.replace(small(), vocab_size=512)).eval()
        fbank_config, cmvn = FbankConfig(), None
        generator = torch.Generator().manual_seed(0)
        waveforms = [
            0.1 * torch.randn(fbank_config.sample_rate * 3, generator=generator)
            for _ in range(args.num)
        ]
    assert isinstance(model, Transducer)
    audio_s = sum(w.numel() for w in waveforms) / fbank_config.sample_rate
    segment = fbank_config.sample_rate * args.segment_ms // 1000
    streaming_fbank = StreamingFbank(fbank_config, cmvn)
    offline_fbank = FbankExtractor(fbank_config, cmvn)
    LOGGER.info(
        f"{len(waveforms)} utterances, {audio_s:.1f} s of audio, {args.segment_ms} ms segments, "
        f"{torch.get_num_threads()} threads, chunk {model.config.encoder.chunk_size_frames} frames"
    )
    LOGGER.info(
        f"{'beam':>5} {'RTF wall':>9} {'RTF cpu':>8} {'offline RTF cpu':>16} "
        f"{'ms/segment p50':>15} {'p95':>6} {'tokens':>7} {'same as offline':>16}"
    )
    with torch.inference_mode():
        for beam_size in args.beam_sizes:
            search = TransducerSearch(
                model, SearchConfig(beam_size=beam_size), fbank_config=fbank_config
            )
            search.decode(offline_fbank(waveforms[0]))  # warm-up
            segment_ms, streamed, stream_time = [], [], [0.0, 0.0]
            for waveform in tqdm(waveforms, desc=f"stream beam {beam_size}", leave=False):
                start = _clocks()
                fbank_state, state, tokens = streaming_fbank.initial_state(), search.init(), []
                for begin in range(0, waveform.numel(), segment):
                    piece_start = time.perf_counter()
                    frames, fbank_state = streaming_fbank.step(
                        fbank_state, waveform[begin : begin + segment]
                    )
                    state, new = search.advance(state, frames)
                    tokens.extend(new)
                    segment_ms.append(1000 * (time.perf_counter() - piece_start))
                state, new = search.finish(state)
                streamed.append(tokens + list(new))
                wall, cpu = _since(start)
                stream_time[0] += wall
                stream_time[1] += cpu
            start = _clocks()
            offline = [search.decode(offline_fbank(waveform)) for waveform in waveforms]
            _, offline_cpu = _since(start)
            same = sum(a == list(b) for a, b in zip(streamed, offline, strict=True))
            p95 = sorted(segment_ms)[int(0.95 * (len(segment_ms) - 1))]
            LOGGER.info(
                f"{beam_size:>5} {stream_time[0] / audio_s:9.3f} {stream_time[1] / audio_s:8.3f} "
                f"{offline_cpu / audio_s:16.3f} {statistics.median(segment_ms):15.1f} {p95:6.1f} "
                f"{sum(map(len, streamed)):7d} {same:>9d}/{len(waveforms)}"
            )


if __name__ == "__main__":
    main()

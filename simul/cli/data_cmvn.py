"""``simul data cmvn``: global CMVN statistics of a corpus split, stored next to the corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.readers.mustc import read_mustc

__all__ = ["add_parser", "run"]

_DEFAULTS = FbankConfig()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cmvn",
        help="compute global CMVN statistics (fbank mean/std per mel bin) of a corpus split",
        description=(
            "Read every segment of a MuST-C layout corpus split (MuST-C, or a corpus built by "
            "simul), resample it to the feature rate, compute Kaldi log-mel filterbanks through "
            "fairseq2, and write their per-bin mean and standard deviation to an .npz file "
            "(default: CORPUS_DIR/cmvn.npz), with the fbank settings they belong to."
        ),
    )
    parser.add_argument(
        "corpus_dir",
        type=Path,
        metavar="CORPUS_DIR",
        help="directory holding SPLIT/txt/SPLIT.yaml and SPLIT/wav/ (MuST-C's en-XX/data)",
    )
    parser.add_argument("--split", default="train", help="split to estimate on (default: train)")
    parser.add_argument(
        "--src-lang",
        default="en",
        help="language code of the transcripts, SPLIT.SRC_LANG (default: en)",
    )
    parser.add_argument(
        "--output",
        "--out",
        type=Path,
        default=None,
        dest="out",
        help="output .npz file (default: CORPUS_DIR/cmvn.npz; --out is the older name)",
    )
    parser.add_argument(
        "--num-mel-bins",
        type=int,
        default=_DEFAULTS.num_mel_bins,
        help=f"mel filters per frame (default: {_DEFAULTS.num_mel_bins})",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=_DEFAULTS.sample_rate,
        help="rate audio is resampled to before the fbank, in Hz "
        f"(default: {_DEFAULTS.sample_rate})",
    )
    parser.add_argument(
        "--kaldi-framing",
        action="store_true",
        help="Kaldi's framing (frame k ends 15 ms after 10*(k+1) ms), for models trained on it "
        "such as fairseq S2T ones (default: causal framing, frames end on 10 ms boundaries)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    instances = read_mustc(args.corpus_dir, args.split, src_lang=args.src_lang, tgt_langs=())
    fbank_config = FbankConfig(
        num_mel_bins=args.num_mel_bins,
        sample_rate=args.sample_rate,
        causal_framing=not args.kaldi_framing,
    )
    cmvn = compute_cmvn(instances, fbank_config)
    out = args.out if args.out is not None else args.corpus_dir / "cmvn.npz"
    cmvn.save(out)
    print(
        f"wrote {out}: {cmvn.num_mel_bins} bins over {cmvn.num_frames} frames "
        f"of {len(instances)} utterances ({args.split})"
    )
    return 0

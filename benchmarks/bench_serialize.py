"""Benchmark: eflomal alignments against the built-in grammar's gold, and serialized target lengths.

Run on demand::

    bash .ci/venv python benchmarks/bench_serialize.py [--sizes 60 400 4000] [--repeats 3]

1. For each bitext size (sentences of the built-in grammar, the text of ``simul data synth``),
   each target language and each symmetrization, align with eflomal ``--repeats`` times and print
   precision, recall and AER against the gold alignments (mean and range over the repeats: eflomal
   has no seed) and the time of one eflomal run (both directions).
2. Train a joint SentencePiece model with the tags on the largest bitext and print, for the
   alignment-serialized targets (``joint_alignment:de``, ``joint_alignment:de+es``), the tokens per
   instance with ``Tokenizer.encode`` and with ``SerializedTextEncoder``, and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from simul.data.synth import GrammarConfig, generate_sentences
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.serialize import (
    SYMMETRIZATIONS,
    AlignerConfig,
    SerializedTextEncoder,
    StreamLayout,
    TargetWords,
    alignment_scores,
    order_by_alignment,
    serialized_text,
    symmetrize,
)
from simul.serialize.word_aligner import eflomal_directions


def _alignment_table(sizes: list[int], repeats: int, seed: int) -> list:
    sentences_all = generate_sentences(GrammarConfig(), max(sizes), seed=seed)
    print(f"{'size':>6} {'lang':>4} {'symmetrization':>20} {'precision':>9} {'recall':>7} "
          f"{'AER mean':>9} {'AER range':>15} {'s/run':>6}")  # fmt: skip
    for size in sizes:
        sentences = sentences_all[:size]
        for lang in ("de", "es"):
            source = [list(s.source_words) for s in sentences]
            target = [list(s.target_words[lang]) for s in sentences]
            gold = [s.alignments[lang] for s in sentences]
            runs, seconds = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                runs.append(eflomal_directions(source, target, AlignerConfig()))
                seconds.append(time.perf_counter() - started)
            for how in SYMMETRIZATIONS:
                scores = [
                    alignment_scores(
                        [symmetrize(f, r, how) for f, r in zip(fw, rv, strict=True)], gold
                    )
                    for fw, rv in runs
                ]
                aers = [s.aer for s in scores]
                print(
                    f"{size:>6} {lang:>4} {how:>20} "
                    f"{statistics.mean(s.precision for s in scores):>9.4f} "
                    f"{statistics.mean(s.recall for s in scores):>7.4f} "
                    f"{statistics.mean(aers):>9.4f} {min(aers):>7.4f}-{max(aers):.4f} "
                    f"{statistics.mean(seconds):>6.2f}"
                )
    return sentences_all


def _token_table(sentences: list) -> None:
    layouts = {
        "joint_alignment:de": StreamLayout(("de",)),
        "joint_alignment:de+es": StreamLayout(("de", "es")),
    }
    tags = tuple(dict.fromkeys(tag for layout in layouts.values() for tag in layout.tags))
    texts = [s.source_text for s in sentences] + [
        s.target_text(lang) for s in sentences for lang in ("de", "es")
    ]
    with tempfile.TemporaryDirectory() as work:
        tokenizer = train_sentencepiece(
            Path(work) / "joint", SpmConfig(vocab_size=1000, tags=tags), texts=texts
        )
        print(f"\njoint SentencePiece model: {tokenizer.vocab_size} pieces, tags {tags}")
        print(f"{'target':>22} {'tags/inst':>9} {'encode':>8} {'encoder':>8} {'ratio':>6}")
        for name, layout in layouts.items():
            plain = tagged = num_tags = 0
            for s in sentences:
                targets = [
                    TargetWords(lang=lang, words=s.target_words[lang], alignment=s.alignments[lang])
                    for lang in layout.target_langs
                ]
                text = serialized_text(
                    order_by_alignment(list(s.source_words), targets, layout), layout
                )
                plain += len(tokenizer.encode(text))
                tagged += len(SerializedTextEncoder(tokenizer, layout)(text))
                num_tags += sum(token in layout.tags for token in text.split())
            count = len(sentences)
            print(
                f"{name:>22} {num_tags / count:>9.2f} {plain / count:>8.2f} "
                f"{tagged / count:>8.2f} {plain / tagged:>6.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 400, 4000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sentences = _alignment_table(sorted(args.sizes), args.repeats, args.seed)
    _token_table(sentences)


if __name__ == "__main__":
    main()

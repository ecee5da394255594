"""Benchmark: re-segmentation and StreamLAAL of one long talk.

Run on demand::

    bash .ci/venv python benchmarks/bench_stream_laal.py [--words 4000] [--baseline-words 600]

It builds a talk of ``--words`` reference words in segments of 5-30 words (a TED talk has about
2,000-4,000 words in 100-300 segments), and a hypothesis with 10% of the words dropped, 10%
replaced and 5% added, written in bursts of 1-3 words with delays and elapsed times.  It times:

1. ``simul.eval.resegment.resegment`` on the whole talk, and on its first ``--baseline-words``
   words against the textbook dynamic program (the same recurrence and tie order, one cell at a
   time in pure Python), whose split must be the same: the ratio is the numpy sweep's gain;
2. mweralign (the C++ port of mwerSegmenter, case-insensitive) on the whole talk, when it is
   installed (it is not a dependency): the ratio says how far the numpy sweep is from C++;
3. ``score_stream_laal`` on the whole talk (re-segmentation, re-basing, LAAL, BLEU, chrF).

Each timing is the best of ``--repeats`` runs of the process's CPU time.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import time
from collections.abc import Callable
from typing import Any


def _talk(rng: random.Random, words: int) -> tuple[list[list[str]], list[str]]:
    """Reference segments of ``words`` words, and a hypothesis that mostly follows them."""
    vocabulary = [f"w{i}" for i in range(3000)]
    references: list[list[str]] = []
    while sum(map(len, references)) < words:
        references.append([rng.choice(vocabulary) for _ in range(rng.randint(5, 30))])
    hypothesis = []
    for word in (word for segment in references for word in segment):
        roll = rng.random()
        if roll < 0.1:
            continue
        hypothesis.append(rng.choice(vocabulary) if roll < 0.2 else word)
        if rng.random() < 0.05:
            hypothesis.append(rng.choice(vocabulary))
    return references, hypothesis


def _textbook_split(hypothesis: list[str], references: list[list[str]]) -> list[int]:
    """The same dynamic program, one cell at a time: deletion > insertion > substitution on
    ties, a later segment's start column at row 0 counting the separators (mwerSegmenter's)."""
    rows = len(hypothesis) + 1
    column, start = list(range(rows)), [0] * rows
    starts, units_before = [], 0
    for k, reference in enumerate(references):
        if k > 0:
            start = list(range(rows))
            column[0] = units_before + k
        for unit in reference:
            new_column, new_start = [column[0] + 1], [start[0]]
            for i in range(1, rows):
                options = (
                    (column[i] + 1, start[i]),  # deletion
                    (new_column[i - 1] + 1, new_start[i - 1]),  # insertion
                    (column[i - 1] + (hypothesis[i - 1] != unit), start[i - 1]),  # substitution
                )
                best = min(options, key=lambda option: option[0])  # the first of equals
                new_column.append(best[0])
                new_start.append(best[1])
            column, start = new_column, new_start
        starts.append(start)
        units_before += len(reference)
    boundaries = [len(hypothesis)]
    for segment_starts in reversed(starts):
        boundaries.append(segment_starts[boundaries[-1]])
    return boundaries[::-1]


def _best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest CPU time of ``repeats`` runs of ``work``, in seconds, and its last result."""
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


def _mweralign(references: list[list[str]], hypothesis: list[str]) -> list[list[str]] | None:
    try:
        from mweralign import align_texts
    except ImportError:
        return None
    stderr = os.dup(2)  # its C++ core prints to stderr
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            text = align_texts("\n".join(map(" ".join, references)), " ".join(hypothesis))
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
    return [line.split() for line in text.split("\n")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=4000, help="reference words of the talk")
    parser.add_argument(
        "--baseline-words", type=int, default=600, help="words of the textbook DP's talk"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (best is kept)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from simul.eval.records import InstanceOutput, StreamOutput
    from simul.eval.resegment import resegment
    from simul.eval.stream_latency import score_stream_laal
    from simul.eval.talk_references import ReferenceSegment, TalkReferences

    rng = random.Random(args.seed)
    references, hypothesis = _talk(rng, args.words)
    print(f"talk: {len(hypothesis)} hypothesis words, {sum(map(len, references))} reference words "
          f"in {len(references)} segments")  # fmt: skip

    ours_s, split = _best_of(args.repeats, lambda: resegment(hypothesis, references))
    print(f"resegment (numpy columns):        {ours_s:8.3f} s, AS-WER "
          f"{100 * split.errors / split.reference_length:.1f}")  # fmt: skip

    small_refs, small_hyp = _talk(random.Random(args.seed + 1), args.baseline_words)
    small_s, small_split = _best_of(args.repeats, lambda: resegment(small_hyp, small_refs))
    textbook_s, textbook = _best_of(1, lambda: _textbook_split(small_hyp, small_refs))
    if list(small_split.boundaries) != textbook:
        raise RuntimeError("the numpy sweep and the textbook DP split the talk differently")
    print(f"  {len(small_hyp)}-word talk: numpy {small_s:.3f} s, textbook DP {textbook_s:.3f} s, "
          f"same split; numpy is {textbook_s / small_s:.0f}x faster")  # fmt: skip

    mweralign_s, aligned = _best_of(args.repeats, lambda: _mweralign(references, hypothesis))
    if aligned is None:
        print("mweralign: not installed (pip install mweralign to compare with its C++)")
    else:
        same = aligned == [hypothesis[piece] for piece in split.slices()]
        print(f"mweralign (C++):                  {mweralign_s:8.3f} s, same split: {same}; "
              f"numpy / C++ time = {ours_s / mweralign_s:.2f}")  # fmt: skip

    offset_ms, segments, words, delays, elapsed, compute_ms = 0.0, [], [], [], [], 0.0
    for index, reference in enumerate(references):
        duration_ms = 400.0 * len(reference)
        segments.append(
            ReferenceSegment(
                index=index, offset_ms=offset_ms, duration_ms=duration_ms,
                references={"st": " ".join(reference)}, origin=f"segment {index}",
            )
        )  # fmt: skip
        offset_ms += duration_ms + 300
    step_ms = offset_ms / max(1, len(hypothesis))
    for position, word in enumerate(hypothesis):
        if position == 0 or rng.random() < 0.5:  # a new write
            compute_ms += rng.expovariate(1 / 60)
            delay = min(offset_ms, (position + 3) * step_ms)
        words.append(word)
        delays.append(delay)
        elapsed.append(delay + compute_ms)
    talk = InstanceOutput(
        index=0, source_type="speech", source_length=offset_ms + 1000,
        streams={"st": StreamOutput(prediction=" ".join(words), delays=tuple(delays),
                                    elapsed=tuple(elapsed))},
        source="talk.wav",
    )  # fmt: skip
    refs = [TalkReferences(talk="talk.wav", segments=tuple(segments))]
    scored_s, result = _best_of(args.repeats, lambda: score_stream_laal([talk], refs))
    row = result.scores.corpus.loc["st"]
    print(f"score_stream_laal (whole talk):   {scored_s:8.3f} s "
          f"(resegment {100 * ours_s / scored_s:.0f}% of it); StreamLAAL {row['StreamLAAL']:.1f} ms, "
          f"BLEU {row['BLEU']:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""SoftSegmenter: assign each word of a talk-level output to a reference segment (OmniSTEval's).

Why: long-form latency (LongYAAL, ...) and quality are computed per reference segment, so a
system that translates a whole talk needs its output cut into those segments.  IWSLT 2026 cuts
it with SoftSegmenter (Polák et al. 2025, "Better Late Than Never: Evaluation of Latency
Metrics for Simultaneous Speech-to-Text Translation", arXiv:2509.17349), as implemented by
OmniSTEval 0.1.10, and numbers must be comparable to that; simul's other re-segmenter
(``simul.eval.resegment``, mWERSegmenter's edit distance) gives other cuts.

The algorithm, on words compared after NFKC normalisation and lowercasing:

1. Align the talk's reference words (all segments, in order) with its output words by dynamic
   programming that maximises the summed similarity of aligned pairs, with free insertions and
   deletions.  Similarity: the Jaccard index of the two words' character sets, and -inf when
   exactly one of them is a punctuation mark (``_PUNCTUATION``).  Ties prefer a match, then a
   deletion (reference word left unaligned), then an insertion.
2. An output word aligned to a reference word joins that word's segment.  An unaligned output
   word joins the segment of the nearest aligned reference word before or after it, whichever
   is more similar (after it only if strictly more similar); the unaligned words before the
   next reference word that one joins follow it.  A word with neither neighbour is dropped.

Not covered: OmniSTEval's optional Moses tokenisation (``--lang``), which splits words into
sub-tokens before aligning; this is OmniSTEval without ``--lang`` (its default).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

import numpy as np

__all__ = ["align_words", "assign_segments"]

_PUNCTUATION = frozenset(".!?,;:-()。！？，；：—（）ー")
_MATCH, _DELETE, _INSERT = 0, 1, 2


def _normalise(word: str) -> str:
    return unicodedata.normalize("NFKC", word).lower()


def _similarities(reference: Sequence[str], output: Sequence[str]) -> tuple[np.ndarray, ...]:
    """What row i of the similarity matrix needs: character sets and punctuation flags."""
    alphabet: dict[str, int] = {}
    for word in (*reference, *output):
        for char in word:
            alphabet.setdefault(char, len(alphabet))

    def char_sets(words: Sequence[str]) -> np.ndarray:
        sets = np.zeros((len(words), max(len(alphabet), 1)), dtype=np.int32)  # (W, C)
        for row, word in enumerate(words):
            sets[row, [alphabet[c] for c in set(word)]] = 1
        return sets

    punctuation = [
        np.array([w in _PUNCTUATION for w in words], dtype=bool) for words in (reference, output)
    ]
    return char_sets(reference), char_sets(output), *punctuation


def align_words(
    reference: Sequence[str], output: Sequence[str]
) -> list[tuple[int | None, int | None]]:
    """Step 1: the alignment, as (reference position, output position) pairs in order.

    R: reference words; H: output words.  Each row of the dynamic programme is computed at
    once: with ``A[j] = max(dp[i-1][j-1] + sim(i, j), dp[i-1][j])`` the row is the running
    maximum of ``A`` (an insertion carries ``dp[i][j-1]`` along), the same sums in the same
    order as the cell-by-cell loop, so the same floats.

    Returns:
        The pairs; ``None`` on one side is a gap.
    """
    reference = [_normalise(w) for w in reference]
    output = [_normalise(w) for w in output]
    ref_sets, out_sets, ref_punct, out_punct = _similarities(reference, output)
    out_sizes = out_sets.sum(axis=1)  # (H,)
    num_out = len(output)
    back = np.full((len(reference) + 1, num_out + 1), _INSERT, dtype=np.int8)  # (R+1, H+1)
    back[:, 0] = _DELETE
    back[0, 0] = _MATCH
    previous = np.zeros(num_out + 1)  # dp[i-1], (H+1,)
    for i in range(1, len(reference) + 1):
        inter = out_sets @ ref_sets[i - 1]  # (H,)
        union = out_sizes + ref_sets[i - 1].sum() - inter
        similarity = np.divide(inter, union, out=np.zeros(num_out), where=union > 0)
        similarity[out_punct != ref_punct[i - 1]] = -math.inf
        match = previous[:-1] + similarity  # (H,) from dp[i-1][j-1]
        delete = previous[1:]  # (H,) from dp[i-1][j]
        best = np.maximum(match, delete)
        current = np.maximum.accumulate(np.concatenate([[0.0], best]))  # dp[i], (H+1,)
        insert = current[:-1]  # dp[i][j-1]
        choice = np.where((match >= delete) & (match >= insert), _MATCH,
                          np.where(delete >= insert, _DELETE, _INSERT))  # fmt: skip
        back[i, 1:] = choice
        previous = current
    pairs: list[tuple[int | None, int | None]] = []
    i, j = len(reference), num_out
    while i > 0 or j > 0:
        step = back[i, j]
        if step == _MATCH:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif step == _DELETE:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs


def _similarity(a: str, b: str) -> float:
    if (a in _PUNCTUATION) != (b in _PUNCTUATION):
        return -math.inf
    a_set, b_set = set(a), set(b)
    inter = len(a_set & b_set)
    union = len(a_set) + len(b_set) - inter
    return inter / union if union else 0.0


def assign_segments(
    reference: Sequence[str], reference_segments: Sequence[int], output: Sequence[str]
) -> list[int | None]:
    """Steps 1 and 2: the reference segment of each output word (``None``: dropped).

    Args:
        reference: (R,) the talk's reference words, segment after segment.
        reference_segments: (R,) the segment of each reference word.
        output: (H,) the talk's output words.

    Returns:
        (H,) the segment of each output word, non-decreasing where defined.
    """
    pairs = align_words(reference, output)
    ref_words = [_normalise(w) for w in reference]
    out_words = [_normalise(w) for w in output]
    segments: list[int | None] = [None] * len(output)
    last: int | None = None  # the reference word the previous aligned position had
    lookahead: int | None = None
    next_index = 0
    for i, (ref, out) in enumerate(pairs):
        if ref is None and i >= next_index:
            next_index = next(
                (k for k in range(i, len(pairs)) if pairs[k][0] is not None), len(pairs)
            )
            following = pairs[next_index][0] if next_index < len(pairs) else None
            assert out is not None  # a pair has at least one side
            after = (
                _similarity(out_words[out], ref_words[following])
                if following is not None
                else -math.inf
            )
            before = _similarity(out_words[out], ref_words[last]) if last is not None else -math.inf
            if after > before:
                ref, lookahead = following, following
            else:
                ref, next_index, lookahead = last, i, None
        elif ref is None:
            ref = lookahead  # inside the run of words that joined the next reference word
        if ref is not None and i >= next_index:
            last = ref
        if out is not None and ref is not None:
            segments[out] = reference_segments[ref]
    return segments

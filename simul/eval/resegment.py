"""Re-segment a talk-level hypothesis into its reference segments by minimum edit distance.

Why: a streaming system translating a whole talk writes one unbroken hypothesis, but quality
and latency metrics are defined on the reference segments (sentences, in MuST-C).  The
mWERSegmenter algorithm (Matusov et al. 2005, "Evaluating machine translation output with
automatic sentence segmentation", IWSLT) splits the hypothesis into as many segments as there
are references, choosing the boundaries that minimise the sum of the segments' edit distances
to their references.  FBK's StreamLAAL (``stream_laal.py``, version 2.0) runs the RWTH binary
``mwerSegmenter -usecase 1``; this module is our own implementation of the same dynamic program,
with one reference per segment.

The dynamic program.  Hypothesis units h_1..h_I; reference segments k = 1..K with units
r_{k,1}..r_{k,L_k}.  Q_k(i) is the least cost of splitting h_1..h_i into segments 1..k, segment
k ending at hypothesis position i::

    Q_0(i)   = i                       (h_1..h_i before the first reference: insertions)
    Q_k(i)   = min_{j <= i} Q_{k-1}(j) + Lev(h_{j+1..i}, r_k)

Each segment's Levenshtein runs over its reference units as columns, starting from the column
Q_{k-1} (the previous segment's end), so the whole table is one Levenshtein over the
concatenated references, swept column by column.  Each column is a vector over the hypothesis
positions, computed with numpy: substitutions and deletions come from the previous column
in one vector operation, and the insertions (a running dependency down the column,
``D(i) = min(a(i), D(i - 1) + 1)``) are ``i + cummin_{j <= i}(a(j) - j)``.  With the costs, each
cell carries the hypothesis position where its segment started, so the boundaries need only the
K start vectors, not the whole table.  Time O(I * (N + K)) with N = sum_k L_k; memory
O(I * K) (4 bytes per entry: about 5 MB for a TED talk of 4,000 words and 300 segments).

Ties and mwerSegmenter.  Equal-cost splits are common, and which segment gets a word changes
its latency, so we break ties as mwerSegmenter does.  We could not run the RWTH binary here;
mweralign 1.4.1 (PyPI; a maintained port of its C++ aligner, GPL, so only a test oracle) gives
the same split as this module on every one of 1,500 random small cases (5-word vocabulary,
1-4 segments, ties everywhere) and 1,260 larger ones (up to 300 words in 20 segments, empty
references inside the talk) with these rules, which we found by trying each order:

- within a cell, a deletion (reference unit unmatched) wins a tie, then an insertion
  (hypothesis unit unmatched), then a substitution or match;
- a hypothesis unit that matches nothing between two segments stays at the end of the earlier
  one: a segment after the first never starts with an insertion;
- the first row counts the segment separators: a segment k > 1 that starts at hypothesis
  position 0 costs k - 1 more than its edits.  So a talk whose first sentence got no output
  lends it a word of the next: refs "the cat sat" | "on the mat", hypothesis "on the mat",
  gives "on" | "the mat" (4 edits), though "" | "on the mat" has 3.  mweralign does this, and
  we take it that the binary does too, so it is the default (for parity with published
  StreamLAAL figures); ``mwersegmenter_first_row=False`` gives the exact minimum.  Either way
  ``Resegmentation.errors`` counts the chosen split's real edits.

A reference segment with no units always gets an empty hypothesis segment.

Units and case.  ``split_units`` gives SimulEval's latency units, so that segment k's units
are exactly the delays k is scored with: whitespace words (``word``), or the characters but
spaces (``char``; FBK's char mode spaces out the characters for mwerSegmenter, which is the
same alignment).  Units are compared as they are, punctuation included ("cat," differs from
"cat"), as mweralign does on untokenised text (whether the RWTH binary splits punctuation off
internally we could not check; its output keeps the words whole, which FBK's delay walk needs).  Case-sensitive by default:
FBK passes ``-usecase 1``, which we read as mwerSegmenter's case-sensitive switch (unverified:
mweralign has no such switch, logs "case sensitive = 0" and ignores case); or
``case_sensitive=False`` (``str.lower``).

Examples:
    >>> texts, split = resegment_text("the cat sat on the mat", ["the cat sat", "on the mat"])
    >>> texts, split.boundaries, split.errors
    (['the cat sat', 'on the mat'], (0, 3, 6), 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["ResegmentUnit", "Resegmentation", "resegment", "resegment_text", "split_units"]

ResegmentUnit = Literal["word", "char"]


def split_units(text: str, unit: ResegmentUnit) -> list[str]:
    """The latency units of ``text``, as SimulEval counts them for delays.

    ``word``: whitespace-separated words (``text.split()``); ``char``: every character but the
    ASCII space (``list(text.replace(" ", ""))``).
    """
    if unit == "word":
        return text.split()
    if unit == "char":
        return list(text.replace(" ", ""))
    raise ValueError(f"`unit` must be 'word' or 'char', but is {unit!r} instead.")


@dataclass(frozen=True)
class Resegmentation:
    """Where a hypothesis was split: segment k holds units ``boundaries[k]:boundaries[k + 1]``."""

    boundaries: tuple[int, ...]
    """(K + 1,) non-decreasing hypothesis positions, from 0 to the hypothesis length."""
    errors: int
    """The split's edits (substitutions + insertions + deletions) summed over its segments: the
    least possible, but for mwerSegmenter's first-row cost (module docstring)."""
    reference_length: int
    """Reference units over all segments; ``errors / reference_length`` is the AS-WER."""

    def slices(self) -> list[slice]:
        """(K,) slices of the hypothesis units, one per reference segment."""
        return [slice(a, b) for a, b in zip(self.boundaries[:-1], self.boundaries[1:], strict=True)]


def _unit_ids(
    hypothesis: Sequence[str], references: Sequence[Sequence[str]], case_sensitive: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Map units to integers (equal units, equal ids) so that columns compare in numpy."""
    vocabulary: dict[str, int] = {}

    def ids(units: Sequence[str]) -> np.ndarray:
        keys = units if case_sensitive else [unit.lower() for unit in units]
        return np.fromiter(
            (vocabulary.setdefault(key, len(vocabulary)) for key in keys), np.int64, len(keys)
        )

    return ids(hypothesis), [ids(reference) for reference in references]


def resegment(
    hypothesis: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    case_sensitive: bool = True,
    mwersegmenter_first_row: bool = True,
) -> Resegmentation:
    """Split ``hypothesis`` into ``len(references)`` segments of least total edit distance.

    See the module docstring for the dynamic program, its cost and its tie-breaking.

    Args:
        hypothesis: (I,) the talk's hypothesis units, in order.
        references: (K,) the reference segments' units, in talk order (a segment may be empty).
        case_sensitive: compare units exactly (FBK's ``-usecase 1``), else after ``str.lower``.
        mwersegmenter_first_row: charge a segment after the first that starts at hypothesis
            position 0 one edit per earlier segment, as mwerSegmenter does (module docstring);
            ``False`` gives the exact minimum.

    Returns:
        The K + 1 boundaries, the chosen split's total edit distance and the reference length.

    Raises:
        ValueError: when there are no reference segments.
    """
    if len(references) == 0:
        raise ValueError("`references` must hold at least one segment, but is empty.")
    hyp, refs = _unit_ids(hypothesis, references, case_sensitive)
    rows = np.arange(hyp.size + 1, dtype=np.int32)  # (I + 1,) hypothesis positions i
    unreachable = np.iinfo(np.int32).max // 2
    # Costs are kept shifted, lag(i) = D(i) - i (the cost of a cell minus its row), so that the
    # insertions down a column, D(i) = min(best(i), D(i - 1) + 1), are a running minimum.
    # The first segment's start column: h_1..h_i inserted before it (D = i), started at 0.
    lag = np.zeros(hyp.size + 1, dtype=np.int32)  # (I + 1,) the current column, shifted
    start = np.zeros(hyp.size + 1, dtype=np.int32)  # (I + 1,) where each cell's segment started
    starts: list[np.ndarray] = []  # per segment, (I + 1,) its start for an end at each i
    units_before = 0
    for k, ref in enumerate(refs):
        if k > 0:  # segment k starts where k - 1 ends: its start column is Q_{k-1}
            start = rows.copy()
            if mwersegmenter_first_row:  # the first row also counts the k separators
                lag[0] = units_before + k
        for unit in ref:
            deletion = lag + 1  # this reference unit left unmatched
            diagonal = np.empty_like(lag)  # h_i substituted for (or matching) this unit
            diagonal[0] = unreachable
            np.subtract(lag[:-1], hyp == unit, out=diagonal[1:])  # D(i-1) + (h_i != r) - i
            from_deletion = deletion <= diagonal  # a deletion wins a tie with a substitution
            best = np.minimum(deletion, diagonal)  # (I + 1,)
            best_start = np.where(from_deletion, start, np.concatenate(([0], start[:-1])))
            # Cell i keeps its own best where it is lower than the insertion from i - 1, or
            # equal and a deletion (deletion > insertion > substitution); else it inherits.
            lag = np.minimum.accumulate(best)
            own = np.empty_like(from_deletion)
            own[0] = True
            np.less(best[1:], lag[:-1] + from_deletion[1:], out=own[1:])
            start = np.take(best_start, np.maximum.accumulate(rows * own))  # the last own row
        starts.append(start)
        units_before += ref.size
    boundaries = [hyp.size]
    for start in reversed(starts):
        boundaries.append(int(start[boundaries[-1]]))
    boundaries.reverse()
    errors = int(lag[-1]) + hyp.size
    if mwersegmenter_first_row:  # the chosen path paid one per empty segment before it
        errors -= sum(1 for boundary in boundaries[1:-1] if boundary == 0)
    return Resegmentation(
        boundaries=tuple(boundaries),
        errors=errors,
        reference_length=units_before,
    )


def resegment_text(
    hypothesis: str,
    references: Sequence[str],
    *,
    unit: ResegmentUnit = "word",
    case_sensitive: bool = True,
    mwersegmenter_first_row: bool = True,
) -> tuple[list[str], Resegmentation]:
    """Split a hypothesis text like the references; mwerSegmenter's job on one talk.

    Args:
        hypothesis: the talk's whole hypothesis.
        references: (K,) the reference segments, in talk order.
        unit: the unit aligned and split (see ``split_units``).
        case_sensitive: see ``resegment``.
        mwersegmenter_first_row: see ``resegment``.

    Returns:
        (K,) the hypothesis segments (words joined by one space for ``word``; for ``char`` the
        stretch of ``hypothesis`` from the segment's first to its last character, inner spaces
        kept), and the resegmentation, whose boundaries index ``split_units(hypothesis, unit)``.
    """
    units = split_units(hypothesis, unit)
    split = resegment(
        units,
        [split_units(reference, unit) for reference in references],
        case_sensitive=case_sensitive,
        mwersegmenter_first_row=mwersegmenter_first_row,
    )
    if unit == "word":
        return [" ".join(units[piece]) for piece in split.slices()], split
    where = [position for position, character in enumerate(hypothesis) if character != " "]
    texts = [
        hypothesis[where[piece.start] : where[piece.stop - 1] + 1]
        if piece.stop > piece.start
        else ""
        for piece in split.slices()
    ]
    return texts, split

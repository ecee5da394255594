"""Re-segmentation (mWERSegmenter's dynamic program): hand cases, optimality, ties, units."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.eval.resegment import resegment, resegment_text, split_units


def _levenshtein(hypothesis: list[str], reference: list[str]) -> int:
    """Plain word edit distance, the textbook table (the oracle of the tests below)."""
    previous = list(range(len(reference) + 1))
    for i, unit in enumerate(hypothesis, start=1):
        current = [i]
        for j, other in enumerate(reference, start=1):
            current.append(min(previous[j - 1] + (unit != other), previous[j] + 1, current[-1] + 1))
        previous = current
    return previous[-1]


def _pieces(hypothesis: list[str], references: list[list[str]], **options) -> list[list[str]]:
    return [hypothesis[piece] for piece in resegment(hypothesis, references, **options).slices()]


def _words(text: str) -> list[list[str]]:
    return [segment.split() for segment in text.split("|")]


def test_hypothesis_equal_to_the_references_is_split_back_exactly() -> None:
    refs = _words("the cat sat | on the mat | and the the dog | barked")
    hyp = [word for segment in refs for word in segment]
    split = resegment(hyp, refs)
    assert split.boundaries == (0, 3, 6, 10, 11)
    assert split.errors == 0 and split.reference_length == 11


@pytest.mark.parametrize(
    ("hypothesis", "expected", "errors"),
    [
        # words that match nothing between two segments end the earlier one
        ("the cat sat x y on the mat", "the cat sat x y | on the mat", 2),
        ("x the cat sat on the mat q", "x the cat sat | on the mat q", 2),
        # words missing at a boundary: each segment keeps what matches it
        ("the cat on the mat", "the cat | on the mat", 1),
        ("the cat sat the mat", "the cat sat | the mat", 1),
        # a segment may get nothing, or everything
        ("the cat sat", "the cat sat | ", 3),
    ],
)
def test_boundary_insertions_and_deletions(hypothesis: str, expected: str, errors: int) -> None:
    refs = _words("the cat sat | on the mat")
    split = resegment(hypothesis.split(), refs)
    assert [hypothesis.split()[piece] for piece in split.slices()] == _words(expected)
    assert split.errors == errors


def test_empty_segments() -> None:
    refs = _words("a b | c d | e f")
    assert _pieces("a b e f".split(), refs) == _words("a b | | e f")
    # an empty reference segment gets an empty hypothesis segment
    assert _pieces("a b x c d".split(), _words("a b | | c d")) == _words("a b x | | c d")
    # an empty hypothesis: every segment empty, every reference unit deleted
    split = resegment([], refs)
    assert split.boundaries == (0, 0, 0, 0) and split.errors == 6


def test_first_row_as_mwersegmenter_or_exact() -> None:
    """mwerSegmenter charges a later segment that starts at position 0 (module docstring):
    a talk whose first sentence got no output lends the second one's first word to it."""
    refs = _words("the cat sat | on the mat")
    hyp = "on the mat".split()
    as_mwer = resegment(hyp, refs)
    assert [hyp[piece] for piece in as_mwer.slices()] == _words("on | the mat")
    assert as_mwer.errors == 4  # the real edits of that split
    exact = resegment(hyp, refs, mwersegmenter_first_row=False)
    assert exact.boundaries == (0, 0, 3) and exact.errors == 3
    # the same when the first references are empty: the concatenation does not come back
    refs = [[], [], ["a"]]
    assert _pieces(["a"], refs) == [["a"], [], []]
    assert _pieces(["a"], refs, mwersegmenter_first_row=False) == refs


def test_case_and_punctuation() -> None:
    refs = _words("The cat sat. | On the mat")
    hyp = "the cat sat. on the mat".split()
    assert resegment(hyp, refs).errors == 2
    assert resegment(hyp, refs, case_sensitive=False).errors == 0
    assert resegment("The cat sat on the mat".split(), refs).errors == 2  # "sat" is not "sat."


def test_character_units_keep_the_spaces_of_each_segment() -> None:
    texts, split = resegment_text(
        "das ist gutichbin da", ["das ist gut", "ich bin da"], unit="char"
    )
    assert texts == ["das ist gut", "ichbin da"]
    assert split.boundaries == (0, 9, 17) and split.errors == 0
    assert split_units("ab c", "char") == ["a", "b", "c"]
    assert split_units(" ab  c ", "word") == ["ab", "c"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one segment"):
        resegment(["a"], [])
    with pytest.raises(ValueError, match="'word' or 'char'"):
        split_units("a", "spm")  # type: ignore[arg-type]


_UNIT = st.sampled_from("abcd")


@settings(max_examples=150, deadline=None)
@given(
    hypothesis=st.lists(_UNIT, max_size=7),
    references=st.lists(st.lists(_UNIT, max_size=3), min_size=1, max_size=3),
)
def test_split_is_a_least_cost_split(hypothesis: list[str], references: list[list[str]]) -> None:
    """Against every split tried one by one: the exact mode finds the minimum, and the
    reported errors are always the chosen split's real edits."""
    best = min(
        sum(
            _levenshtein(hypothesis[start:end], reference)
            for start, end, reference in zip(
                (0, *cuts), (*cuts, len(hypothesis)), references, strict=True
            )
        )
        for cuts in itertools.combinations_with_replacement(
            range(len(hypothesis) + 1), len(references) - 1
        )
    )
    for exact in (True, False):
        split = resegment(hypothesis, references, mwersegmenter_first_row=not exact)
        pieces = [hypothesis[piece] for piece in split.slices()]
        assert [unit for piece in pieces for unit in piece] == hypothesis
        assert split.errors == sum(map(_levenshtein, pieces, references))
        if exact:
            assert split.errors == best
        else:
            assert split.errors >= best


@settings(max_examples=100, deadline=None)
@given(references=st.lists(st.lists(st.sampled_from("abc"), max_size=4), min_size=1, max_size=5))
def test_concatenated_references_come_back(references: list[list[str]]) -> None:
    """Always with the exact minimum; as mwerSegmenter, whenever the first reference has units."""
    hypothesis = [unit for reference in references for unit in reference]
    assert _pieces(hypothesis, references, mwersegmenter_first_row=False) == references
    if references[0]:
        assert _pieces(hypothesis, references) == references


# mweralign (PyPI, GPL) wraps the RWTH mwerSegmenter code: an oracle where it is installed.
# It is case-insensitive, and it drops empty reference lines at either end, so those are kept out.
@settings(max_examples=150, deadline=None)
@given(
    hypothesis=st.lists(st.sampled_from("abcde"), min_size=1, max_size=12),
    references=st.lists(
        st.lists(st.sampled_from("abcde"), max_size=5), min_size=1, max_size=5
    ).filter(lambda refs: bool(refs[0]) and bool(refs[-1])),
)
def test_same_split_as_mweralign(hypothesis: list[str], references: list[list[str]]) -> None:
    mweralign = pytest.importorskip("mweralign")
    stderr = os.dup(2)  # its C++ core prints a line per call
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            aligned = mweralign.align_texts(
                "\n".join(map(" ".join, references)), " ".join(hypothesis)
            )
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
    assert _pieces(hypothesis, references) == [line.split() for line in aligned.split("\n")]

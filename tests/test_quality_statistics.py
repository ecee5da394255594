"""Corpus and per-sentence BLEU/chrF/chrF++/TER from statistics counted once equal sacrebleu's.

``simul.eval.quality.quality_scores`` counts n-grams for the whole corpus with numpy
(``simul.eval._ngram_stats``) and applies sacrebleu's formulas; these tests check the values
against sacrebleu's own ``corpus_score`` and ``sentence_score`` (exact equality) on generated
corpora: repeated words (clipping), punctuation and numbers (the 13a tokenizer), empty
hypotheses and references, non-ASCII and CJK characters, lowercase.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU, CHRF, TER

from simul.eval._ngram_stats import WHITESPACE, bleu_statistics, chrf_statistics
from simul.eval.quality import TextNormalization, quality_scores

_WORDS = [
    "the",
    "a",
    "cat",
    "Cat",
    "sat",
    "on",
    "mat",
    ".",
    ",",
    "5.",
    "3,5",
    "(hi)",
    "über",
    "Straße",
    "猫が",
    "座った",
    "x",
    "xx",
    "-",
    "don't",
    "Hello!",
    "",
]
_sentence = st.lists(st.sampled_from(_WORDS), max_size=14).map(" ".join)
_corpus = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(_sentence, min_size=n, max_size=n), st.lists(_sentence, min_size=n, max_size=n)
    )
)


def _sacrebleu(name: str, lowercase: bool, sentence: bool):
    if name == "BLEU":
        return BLEU(lowercase=lowercase, effective_order=sentence)
    if name == "chrF":
        return CHRF(lowercase=lowercase)
    if name == "chrF++":
        return CHRF(word_order=2, lowercase=lowercase)
    return TER()


@settings(max_examples=150, deadline=None)
@given(
    corpus=_corpus, name=st.sampled_from(["BLEU", "chrF", "chrF++", "TER"]), lowercase=st.booleans()
)
def test_quality_scores_equal_sacrebleu(
    corpus: tuple[list[str], list[str]], name: str, lowercase: bool
) -> None:
    hypotheses, references = corpus
    result, sentences = quality_scores(
        name, hypotheses, references, normalization=TextNormalization(sacrebleu_lowercase=lowercase)
    )
    metric = _sacrebleu(name, lowercase, sentence=False)
    assert result.score == metric.corpus_score(hypotheses, [references]).score
    assert result.signature == str(metric.get_signature())
    single = _sacrebleu(name, lowercase, sentence=True)
    expected = [
        single.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)
    ]
    assert sentences == expected


@settings(max_examples=100, deadline=None)
@given(corpus=_corpus)
def test_statistics_equal_sacrebleu_counts(corpus: tuple[list[str], list[str]]) -> None:
    hypotheses, references = corpus
    bleu = BLEU()
    tokenized = [[bleu._preprocess_segment(t) for t in side] for side in (hypotheses, references)]
    expected = np.array(bleu._extract_corpus_statistics(hypotheses, [references]))
    np.testing.assert_array_equal(bleu_statistics(*tokenized), expected)
    chrf = CHRF()
    expected = np.array(chrf._extract_corpus_statistics(hypotheses, [references]))
    np.testing.assert_array_equal(chrf_statistics(hypotheses, references), expected)


def test_clipping_counts_each_reference_ngram_once() -> None:
    """'the the the' against 'the cat': one matching unigram, not three (BLEU's clipping)."""
    stats = bleu_statistics(["the the the"], ["the cat"])
    assert stats.tolist() == [[3, 2, 1, 0, 0, 0, 3, 2, 1, 0]]


def test_whitespace_list_is_what_str_split_splits_on() -> None:
    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


def test_word_counts_of_irregularly_spaced_texts() -> None:
    """Tokenisers write single spaces; other texts (tabs, doubled or edge spaces) are split."""
    stats = bleu_statistics([" a  b\tc ", "a b"], ["a b c", ""])
    assert stats[:, :2].tolist() == [[3, 3], [2, 0]]
    assert stats[0, 2] == 3  # a, b and c match

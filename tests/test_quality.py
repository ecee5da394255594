"""Quality metrics: parity with SimulEval 1.1.4 and sacrebleu, edge cases, normalisation."""

from __future__ import annotations

import json
import math
from importlib.metadata import version

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU, CHRF, TER
from simuleval.evaluator.instance import LogInstance
from simuleval.evaluator.scorers.quality_scorer import SacreBLEUScorer, WERScorer

import simul.eval.quality as quality
from simul.eval.quality import (
    QUALITY_METRICS,
    TextNormalization,
    corpus_quality,
    sentence_quality,
)

HYPOTHESES = [
    "Hallo Welt , wie geht es dir ?",
    "Das ist ein kleiner Test .",
    "",
    "Der Hund läuft schnell über die Straße",
    "Ich  habe\tkeine Ahnung.",
]
REFERENCES = [
    "Hallo Welt, wie geht es Ihnen?",
    "Das ist ein kleiner Test.",
    "Niemand hat etwas gesagt.",
    "Der Hund rennt schnell über die Straße.",
    "Ich habe keine Ahnung.",
]
# Tokenizers that need no extra package and no model file.
PLAIN_TOKENIZERS = ("none", "zh", "13a", "intl", "char")

WORDS = st.sampled_from(["a", "b", "c", "Ab", "é", "e\u0301", "x.", ",", "ß"])
SPACES = st.sampled_from([" ", "  ", "\t", "\n", " \u00a0"])


@st.composite
def texts(draw: st.DrawFn, min_words: int = 0) -> str:
    """A text of a few words, joined and surrounded by assorted whitespace."""
    words = draw(st.lists(WORDS, min_size=min_words, max_size=8))
    gaps = draw(st.lists(SPACES, min_size=len(words) + 1, max_size=len(words) + 1))
    return gaps[0] + "".join(word + gap for word, gap in zip(words, gaps[1:], strict=True))


def _simuleval_instances(hypotheses: list[str], references: list[str]) -> dict[int, LogInstance]:
    """SimulEval's instances, read back from the JSON lines of an instances.log."""
    lines = [
        json.dumps({"index": i, "prediction": h, "reference": r, "delays": [], "elapsed": []})
        for i, (h, r) in enumerate(zip(hypotheses, references, strict=True))
    ]
    return {i: LogInstance(line) for i, line in enumerate(lines)}


# --- parity with SimulEval 1.1.4 ---------------------------------------------------------------


@pytest.mark.parametrize("tokenizer", PLAIN_TOKENIZERS)
def test_corpus_bleu_equals_simuleval(tokenizer: str) -> None:
    expected = SacreBLEUScorer(tokenizer)(_simuleval_instances(HYPOTHESES, REFERENCES))
    result = corpus_quality("BLEU", HYPOTHESES, REFERENCES, bleu_tokenizer=tokenizer)
    assert result.score == pytest.approx(expected, abs=1e-9)
    assert 0 < result.score < 100


def test_default_bleu_signature_is_simuleval_s() -> None:
    result = corpus_quality("BLEU", HYPOTHESES, REFERENCES)
    expected = f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert result.signature == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts(), texts(min_words=1)), min_size=1, max_size=5))
def test_corpus_bleu_equals_simuleval_on_random_corpora(pairs: list[tuple[str, str]]) -> None:
    hypotheses, references = map(list, zip(*pairs, strict=True))
    expected = SacreBLEUScorer("13a")(_simuleval_instances(hypotheses, references))
    assert corpus_quality("BLEU", hypotheses, references).score == pytest.approx(expected, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(texts(min_words=1), st.lists(st.tuples(texts(), texts()), max_size=5), texts())
def test_corpus_wer_equals_simuleval_where_defined(
    first_reference: str, pairs: list[tuple[str, str]], first_hypothesis: str
) -> None:
    pytest.importorskip("editdistance")
    # SimulEval's WER is right as long as the first reference is not empty.
    hypotheses = [first_hypothesis] + [h for h, _ in pairs]
    references = [first_reference] + [r for _, r in pairs]
    expected = WERScorer(None)(_simuleval_instances(hypotheses, references))
    result = corpus_quality("WER", hypotheses, references)
    assert result.score == pytest.approx(expected, abs=1e-9)


def test_wer_does_not_return_zero_when_the_first_reference_is_empty() -> None:
    """SimulEval 1.1.4's WERScorer returns 0 as soon as the running reference length is 0."""
    pytest.importorskip("editdistance")
    hypotheses, references = ["x y", "a c"], ["", "a b"]
    assert WERScorer(None)(_simuleval_instances(hypotheses, references)) == 0
    # 2 insertions + 1 substitution over 2 reference words.
    assert corpus_quality("WER", hypotheses, references).score == pytest.approx(150.0)


# --- parity with sacrebleu called directly -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make_metric"),
    [("chrF", CHRF), ("chrF++", lambda: CHRF(word_order=2)), ("TER", TER)],
)
def test_chrf_and_ter_equal_sacrebleu(name: str, make_metric) -> None:
    metric = make_metric()
    expected = metric.corpus_score(HYPOTHESES, [REFERENCES])
    result = corpus_quality(name, HYPOTHESES, REFERENCES)
    assert result.score == pytest.approx(expected.score, abs=1e-9)
    assert result.signature == str(metric.get_signature())
    sentence_metric = make_metric()
    per_instance = [
        sentence_metric.sentence_score(h, [r]).score
        for h, r in zip(HYPOTHESES, REFERENCES, strict=True)
    ]
    assert sentence_quality(name, HYPOTHESES, REFERENCES) == pytest.approx(per_instance, abs=1e-9)


def test_chrf_plus_plus_signature_names_word_order() -> None:
    assert "|nw:2|" in corpus_quality("chrF++", HYPOTHESES, REFERENCES).signature
    assert "|nw:0|" in corpus_quality("chrF", HYPOTHESES, REFERENCES).signature


def test_sentence_bleu_uses_effective_order() -> None:
    hypotheses, references = [*HYPOTHESES, "a b c"], [*REFERENCES, "a b c d"]
    metric = BLEU(effective_order=True)
    expected = [
        metric.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)
    ]
    assert sentence_quality("BLEU", hypotheses, references) == pytest.approx(expected, abs=1e-9)
    # Without effective order, a sentence with no matching 4-gram would score 0.
    assert expected[-1] > 70


def test_sacrebleu_lowercase_goes_into_the_signature() -> None:
    normalization = TextNormalization(sacrebleu_lowercase=True)
    upper = ["".join(c.upper() if c.isascii() else c for c in text) for text in HYPOTHESES]
    lower_hypotheses = [text.lower() for text in HYPOTHESES]
    lower_references = [text.lower() for text in REFERENCES]
    for name in ("BLEU", "chrF"):
        result = corpus_quality(name, upper, REFERENCES, normalization=normalization)
        assert "|case:lc|" in result.signature
        expected = corpus_quality(name, lower_hypotheses, lower_references)
        assert "|case:mixed|" in expected.signature
        assert result.score == pytest.approx(expected.score, abs=1e-9)
        assert result.score != pytest.approx(corpus_quality(name, upper, REFERENCES).score)


# --- WER and CER -------------------------------------------------------------------------------


def test_wer_and_cer_by_hand() -> None:
    # "the cat sat" -> "the bat sat down": 1 substitution, 1 insertion over 3 words.
    assert corpus_quality("WER", ["the bat sat down"], ["the cat sat"]).score == pytest.approx(
        200 / 3
    )
    # "ab c" -> "ab d": 1 substitution over 4 characters (the space counts).
    assert corpus_quality("CER", ["ab d"], ["ab  c "]).score == pytest.approx(25.0)


def test_wer_signature_names_jiwer_and_normalisation() -> None:
    result = corpus_quality("WER", HYPOTHESES, REFERENCES)
    assert result.signature == (
        f"nrefs:1|unit:word|nf:none|case:mixed|punct:keep|ws:collapse|jiwer:{version('jiwer')}"
    )
    normalization = TextNormalization(lowercase=True, remove_punctuation=True, unicode_form="NFC")
    cer = corpus_quality("CER", HYPOTHESES, REFERENCES, normalization=normalization)
    assert cer.signature.startswith("nrefs:1|unit:char|nf:NFC|case:lc|punct:space|ws:collapse|")


@pytest.mark.parametrize("name", ["WER", "CER"])
def test_corpus_rate_is_the_length_weighted_mean_of_sentence_rates(name: str) -> None:
    normalization = TextNormalization(lowercase=True, remove_punctuation=True)
    options = {"normalization": normalization}
    per_instance = sentence_quality(name, HYPOTHESES, REFERENCES, **options)
    weights = [
        len(normalization.apply(r).split() if name == "WER" else normalization.apply(r))
        for r in REFERENCES
    ]
    weighted = sum(s * w for s, w in zip(per_instance, weights, strict=True)) / sum(weights)
    assert corpus_quality(name, HYPOTHESES, REFERENCES, **options).score == pytest.approx(weighted)


@settings(max_examples=100, deadline=None)
@given(texts(min_words=1), st.sampled_from(["WER", "CER"]))
def test_identical_texts_have_zero_error(text: str, name: str) -> None:
    assert corpus_quality(name, [text], [text]).score == 0.0
    assert sentence_quality(name, [text], [text]) == [0.0]


@settings(max_examples=100, deadline=None)
@given(texts(), texts(min_words=1), st.sampled_from(["WER", "CER"]))
def test_rates_ignore_how_whitespace_is_laid_out(
    hypothesis: str, reference: str, name: str
) -> None:
    collapsed = corpus_quality(name, [" ".join(hypothesis.split())], [" ".join(reference.split())])
    assert corpus_quality(name, [hypothesis], [reference]).score == collapsed.score


@settings(max_examples=100, deadline=None)
@given(texts(), texts(min_words=1), st.sampled_from(["WER", "CER"]))
def test_lowercase_option_equals_lowercasing_first(
    hypothesis: str, reference: str, name: str
) -> None:
    normalized = corpus_quality(
        name, [hypothesis], [reference], normalization=TextNormalization(lowercase=True)
    )
    assert normalized.score == corpus_quality(name, [hypothesis.lower()], [reference.lower()]).score


def test_remove_punctuation_replaces_category_p_and_keeps_symbols() -> None:
    normalization = TextNormalization(remove_punctuation=True)
    assert normalization.apply("¿Qué?  «Sí» — dijo…") == "Qué Sí dijo"
    assert normalization.apply("don't,stop_now.") == "don t stop now"
    assert normalization.apply("$5 + 3 = €8 ♪ ~") == "$5 + 3 = €8 ♪ ~"
    assert normalization.apply("!\"#%&'()*,-./:;?@[\\]_{}") == ""


def test_unicode_form_composes_accents() -> None:
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    assert corpus_quality("CER", [decomposed], [composed]).score > 0
    nfc = TextNormalization(unicode_form="NFC")
    assert corpus_quality("CER", [decomposed], [composed], normalization=nfc).score == 0.0


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUALITY_METRICS)
def test_empty_hypotheses_score(name: str) -> None:
    expected = {"BLEU": 0.0, "chrF": 0.0, "chrF++": 0.0, "TER": 100.0, "WER": 100.0, "CER": 100.0}
    assert corpus_quality(name, ["", ""], ["a b", "c"]).score == pytest.approx(expected[name])
    assert sentence_quality(name, ["", ""], ["a b", "c"]) == pytest.approx([expected[name]] * 2)


@pytest.mark.parametrize("name", ["WER", "CER"])
def test_empty_reference_counts_insertions_and_is_nan_per_sentence(name: str) -> None:
    normalization = TextNormalization(remove_punctuation=True)
    hypotheses, references = ["x", "a b"], ["...", "a b"]  # "..." is empty once normalised
    result = corpus_quality(name, hypotheses, references, normalization=normalization)
    assert result.score == pytest.approx(100 / 2 if name == "WER" else 100 / 3)
    per_instance = sentence_quality(name, hypotheses, references, normalization=normalization)
    assert math.isnan(per_instance[0]) and per_instance[1] == 0.0


@pytest.mark.parametrize("name", ["WER", "CER"])
def test_every_reference_empty_is_an_error(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} is undefined: every one of the 2 references"):
        corpus_quality(name, ["a", ""], ["", " \t"])
    assert all(math.isnan(v) for v in sentence_quality(name, ["a", ""], ["", " "]))


@pytest.mark.parametrize(
    ("hypotheses", "references", "message"),
    [
        (["a", "b"], ["a"], "must have the same length, but have 2 and 1"),
        ([], [], "needs at least one instance"),
        (["a", "b"], ["a", None], r"`references\[1\]` must be a string, but is None"),
        ([None], ["a"], r"`hypotheses\[0\]` must be a string, but is None"),
        ("a b", ["a", "b", "c"], "`hypotheses` must be a sequence of strings"),
    ],
)
def test_bad_inputs_raise(hypotheses, references, message: str) -> None:
    for score in (corpus_quality, sentence_quality):
        with pytest.raises(ValueError, match=message):
            score("BLEU", hypotheses, references)


def test_names_match_exactly() -> None:
    with pytest.raises(ValueError, match=r"one of BLEU, chrF, chrF\+\+, TER, WER, CER .* 'bleu'"):
        corpus_quality("bleu", ["a"], ["a"])


def test_unknown_tokenizer_and_unicode_form_raise() -> None:
    with pytest.raises(ValueError, match="`bleu_tokenizer` must be one of none, zh, 13a"):
        corpus_quality("BLEU", ["a"], ["a"], bleu_tokenizer="moses")
    with pytest.raises(ValueError, match="`unicode_form` must be None or one of NFC"):
        TextNormalization(unicode_form="nfc")  # type: ignore[arg-type]


def test_sentencepiece_tokenizer_never_downloads(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(quality, "SACREBLEU_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="'flores200' needs sacrebleu's SentencePiece model at"):
        corpus_quality("BLEU", ["a"], ["a"], bleu_tokenizer="flores200")
    assert not (tmp_path / "models").exists()

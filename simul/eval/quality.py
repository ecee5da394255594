"""Quality metrics of a corpus of hypotheses against references: BLEU, chrF(++), TER, WER, CER.

A thin layer over sacrebleu (BLEU, chrF, TER) and jiwer (WER, CER): we add exact metric names,
input checks that name the bad instance, explicit text normalisation, and a signature on every
corpus score, so that a number in a table can be reproduced.  Scales: BLEU, chrF and TER as
sacrebleu gives them (0-100; TER may exceed 100); WER and CER as percentages,
``100 * edit errors / reference units`` summed over the corpus, like SimulEval's WER (both may
exceed 100).

Conventions:

- BLEU, chrF and TER see the raw text (as SimulEval and published sacrebleu numbers do).
  ``TextNormalization`` never touches it, except ``sacrebleu_lowercase``, which goes through
  sacrebleu's own option so that the signature shows it (``case:lc``).  sacrebleu's TER is
  case-insensitive by default (``case:lc`` in its signature).
- Corpus BLEU has sacrebleu's defaults, the same call as SimulEval 1.1.4's ``SacreBLEUScorer``.
  Sentence BLEU uses ``effective_order=True``, as sacrebleu recommends for single sentences.
- WER and CER see ``TextNormalization.apply``'s output, the same for hypothesis and reference.
  CER counts the single spaces between words as characters (jiwer's default).
- An empty reference is allowed in a corpus: its hypothesis units count as insertions, and
  the denominator does not grow.  The corpus WER/CER is undefined, and raises ``ValueError``, only
  when every reference is empty.  Per sentence, WER/CER of an empty reference is ``nan``.
  (SimulEval 1.1.4 returns WER 0 whenever the *first* reference is empty; we do not.)
- An empty hypothesis scores normally (BLEU 0, WER 100 against a non-empty reference).
- Errors are raised, never turned into a score of 0 as SimulEval does.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Literal

import jiwer
import jiwer.transforms as jiwer_transforms
import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric
from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
from sacrebleu.utils import SACREBLEU_DIR

from simul.eval._ngram_stats import bleu_statistics, chrf_statistics
from simul.eval.names import QUALITY_METRICS

__all__ = [
    "BLEU_TOKENIZERS",
    "QUALITY_METRICS",
    "QualityResult",
    "TextNormalization",
    "corpus_quality",
    "quality_scores",
    "sentence_quality",
]


#: sacrebleu's BLEU tokenizers (``ja-mecab``/``ko-mecab`` need ``sacrebleu[ja]``/``[ko]``; the
#: SentencePiece ones need their model already in sacrebleu's cache, see ``corpus_quality``).
BLEU_TOKENIZERS = tuple(BLEU.TOKENIZERS)

_UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


@dataclass(frozen=True)
class TextNormalization:
    """How hypotheses and references are normalised before WER and CER (default: not at all).

    ``apply`` runs the steps in field order: Unicode normal form, lowercase, punctuation, and
    always last, whitespace collapsing: every run of whitespace characters (``str.isspace``:
    spaces, tabs, newlines, no-break and other Unicode spaces) becomes one ASCII space, and
    leading and trailing whitespace is dropped.  Collapsing changes no WER (words are split on
    whitespace anyway) and makes CER count exactly one space between two words.
    """

    unicode_form: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None
    """``unicodedata.normalize`` form applied first, e.g. ``"NFC"`` to compose accents; None: none."""
    lowercase: bool = False
    """Lowercase with ``str.lower`` (Unicode aware; ``"ß"`` stays ``"ß"``)."""
    remove_punctuation: bool = False
    """Replace each character of Unicode category P (Pc Pd Ps Pe Pi Pf Po) by a space.

    This covers ASCII ``!"#%&'()*,-./:;?@[\\]_{}`` and e.g. ``¿ « » “ ” … — 。 ，``, but not
    symbols (category S: ``$ + < = > ^ ` | ~ € ♪``), which are kept.  A space, not nothing, so
    that ``"word,word"`` gives two words; ``"don't"`` becomes ``"don t"`` on both sides."""
    sacrebleu_lowercase: bool = False
    """Also lowercase inside BLEU and chrF, through sacrebleu's ``lowercase`` (``case:lc``)."""

    def __post_init__(self) -> None:
        if self.unicode_form is not None and self.unicode_form not in _UNICODE_FORMS:
            raise ValueError(
                f"`unicode_form` must be None or one of {', '.join(_UNICODE_FORMS)}, "
                f"but is {self.unicode_form!r} instead."
            )

    def apply(self, text: str) -> str:
        """Return ``text`` normalised as the fields say, whitespace collapsed."""
        if self.unicode_form is not None:
            text = unicodedata.normalize(self.unicode_form, text)
        if self.lowercase:
            text = text.lower()
        if self.remove_punctuation:
            text = "".join(" " if unicodedata.category(c)[0] == "P" else c for c in text)
        return " ".join(text.split())

    def describe(self) -> str:
        """The signature part for WER/CER, e.g. ``nf:none|case:mixed|punct:keep|ws:collapse``."""
        case = "lc" if self.lowercase else "mixed"
        punct = "space" if self.remove_punctuation else "keep"
        return f"nf:{self.unicode_form or 'none'}|case:{case}|punct:{punct}|ws:collapse"


@dataclass(frozen=True)
class QualityResult:
    """One corpus-level quality score and how it was computed."""

    name: str
    """The metric, one of ``QUALITY_METRICS``."""
    score: float
    """The corpus score: 0-100 for BLEU and chrF; TER, WER and CER in percent (may exceed 100)."""
    signature: str
    """sacrebleu's ``get_signature()`` for BLEU/chrF/TER; ours naming jiwer and the normalisation."""


def _check_inputs(name: str, hypotheses: Sequence[str], references: Sequence[str | None]) -> None:
    """Raise ``ValueError`` for an unknown metric or inputs that cannot be scored."""
    if name not in QUALITY_METRICS:
        raise ValueError(
            f"`name` must be one of {', '.join(QUALITY_METRICS)} (exact case), "
            f"but is {name!r} instead."
        )
    for field_name, texts in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(texts, str):
            raise ValueError(f"`{field_name}` must be a sequence of strings, but is one string.")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"`hypotheses` and `references` must have the same length, but have "
            f"{len(hypotheses)} and {len(references)} instead."
        )
    if not hypotheses:
        raise ValueError(f"{name} needs at least one instance, but `hypotheses` is empty.")
    for position, (hypothesis, reference) in enumerate(zip(hypotheses, references, strict=True)):
        for field_name, text in (("hypotheses", hypothesis), ("references", reference)):
            if not isinstance(text, str):
                raise ValueError(
                    f"`{field_name}[{position}]` must be a string, but is {text!r} instead."
                )


def _sacrebleu_metric(
    name: str, bleu_tokenizer: str, normalization: TextNormalization, *, sentence: bool
) -> Metric:
    """Build the sacrebleu metric for ``name`` (BLEU, chrF, chrF++ or TER)."""
    lowercase = normalization.sacrebleu_lowercase
    if name == "BLEU":
        if bleu_tokenizer not in BLEU_TOKENIZERS:
            raise ValueError(
                f"`bleu_tokenizer` must be one of {', '.join(BLEU_TOKENIZERS)}, "
                f"but is {bleu_tokenizer!r} instead."
            )
        if bleu_tokenizer in SPM_MODELS:
            # sacrebleu would download the model here; simul never downloads at run time.
            url = SPM_MODELS[bleu_tokenizer]["url"]
            model_path = os.path.join(SACREBLEU_DIR, "models", os.path.basename(url))
            if not os.path.exists(model_path):
                raise ValueError(
                    f"`bleu_tokenizer` {bleu_tokenizer!r} needs sacrebleu's SentencePiece model "
                    f"at {model_path}, but it is missing; fetch {url} there once (or point the "
                    "SACREBLEU environment variable at a directory with models/ holding it)."
                )
        return BLEU(tokenize=bleu_tokenizer, lowercase=lowercase, effective_order=sentence)
    if name == "chrF":
        return CHRF(lowercase=lowercase)
    if name == "chrF++":
        return CHRF(word_order=2, lowercase=lowercase)
    return TER()


def _edit_counts(
    name: str,
    hypotheses: Sequence[str],
    references: Sequence[str],
    normalization: TextNormalization,
) -> tuple[list[int], list[int]]:
    """Per-instance edit errors and reference lengths, in words (WER) or characters (CER)."""
    hypotheses = [normalization.apply(text) for text in hypotheses]
    references = [normalization.apply(text) for text in references]
    if name == "WER":
        split = jiwer_transforms.ReduceToListOfListOfWords()
        output = jiwer.process_words(references, hypotheses, split, split)
    else:
        split = jiwer_transforms.ReduceToListOfListOfChars()
        output = jiwer.process_characters(references, hypotheses, split, split)
    errors = [sum(_chunk_errors(chunk) for chunk in chunks) for chunks in output.alignments]
    return errors, [len(units) for units in output.references]


def _chunk_errors(chunk: jiwer.AlignmentChunk) -> int:
    """Edit errors in one jiwer alignment chunk: its inserted, deleted or substituted units."""
    if chunk.type == "equal":
        return 0
    if chunk.type == "insert":
        return chunk.hyp_end_idx - chunk.hyp_start_idx
    return chunk.ref_end_idx - chunk.ref_start_idx  # "delete" or "substitute"


def quality_scores(
    name: str,
    hypotheses: Sequence[str],
    references: Sequence[str | None],
    *,
    bleu_tokenizer: str = "13a",
    normalization: TextNormalization = TextNormalization(),
) -> tuple[QualityResult, list[float]]:
    """Score a corpus with one metric, and each instance on its own, from one count.

    Why one function: the corpus score sums per-sentence statistics (n-gram counts for BLEU and
    chrF, edits for TER, WER and CER), so both come from the statistics counted once; counting
    them again per sentence took most of ``simul score``'s time.  BLEU and chrF are counted for
    the whole corpus at once (``simul.eval._ngram_stats``, equal to sacrebleu's counts), chrF++
    and TER by sacrebleu; every score is then sacrebleu's own formula on those statistics, so
    the values equal ``corpus_score`` and ``sentence_score``'s.

    Args:
        name: one of ``QUALITY_METRICS``, exact case.
        hypotheses: one system output per instance.
        references: one reference per instance, same order; ``None`` is an error.
        bleu_tokenizer: sacrebleu tokenizer for BLEU, one of ``BLEU_TOKENIZERS`` (Default: ``13a``).
            The SentencePiece ones (``spm``, ``flores101``, ``flores200``, ``spBLEU-1K``) raise
            unless their model is already in sacrebleu's cache, since we never download.
        normalization: applied before WER/CER (Default: none but whitespace collapsing).

    Returns:
        The corpus score with its signature, and one score per instance in input order
        (sentence BLEU with ``effective_order=True``; WER/CER of an empty reference: ``nan``).
        The corpus score is not the mean of the instance scores.

    Raises:
        ValueError: unknown name or tokenizer; counts differ; a non-string hypothesis or
            reference (naming its position); WER/CER when every reference is empty.
    """
    _check_inputs(name, hypotheses, references)
    if name in ("WER", "CER"):
        errors, lengths = _edit_counts(name, hypotheses, references, normalization)
        if sum(lengths) == 0:
            raise ValueError(
                f"{name} is undefined: every one of the {len(lengths)} references is empty "
                "(after normalisation)."
            )
        unit = "word" if name == "WER" else "char"
        signature = f"nrefs:1|unit:{unit}|{normalization.describe()}|jiwer:{version('jiwer')}"
        corpus = QualityResult(
            name=name, score=100.0 * sum(errors) / sum(lengths), signature=signature
        )
        return corpus, [
            100.0 * e / n if n else math.nan for e, n in zip(errors, lengths, strict=True)
        ]
    metric = _sacrebleu_metric(name, bleu_tokenizer, normalization, sentence=False)
    texts = list(hypotheses), [reference or "" for reference in references]
    if name == "BLEU":
        tokenized = [[metric._preprocess_segment(text) for text in side] for side in texts]
        stats = bleu_statistics(*tokenized, max_order=metric.max_ngram_order)
    elif name == "chrF":
        lowered = [[metric._preprocess_segment(text) for text in side] for side in texts]
        stats = chrf_statistics(*lowered, char_order=metric.char_order)
    else:  # chrF++ and TER: sacrebleu's own per-sentence statistics
        stats = np.array(metric._extract_corpus_statistics(texts[0], [texts[1]]))
    metric.num_refs = 1  # what sacrebleu's corpus_score records, for the signature
    corpus_score = metric._compute_score_from_stats(stats.sum(axis=0).tolist()).score
    corpus = QualityResult(name=name, score=corpus_score, signature=str(metric.get_signature()))
    if name == "BLEU":
        per_sentence = [_sentence_bleu(row, metric.max_ngram_order) for row in stats.tolist()]
    elif name in ("chrF", "chrF++"):  # the float CHRFScore holds, without building the object
        per_sentence = [metric._compute_f_score(row) for row in stats.tolist()]
    else:
        sentence_metric = _sacrebleu_metric(name, bleu_tokenizer, normalization, sentence=True)
        per_sentence = [
            sentence_metric._compute_score_from_stats(row).score for row in stats.tolist()
        ]
    return corpus, per_sentence


def _sentence_bleu(stats: list[int], max_order: int) -> float:
    """sacrebleu's ``BLEU.compute_bleu`` with ``smooth_method="exp"`` and ``effective_order=True``.

    Why a copy of the formula: building sacrebleu's ``BLEUScore`` object for each of 20,000
    sentences cost more than the arithmetic.  The operations are sacrebleu 2.x's, in the same
    order, so the floats are the same (``tests/test_quality_statistics.py`` checks every score
    against ``sentence_score``).
    """
    sys_len, ref_len = stats[0], stats[1]
    correct, total = stats[2 : 2 + max_order], stats[2 + max_order :]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * max_order
    smooth_mteval = 1.0
    eff_order = max_order
    for n in range(1, max_order + 1):
        if total[n - 1] == 0:
            break
        eff_order = n
        if correct[n - 1] == 0:
            smooth_mteval *= 2
            precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    logs = [math.log(p) if p != 0.0 else -9999999999.0 for p in precisions[:eff_order]]
    return bp * math.exp(sum(logs) / eff_order)


def corpus_quality(
    name: str,
    hypotheses: Sequence[str],
    references: Sequence[str | None],
    *,
    bleu_tokenizer: str = "13a",
    normalization: TextNormalization = TextNormalization(),
) -> QualityResult:
    """Score a whole corpus with one metric: ``quality_scores``'s corpus score (same arguments)."""
    options = {"bleu_tokenizer": bleu_tokenizer, "normalization": normalization}
    return quality_scores(name, hypotheses, references, **options)[0]


def sentence_quality(
    name: str,
    hypotheses: Sequence[str],
    references: Sequence[str | None],
    *,
    bleu_tokenizer: str = "13a",
    normalization: TextNormalization = TextNormalization(),
) -> list[float]:
    """Score each instance on its own: ``quality_scores``'s instance scores (same arguments).

    An empty reference gives ``nan`` for WER/CER instead of an error; sentence BLEU uses
    ``effective_order=True``.
    """
    options = {"bleu_tokenizer": bleu_tokenizer, "normalization": normalization}
    if name in ("WER", "CER"):  # per sentence, an all-empty corpus is no error
        _check_inputs(name, hypotheses, references)
        errors, lengths = _edit_counts(name, hypotheses, references, normalization)
        return [100.0 * e / n if n else math.nan for e, n in zip(errors, lengths, strict=True)]
    return quality_scores(name, hypotheses, references, **options)[1]

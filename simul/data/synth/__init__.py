"""Synthetic aligned EN -> DE/ES text for simul's built-in speech translation benchmark.

A synchronous grammar over a hand-written bilingual lexicon generates English sentences with
German and Spanish translations and gold word alignments; the reorderings that make
simultaneous translation hard (German verb bracket and verb-final clauses, verb-second
inversion, Spanish post-nominal adjectives) have rates that are knobs of ``GrammarConfig``.

Examples:
    >>> from simul.data.synth import GrammarConfig, generate_sentences
    >>> (sentence,) = generate_sentences(GrammarConfig(), 1, seed=0)
    >>> sorted(sentence.target_words)
    ['de', 'es']
"""

from simul.data.synth.entries import (
    Adjective,
    Adverbial,
    Determiner,
    Noun,
    Place,
    Subordinator,
    Verb,
)
from simul.data.synth.grammar import GrammarConfig, generate_sentences, sample_plan
from simul.data.synth.lexicon import Lexicon, default_lexicon
from simul.data.synth.realize import (
    PHENOMENA,
    TARGET_LANGUAGES,
    SynthSentence,
    phenomena_of,
    realize_sentence,
)
from simul.data.synth.syntax import Clause, NounPhrase, PrepositionalPhrase, SentencePlan

__all__ = [
    "PHENOMENA",
    "TARGET_LANGUAGES",
    "Adjective",
    "Adverbial",
    "Clause",
    "Determiner",
    "GrammarConfig",
    "Lexicon",
    "Noun",
    "NounPhrase",
    "Place",
    "PrepositionalPhrase",
    "SentencePlan",
    "Subordinator",
    "SynthSentence",
    "Verb",
    "default_lexicon",
    "generate_sentences",
    "phenomena_of",
    "realize_sentence",
    "sample_plan",
]

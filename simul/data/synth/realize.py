"""Realise a sentence plan as an aligned English / German / Spanish triple.

The three realisers tag each word with the abstract parts it expresses; a source and a target
word are aligned exactly when they share one.  So every source word is aligned (English has no
word without a counterpart: no do-support, no expletives), and every target word is aligned
except the Spanish "y"/"e" that coordinates two adjectives, which translates nothing.
One-to-many links are real ones: "calls" -> "ruft" ... "an", "in the" -> "im",
"the" -> Spanish personal "a" + "el" = "al".

Examples:
    >>> from simul.data.synth import default_lexicon
    >>> from simul.data.synth.syntax import Clause, NounPhrase, SentencePlan
    >>> lex = default_lexicon()
    >>> the = lex.determiner("the")
    >>> plan = SentencePlan(main=Clause(
    ...     subject=NounPhrase(lex.noun("man"), the), verb=lex.verb("call"),
    ...     object=NounPhrase(lex.noun("woman"), the)))
    >>> realize_sentence(plan).target_words["de"]
    ('Der', 'Mann', 'ruft', 'die', 'Frau', 'an.')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simul.data.synth._english import realize_english
from simul.data.synth._german import realize_german
from simul.data.synth._spanish import realize_spanish
from simul.data.synth._words import Word, finish_sentence
from simul.data.synth.syntax import Clause, NounPhrase, SentencePlan

__all__ = ["PHENOMENA", "TARGET_LANGUAGES", "SynthSentence", "phenomena_of", "realize_sentence"]

TARGET_LANGUAGES = ("de", "es")

#: What each name in ``SynthSentence.phenomena`` means.
PHENOMENA: Mapping[str, str] = {
    "subordinate": "a subordinate clause: verb-final in German (..., weil der Hund die Katze sieht)",
    "subordinate_first": "the subordinate clause opens the sentence; the German main clause is verb-first",
    "separable_verb": "a German separable verb: prefix at the end of a main clause (ruft ... an)",
    "adverb_fronting": "the main clause opens with an adverbial; German inverts (Heute sieht der Hund)",
    "adverbial": "a time or frequency adverbial anywhere in the sentence",
    "past_tense": "a clause in the simple past",
    "perfect_tense": "a clause in the perfect: German verb bracket (hat ... gesehen)",
    "adjective": "an attributive adjective: after the noun in Spanish",
    "multiple_adjectives": "a noun phrase with two or more adjectives",
    "plural": "a plural noun phrase",
    "prepositional_phrase": "a prepositional phrase (in the garden, to the station, with the dog)",
    "dative": "a German dative noun phrase (dem Mann, im Garten, mit den Kindern)",
    "personal_a": "the Spanish personal 'a' before a person or animal object",
}


@dataclass(frozen=True)
class SynthSentence:
    """One aligned sentence triple of the synthetic benchmark.

    Attributes:
        source_words: English, whitespace words as written (punctuation attached).
        target_words: by language (``"de"``, ``"es"``), the words as written.
        alignments: by language, sorted ``(source_index, target_index)`` pairs.
        phenomena: names from ``PHENOMENA`` that the sentence contains.
    """

    source_words: tuple[str, ...]
    target_words: Mapping[str, tuple[str, ...]]
    alignments: Mapping[str, tuple[tuple[int, int], ...]]
    phenomena: frozenset[str]

    @property
    def source_text(self) -> str:
        return " ".join(self.source_words)

    def target_text(self, language: str) -> str:
        return " ".join(self.target_words[language])


def realize_sentence(plan: SentencePlan) -> SynthSentence:
    """Realise ``plan`` in English, German and Spanish with gold word alignments."""
    source = finish_sentence(realize_english(plan))
    targets = {
        "de": finish_sentence(realize_german(plan)),
        "es": finish_sentence(realize_spanish(plan)),
    }
    return SynthSentence(
        source_words=tuple(word.text for word in source),
        target_words={lang: tuple(word.text for word in words) for lang, words in targets.items()},
        alignments={lang: _align(source, words) for lang, words in targets.items()},
        phenomena=phenomena_of(plan),
    )


def _align(source: Sequence[Word], target: Sequence[Word]) -> tuple[tuple[int, int], ...]:
    return tuple(
        (i, j) for i, s in enumerate(source) for j, t in enumerate(target) if s.keys & t.keys
    )


def phenomena_of(plan: SentencePlan) -> frozenset[str]:
    """The names of ``PHENOMENA`` that ``plan`` contains."""
    names = set()
    clauses = [plan.main] if plan.subordinate is None else [plan.main, plan.subordinate]
    if plan.subordinate is not None:
        names.add("subordinate")
    if plan.subordinate_first:
        names.add("subordinate_first")
    if plan.adverbial_fronted:
        names.add("adverb_fronting")
    for clause in clauses:
        names.update(_clause_phenomena(clause))
    return frozenset(names)


def _clause_phenomena(clause: Clause) -> set[str]:
    names = set()
    if clause.verb.is_separable:
        names.add("separable_verb")
    if clause.tense != "present":
        names.add(f"{clause.tense}_tense")
    if clause.adverbial is not None:
        names.add("adverbial")
    phrases: list[NounPhrase] = [clause.subject]
    if clause.object is not None:
        phrases.append(clause.object)
        if clause.verb.de_object_case == "dat":
            names.add("dative")
        if clause.object.noun.is_animate and clause.object.determiner is not None:
            names.add("personal_a")
    if clause.pp is not None:
        phrases.append(clause.pp.object)
        names.add("prepositional_phrase")
        place = clause.pp.object.noun.place
        accusative = clause.pp.role == "dir" and place is not None and place.de_directional != "zu"
        if not accusative:
            names.add("dative")
    for np in phrases:
        if np.adjectives:
            names.add("adjective")
        if len(np.adjectives) >= 2:
            names.add("multiple_adjectives")
        if np.plural:
            names.add("plural")
    return names

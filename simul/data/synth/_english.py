"""English realisation of a sentence plan: the source side of the benchmark.

English order: [fronted adverbial] subject [has/have] [frequency adverb] verb [particle] object
PP [time adverbial].  No do-support is needed because clauses are affirmative, so every English
word has a counterpart in German and Spanish.
"""

from __future__ import annotations

from simul.data.synth._words import (
    SUBORDINATOR_KEY,
    Word,
    adverbial_words,
    particle_key,
    with_comma,
)
from simul.data.synth.syntax import Clause, NounPhrase, PrepositionalPhrase, SentencePlan

__all__ = ["indefinite_article", "realize_english"]

# Words spelled with a vowel but spoken with a consonant ("a university"), and the reverse.
_CONSONANT_SOUND_PREFIXES = ("uni", "use", "eu", "one")
_VOWEL_SOUND_PREFIXES = ("hour", "honest", "honor")


def indefinite_article(next_word: str) -> str:
    """'a' or 'an' by the sound of the next word (an apple, a university, an hour)."""
    word = next_word.lower()
    if word.startswith(_VOWEL_SOUND_PREFIXES):
        return "an"
    if word.startswith(_CONSONANT_SOUND_PREFIXES):
        return "a"
    return "an" if word[:1] in "aeiou" else "a"


def realize_english(plan: SentencePlan) -> list[Word]:
    """The English words of ``plan`` (without the final capital and period)."""
    main = _clause(plan.main, "m", fronted=plan.adverbial_fronted)
    if plan.subordinate is None or plan.subordinator is None:
        return main
    subordinate = [Word(plan.subordinator.en, frozenset({SUBORDINATOR_KEY}))]
    subordinate += _clause(plan.subordinate, "s", fronted=False)
    if plan.subordinate_first:
        return with_comma(subordinate) + main
    return (with_comma(main) if plan.subordinator.en_comma else main) + subordinate


def _clause(clause: Clause, c: str, *, fronted: bool) -> list[Word]:
    verb = clause.verb
    adverbial = clause.adverbial
    adverbial_text = adverbial_words(adverbial.en, len(adverbial.en), c) if adverbial else []
    words = adverbial_text if fronted else []
    words = words + noun_phrase(clause.subject, f"{c}.subj")
    plural = clause.subject.plural
    if clause.tense == "perfect":
        words.append(Word("have" if plural else "has", frozenset({f"{c}.aux"})))
        forms = verb.en_participle
    else:
        forms = verb.en_simple(clause.tense, plural)
    if adverbial is not None and adverbial.kind == "frequency" and not fronted:
        words += adverbial_text
    words += [Word(form, frozenset({f"{c}.verb"})) for form in forms]
    if verb.en_particle:
        words.append(Word(verb.en_particle, frozenset({particle_key(c, verb)})))
    if clause.object is not None:
        words += noun_phrase(clause.object, f"{c}.obj")
    if clause.pp is not None:
        words += _prepositional_phrase(clause.pp, c)
    if adverbial is not None and adverbial.kind == "time" and not fronted:
        words += adverbial_text
    return words


def noun_phrase(np: NounPhrase, p: str) -> list[Word]:
    """Determiner, adjectives and noun; keys ``{p}.det``, ``{p}.adj{i}``, ``{p}.noun``."""
    words = [
        Word(adjective.en, frozenset({f"{p}.adj{i}"})) for i, adjective in enumerate(np.adjectives)
    ]
    words.append(Word(np.noun.en(np.plural), frozenset({f"{p}.noun"})))
    if np.determiner is not None:
        if np.determiner.kind == "indefinite":
            text = indefinite_article(words[0].text)
        else:
            text = np.determiner.en(np.plural)
        words.insert(0, Word(text, frozenset({f"{p}.det"})))
    return words


def _prepositional_phrase(pp: PrepositionalPhrase, c: str) -> list[Word]:
    place = pp.object.noun.place
    prepositions = {"dir": "to", "src": "from", "com": "with"}
    if pp.role in prepositions:
        preposition = prepositions[pp.role]
    elif place is not None:
        preposition = place.en_locative
    else:
        raise ValueError(
            f"A {pp.role!r} phrase needs a place noun, but has {pp.object.noun.en_singular!r}."
        )
    return [Word(preposition, frozenset({f"{c}.pp"}))] + noun_phrase(pp.object, f"{c}.pp.np")

"""Spanish realisation of a sentence plan.

Order: [fronted adverbial] subject [frequency adverb] [ha/han] verb object PP [time adverbial].
Adjectives follow the noun and agree in gender and number.  An adjective of origin, which
classifies, comes right after the noun; the others follow in English order, two or three of
them coordinated ("un coche alemán grande y rojo"; "y" becomes "e" before an /i/ sound:
"tranquilo e interesante").

The personal "a" marks a direct object that is a person or an animal and has a determiner
("llama a la mujer", "ve al perro", but "ve perros").  Spanish always uses it with specific
persons; with animals it is optional, and we always use it: a consistent rule, and verbs whose
objects are goods (buy, sell, eat) never take animals in this lexicon.  The "a" aligns to the
English determiner of the object, like the "a" inside "al"; "a" and "de" contract with "el".
The coordinating "y"/"e" has no English counterpart and aligns to nothing.
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

__all__ = ["conjunction_y", "realize_spanish"]

_PREPOSITIONS = {"loc": "en", "dir": "a", "arrive": "a", "src": "de", "com": "con"}
_CONTRACTIONS = {("a", "el"): "al", ("de", "el"): "del"}
_NO_KEYS: frozenset[str] = frozenset()


def conjunction_y(next_word: str) -> str:
    """'y', or 'e' before a word that starts with the sound /i/ (i-, hi- but not hie-, hia-)."""
    word = next_word.lower()
    if word.startswith(("i", "í")):
        return "e"
    if word.startswith(("hi", "hí")) and word[2:3] not in ("a", "e", "o", "u"):
        return "e"
    return "y"


def realize_spanish(plan: SentencePlan) -> list[Word]:
    """The Spanish words of ``plan`` (without the final capital and period)."""
    main = _clause(plan.main, "m", fronted=plan.adverbial_fronted)
    if plan.subordinate is None or plan.subordinator is None:
        return main
    subordinate = [Word(plan.subordinator.es, frozenset({SUBORDINATOR_KEY}))]
    subordinate += _clause(plan.subordinate, "s", fronted=False)
    if plan.subordinate_first:
        return with_comma(subordinate) + main
    return (with_comma(main) if plan.subordinator.es_comma else main) + subordinate


def _clause(clause: Clause, c: str, *, fronted: bool) -> list[Word]:
    verb = clause.verb
    adverbial = clause.adverbial
    adverbial_text = adverbial_words(adverbial.es, len(adverbial.en), c) if adverbial else []
    words = adverbial_text if fronted else []
    words = words + noun_phrase(clause.subject, f"{c}.subj")
    if adverbial is not None and adverbial.kind == "frequency" and not fronted:
        words += adverbial_text
    plural = clause.subject.plural
    verb_keys = frozenset({f"{c}.verb", particle_key(c, verb)})
    if clause.tense == "perfect":
        words.append(Word("han" if plural else "ha", frozenset({f"{c}.aux"})))
        words.append(Word(verb.es_participle, verb_keys))
    else:
        words.append(Word(verb.es_simple(clause.tense, plural), verb_keys))
    if clause.object is not None:
        words += _direct_object(clause.object, f"{c}.obj")
    if clause.pp is not None:
        words += _prepositional_phrase(clause.pp, c)
    if adverbial is not None and adverbial.kind == "time" and not fronted:
        words += adverbial_text
    return words


def _direct_object(np: NounPhrase, p: str) -> list[Word]:
    if np.noun.is_animate and np.determiner is not None:
        return noun_phrase(np, p, preposition=Word("a", frozenset({f"{p}.det"})))
    return noun_phrase(np, p)


def _prepositional_phrase(pp: PrepositionalPhrase, c: str) -> list[Word]:
    preposition = Word(_PREPOSITIONS[pp.role], frozenset({f"{c}.pp"}))
    return noun_phrase(pp.object, f"{c}.pp.np", preposition=preposition)


def noun_phrase(np: NounPhrase, p: str, *, preposition: Word | None = None) -> list[Word]:
    """[preposition] determiner noun adjectives, with a+el -> al and de+el -> del."""
    gender = np.noun.es_gender
    words = [] if preposition is None else [preposition]
    if np.determiner is not None:
        article = Word(np.determiner.es(gender, np.plural), frozenset({f"{p}.det"}))
        contraction = _CONTRACTIONS.get((preposition.text, article.text)) if preposition else None
        if contraction is not None:
            words[-1] = Word(contraction, words[-1].keys | article.keys)
        else:
            words.append(article)
    words.append(Word(np.noun.es(np.plural), frozenset({f"{p}.noun"})))
    adjectives = [
        (a.category == "origin", Word(a.es(gender, np.plural), frozenset({f"{p}.adj{i}"})))
        for i, a in enumerate(np.adjectives)
    ]
    words += [word for is_origin, word in adjectives if is_origin]  # "un vestido americano"
    qualifying = [word for is_origin, word in adjectives if not is_origin]
    if len(qualifying) >= 2:  # "grande y negro", "grande, viejo y negro"
        *first, second_last, last = qualifying
        commas = [with_comma([adjective])[0] for adjective in first]
        qualifying = [*commas, second_last, Word(conjunction_y(last.text), _NO_KEYS), last]
    return words + qualifying

"""German realisation of a sentence plan: the reorderings that make simultaneous translation hard.

Main clauses are verb-second: the finite verb follows the subject, a fronted adverbial
("Heute sieht der Hund ...") or, after a fronted subordinate clause, opens the clause itself.
The separable prefix and the perfect participle close the main clause (the verb bracket:
"ruft ... an", "hat ... gesehen"); subordinate clauses are verb-final with the prefix
re-attached ("..., weil der Mann die Frau anruft").  The middle field is: subject (when not
first), adverbial, object, prepositional phrase.

Nouns decline for nominative, accusative and dative (weak nouns: "den Jungen"; dative plural:
"den Kindern"); adjectives take weak endings after der/dieser/jeder, mixed endings after
ein/mein/unser, strong endings after numerals and in bare plurals.  Definite articles contract
with prepositions as in standard German ("im", "ins", "am", "zum", "zur", "vom").
"""

from __future__ import annotations

from typing import Literal

from simul.data.synth._words import (
    SUBORDINATOR_KEY,
    Word,
    adverbial_words,
    particle_key,
    with_comma,
)
from simul.data.synth.entries import Case, Determiner
from simul.data.synth.syntax import Clause, NounPhrase, PrepositionalPhrase, SentencePlan

__all__ = ["adjective_ending", "determiner_form", "realize_german"]

_Slot = Literal["m", "f", "n", "pl"]  # gender, or plural (genderless in German)
_CASES: tuple[Case, ...] = ("nom", "acc", "dat")


def _by_case(table: dict[_Slot, str]) -> dict[tuple[_Slot, Case], str]:
    return {
        (slot, case): form
        for slot, forms in table.items()
        for case, form in zip(_CASES, forms.split(","), strict=True)
    }


_DEFINITE = _by_case(
    {"m": "der,den,dem", "f": "die,die,der", "n": "das,das,dem", "pl": "die,die,den"}
)
# Endings of dieser/jeder, which are also the strong adjective endings.
_STRONG = _by_case({"m": "er,en,em", "f": "e,e,er", "n": "es,es,em", "pl": "e,e,en"})
_EIN = _by_case({"m": ",en,em", "f": "e,e,er", "n": ",,em", "pl": "e,e,en"})
_CONTRACTIONS = {
    ("in", "dem"): "im",
    ("in", "das"): "ins",
    ("an", "dem"): "am",
    ("an", "das"): "ans",
    ("zu", "dem"): "zum",
    ("zu", "der"): "zur",
    ("von", "dem"): "vom",
}
_AUXILIARY = {
    ("haben", False): "hat",
    ("haben", True): "haben",
    ("sein", False): "ist",
    ("sein", True): "sind",
}


def determiner_form(determiner: Determiner, slot: _Slot, case: Case) -> str:
    """The declined determiner: der/den/dem, dieser/diesen, ein/einen/einem, zwei."""
    if determiner.de_pattern == "der":
        return _DEFINITE[slot, case]
    if determiner.de_pattern == "dies":
        return determiner.de_stem + _STRONG[slot, case]
    if determiner.de_pattern == "ein":
        return determiner.de_stem + _EIN[slot, case]
    return determiner.de_stem


def adjective_ending(determiner: Determiner | None, slot: _Slot, case: Case) -> str:
    """Weak, mixed or strong adjective ending (den großen Hund, ein rotes Auto, große Hunde)."""
    if determiner is None or determiner.de_pattern == "invariable":
        return _STRONG[slot, case]
    if determiner.de_pattern == "ein" and _EIN[slot, case] == "":
        return _STRONG[slot, case]  # "ein" shows no gender, so the adjective does: ein großer Hund
    weak_e = (case == "nom" and slot != "pl") or (case == "acc" and slot in ("f", "n"))
    return "e" if weak_e else "en"


def realize_german(plan: SentencePlan) -> list[Word]:
    """The German words of ``plan`` (without the final capital and period)."""
    if plan.subordinate is None or plan.subordinator is None:
        return _main_clause(
            plan.main, "m", first="adverbial" if plan.adverbial_fronted else "subject"
        )
    sub = plan.subordinator
    conjunction = sub.de_past if plan.subordinate.tense == "past" else sub.de
    subordinate = [
        Word(conjunction, frozenset({SUBORDINATOR_KEY})),
        *_subordinate_clause(plan.subordinate, "s"),
    ]
    if plan.subordinate_first:
        return with_comma(subordinate) + _main_clause(plan.main, "m", first="verb")
    first = "adverbial" if plan.adverbial_fronted else "subject"
    return with_comma(_main_clause(plan.main, "m", first=first)) + subordinate


def _main_clause(
    clause: Clause, c: str, *, first: Literal["subject", "adverbial", "verb"]
) -> list[Word]:
    """Verb-second (or verb-first after a fronted subordinate clause) with the verb bracket."""
    finite, bracket = _verb_bracket(clause, c)
    adverbial = _adverbial(clause, c)
    subject = noun_phrase(clause.subject, "nom", f"{c}.subj")
    rest = _objects(clause, c) + bracket
    if first == "subject":
        return subject + [finite] + adverbial + rest
    if first == "adverbial":
        return adverbial + [finite] + subject + rest
    return [finite] + subject + adverbial + rest


def _subordinate_clause(clause: Clause, c: str) -> list[Word]:
    """Verb-final: the prefix re-attaches (anruft), the auxiliary follows the participle."""
    verb = clause.verb
    plural = clause.subject.plural
    both = frozenset({f"{c}.verb", particle_key(c, verb)})
    if clause.tense == "perfect":
        verbs = [
            Word(verb.de_participle, both),
            Word(_AUXILIARY[verb.de_auxiliary, plural], frozenset({f"{c}.aux"})),
        ]
    else:
        verbs = [Word((verb.de_prefix or "") + verb.de_simple(clause.tense, plural), both)]
    subject = noun_phrase(clause.subject, "nom", f"{c}.subj")
    return subject + _adverbial(clause, c) + _objects(clause, c) + verbs


def _verb_bracket(clause: Clause, c: str) -> tuple[Word, list[Word]]:
    """The finite verb of a main clause, and what closes the clause (prefix or participle)."""
    verb = clause.verb
    plural = clause.subject.plural
    if clause.tense == "perfect":
        finite = Word(_AUXILIARY[verb.de_auxiliary, plural], frozenset({f"{c}.aux"}))
        return finite, [Word(verb.de_participle, frozenset({f"{c}.verb", particle_key(c, verb)}))]
    finite = Word(verb.de_simple(clause.tense, plural), frozenset({f"{c}.verb"}))
    if verb.de_prefix is None:
        return finite, []
    return finite, [Word(verb.de_prefix, frozenset({particle_key(c, verb)}))]


def _adverbial(clause: Clause, c: str) -> list[Word]:
    if clause.adverbial is None:
        return []
    return adverbial_words(clause.adverbial.de, len(clause.adverbial.en), c)


def _objects(clause: Clause, c: str) -> list[Word]:
    words = []
    if clause.object is not None:
        words += noun_phrase(clause.object, clause.verb.de_object_case, f"{c}.obj")
    if clause.pp is not None:
        words += _prepositional_phrase(clause.pp, c)
    return words


def _prepositional_phrase(pp: PrepositionalPhrase, c: str) -> list[Word]:
    place = pp.object.noun.place
    if pp.role == "com":
        preposition, case = "mit", "dat"
    elif place is None:
        raise ValueError(
            f"A {pp.role!r} phrase needs a place noun, but has {pp.object.noun.en_singular!r}."
        )
    elif pp.role == "dir":
        preposition = place.de_directional
        case = "dat" if preposition == "zu" else "acc"
    else:
        preposition = place.de_source if pp.role == "src" else place.de_locative
        case = "dat"
    return noun_phrase(pp.object, case, f"{c}.pp.np", preposition=(preposition, f"{c}.pp"))


def noun_phrase(
    np: NounPhrase, case: Case, p: str, *, preposition: tuple[str, str] | None = None
) -> list[Word]:
    """Declined determiner, adjectives and noun, after an optional (preposition, key).

    A definite article contracts with the preposition where German does (in + dem -> im);
    the contraction carries both keys.
    """
    slot: _Slot = "pl" if np.plural else np.noun.de_gender
    determiner = np.determiner
    words = []
    if preposition is not None:
        words.append(Word(preposition[0], frozenset({preposition[1]})))
    if determiner is not None:
        article = Word(determiner_form(determiner, slot, case), frozenset({f"{p}.det"}))
        contraction = _CONTRACTIONS.get((preposition[0], article.text)) if preposition else None
        if contraction is not None and determiner.kind == "definite":
            words[-1] = Word(contraction, words[-1].keys | article.keys)
        else:
            words.append(article)
    ending = adjective_ending(determiner, slot, case)
    words += [Word(a.de(ending), frozenset({f"{p}.adj{i}"})) for i, a in enumerate(np.adjectives)]
    words.append(Word(np.noun.de(case, np.plural), frozenset({f"{p}.noun"})))
    return words

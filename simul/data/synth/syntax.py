"""The abstract sentences of the synchronous grammar, shared by the three realisers.

Why an abstract layer: one ``SentencePlan`` is realised in English, German and Spanish by
separate functions, each knowing only its own language's word order and morphology.  Every
realised word carries the keys of the abstract parts it expresses, so gold word alignments
fall out of the construction instead of being guessed afterwards.  Tests build plans by hand
to check one construction at a time; ``grammar.py`` samples them at random.

Examples:
    >>> from simul.data.synth import default_lexicon
    >>> lex = default_lexicon()
    >>> the = lex.determiner("the")
    >>> plan = SentencePlan(main=Clause(
    ...     subject=NounPhrase(lex.noun("dog"), the),
    ...     verb=lex.verb("see"),
    ...     object=NounPhrase(lex.noun("cat"), the)))
"""

from __future__ import annotations

from dataclasses import dataclass

from simul.data.synth.entries import (
    Adjective,
    Adverbial,
    Determiner,
    Noun,
    PPRole,
    Subordinator,
    Tense,
    Verb,
)

__all__ = ["Clause", "NounPhrase", "PrepositionalPhrase", "SentencePlan"]


@dataclass(frozen=True)
class NounPhrase:
    """Determiner, adjectives (in English order) and noun; ``determiner=None`` is a bare plural."""

    noun: Noun
    determiner: Determiner | None
    plural: bool = False
    adjectives: tuple[Adjective, ...] = ()

    def __post_init__(self) -> None:
        if self.determiner is None and not self.plural:
            raise ValueError(
                f"A bare noun phrase must be plural, but {self.noun.en_singular!r} is singular."
            )
        if self.determiner is not None and not self.determiner.supports(self.plural):
            number = "plural" if self.plural else "singular"
            raise ValueError(
                f"`determiner` must exist in the {number}, but {self.determiner.key!r} does not."
            )
        orders = [adjective.order for adjective in self.adjectives]
        if orders != sorted(set(orders)):
            raise ValueError(
                "`adjectives` must have distinct categories in English order, but are "
                f"{[a.en for a in self.adjectives]} instead."
            )


@dataclass(frozen=True)
class PrepositionalPhrase:
    """A place phrase (``loc``/``dir``/``src``/``arrive``) or a ``com`` ("with the dog") phrase."""

    role: PPRole
    object: NounPhrase

    def __post_init__(self) -> None:
        noun = self.object.noun
        if self.role == "com" and not noun.is_animate:
            raise ValueError(
                f"A 'com' phrase needs a person or animal, but has {noun.en_singular!r}."
            )
        if self.role != "com" and noun.place is None:
            raise ValueError(
                f"A {self.role!r} phrase needs a place noun, but has {noun.en_singular!r}."
            )


@dataclass(frozen=True)
class Clause:
    """One clause: subject, verb in a tense, optional object, PP and adverbial."""

    subject: NounPhrase
    verb: Verb
    tense: Tense = "present"
    object: NounPhrase | None = None
    pp: PrepositionalPhrase | None = None
    adverbial: Adverbial | None = None

    def __post_init__(self) -> None:
        verb = self.verb.key
        if self.tense not in self.verb.tenses:
            raise ValueError(
                f"`tense` of {verb!r} must be in {sorted(self.verb.tenses)}, but is {self.tense!r}."
            )
        if self.object is not None and not self.verb.is_transitive:
            raise ValueError(f"{verb!r} takes no object, but the clause has one.")
        if self.pp is not None and self.pp.role not in self.verb.pp_roles:
            raise ValueError(
                f"`pp.role` of {verb!r} must be in {self.verb.pp_roles}, but is {self.pp.role!r}."
            )
        if self.pp is None and self.verb.pp_required:
            raise ValueError(f"{verb!r} needs a prepositional phrase, but the clause has none.")
        if self.adverbial is not None and self.tense not in self.adverbial.tenses:
            raise ValueError(
                f"{self.adverbial.key!r} combines with {sorted(self.adverbial.tenses)}, "
                f"but the clause is in the {self.tense}."
            )

    @property
    def needs_object(self) -> bool:
        """Whether the clause lacks an object its verb requires (a that-clause can stand in)."""
        return self.object is None and self.verb.is_transitive and not self.verb.object_optional


@dataclass(frozen=True)
class SentencePlan:
    """A main clause with an optional subordinate clause, and the word-order choices.

    Attributes:
        main: the main clause.
        subordinate: the subordinate (verb-final in German) clause, if any.
        subordinator: the conjunction that introduces ``subordinate``.
        subordinate_first: the subordinate clause opens the sentence (German main clause then
            starts with its finite verb).
        adverbial_fronted: the main clause's adverbial opens the sentence (German verb-second
            inversion: "Heute sieht der Hund die Katze.").
    """

    main: Clause
    subordinate: Clause | None = None
    subordinator: Subordinator | None = None
    subordinate_first: bool = False
    adverbial_fronted: bool = False

    def __post_init__(self) -> None:
        if (self.subordinate is None) != (self.subordinator is None):
            raise ValueError(
                "`subordinate` and `subordinator` must be given together, but only one is."
            )
        complement = self.subordinator is not None and self.subordinator.agreement == "complement"
        _check_complement(self.main, complement)
        if self.adverbial_fronted and (
            self.main.adverbial is None or not self.main.adverbial.frontable
        ):
            raise ValueError("`adverbial_fronted` needs a frontable adverbial in the main clause.")
        if self.subordinate is None or self.subordinator is None:
            if self.subordinate_first:
                raise ValueError(
                    "`subordinate_first` needs a subordinate clause, but there is none."
                )
            return
        _check_complement(self.subordinate, complement=False)
        sub = self.subordinator
        if self.subordinate_first and (not sub.frontable or self.adverbial_fronted):
            raise ValueError(
                f"A {sub.en!r} clause can open the sentence only if frontable and no adverbial is fronted."
            )
        if self.subordinate.tense not in sub.tenses:
            raise ValueError(
                f"A {sub.en!r} clause must be in {sorted(sub.tenses)}, but is in the {self.subordinate.tense}."
            )
        if sub.agreement == "same" and self.subordinate.tense != self.main.tense:
            raise ValueError(
                f"A {sub.en!r} clause must share the main clause's tense ({self.main.tense}), "
                f"but is in the {self.subordinate.tense}."
            )


def _check_complement(clause: Clause, complement: bool) -> None:
    verb = clause.verb
    if complement:
        if not verb.takes_clause or clause.object is not None or clause.pp is not None:
            raise ValueError(
                f"A that-clause needs a main verb that takes one and no object or PP, but has {verb.key!r}."
            )
    elif verb.clause_only or clause.needs_object:
        raise ValueError(
            f"{verb.key!r} needs an object or a that-clause, but the clause has neither."
        )

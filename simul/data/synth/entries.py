"""The records of the synthetic grammar's lexicon: nouns, verbs, adjectives and function words.

Each record carries exactly the forms the grammar needs in English, German and Spanish (German
gender, weak-noun and dative-plural forms, separable prefixes and perfect auxiliaries; Spanish
gender and number agreement), plus semantic tags so that generated sentences mostly make sense.
``lexicon.py`` parses the tables into these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ADJECTIVE_CATEGORIES",
    "PP_ROLES",
    "TAGS",
    "TENSES",
    "Adjective",
    "Adverbial",
    "Case",
    "Determiner",
    "Noun",
    "PPRole",
    "Place",
    "Subordinator",
    "Tense",
    "Verb",
]

Case = Literal["nom", "acc", "dat"]
Tense = Literal["present", "past", "perfect"]
PPRole = Literal["loc", "dir", "src", "arrive", "com"]
TENSES: tuple[Tense, ...] = get_args(Tense)
PP_ROLES: tuple[PPRole, ...] = get_args(PPRole)
#: Semantic tags of nouns; verbs and adjectives select nouns by them.
TAGS = frozenset(
    "person animal thing document text container openable fragile dish toy plant hangable device "
    "clothing furniture vehicle aircraft food baked drink place building room".split()
)
#: Adjective categories in the order English and German stack them before a noun.
ADJECTIVE_CATEGORIES = ("opinion", "size", "quality", "age", "shape", "color", "origin")


@dataclass(frozen=True)
class Place:
    """How a place noun takes prepositions (Spanish always uses en / a / de)."""

    en_locative: str  # "in", "at" or "on" (in the garden, at the station, on the beach)
    de_locative: str  # + dative: "in", "an", "auf" (im Garten, am Bahnhof, auf dem Markt)
    de_directional: str  # "in"/"an"/"auf" + accusative or "zu" + dative (in den Garten, zum Markt)
    de_source: str  # + dative: "aus" or "von" (aus dem Garten, vom Bahnhof)


@dataclass(frozen=True)
class Noun:
    """A noun lemma with its English, German and Spanish forms."""

    en_singular: str
    en_plural: str
    tags: frozenset[str]
    de_gender: Literal["m", "f", "n"]
    de_singular: str  # nominative singular
    de_plural: str  # nominative plural
    de_oblique_singular: str  # accusative/dative singular: differs for weak nouns (den Jungen)
    es_gender: Literal["m", "f"]
    es_singular: str
    es_plural: str
    place: Place | None = None  # set for nouns tagged "place"

    def en(self, plural: bool) -> str:
        return self.en_plural if plural else self.en_singular

    def de(self, case: Case, plural: bool) -> str:
        """The German form; the dative plural adds -n unless the plural ends in -n or -s."""
        if plural:
            needs_n = case == "dat" and not self.de_plural.endswith(("n", "s"))
            return self.de_plural + "n" if needs_n else self.de_plural
        return self.de_singular if case == "nom" else self.de_oblique_singular

    def es(self, plural: bool) -> str:
        return self.es_plural if plural else self.es_singular

    @property
    def is_animate(self) -> bool:
        return "person" in self.tags or "animal" in self.tags


@dataclass(frozen=True)
class Adjective:
    """An adjective: English form, German stem for the endings, Spanish agreeing forms."""

    en: str
    de_stem: str
    es_forms: tuple[str, str, str, str]  # masculine sg, feminine sg, masculine pl, feminine pl
    category: str  # one of ADJECTIVE_CATEGORIES
    tags: frozenset[str]  # noun tags it combines with

    @property
    def order(self) -> int:
        """Position in an English/German adjective stack (opinion first, origin last)."""
        return ADJECTIVE_CATEGORIES.index(self.category)

    def de(self, ending: str) -> str:
        """Stem plus ending; a stem in -e takes no second e (müde + en -> müden)."""
        return self.de_stem[:-1] + ending if self.de_stem.endswith("e") else self.de_stem + ending

    def es(self, gender: Literal["m", "f"], plural: bool) -> str:
        return self.es_forms[(gender == "f") + 2 * plural]


@dataclass(frozen=True)
class Verb:
    """A verb lemma: forms in three languages and what it combines with.

    English forms are tuples of words because some are multi-word ("has breakfast"); the
    particle (``up`` of "picks up") is kept apart so that it can align with the German prefix.
    """

    en_3sg: tuple[str, ...]
    en_base: tuple[str, ...]
    en_past: tuple[str, ...]
    en_participle: tuple[str, ...]
    en_particle: str | None
    de_prefix: str | None  # separable prefix ("an" of anrufen), else None
    de_stem_infinitive: str  # infinitive without the prefix ("rufen"): also the 3pl present
    de_3sg: str  # without the prefix ("ruft")
    de_past: str  # 3sg simple past without the prefix ("rief")
    de_participle: str  # with the prefix ("angerufen")
    de_auxiliary: Literal["haben", "sein"]
    de_object_case: Case  # "acc", or "dat" for helfen/folgen
    es_3sg: str
    es_3pl: str
    es_past_3sg: str
    es_past_3pl: str
    es_participle: str
    subject_tags: frozenset[str]
    object_tags: frozenset[str]  # empty for intransitive verbs
    pp_roles: tuple[PPRole, ...]
    object_optional: bool
    pp_required: bool
    takes_clause: bool  # may take a that-clause instead of an object
    clause_only: bool  # takes only a that-clause (say, think)
    tenses: frozenset[Tense]

    @property
    def key(self) -> str:
        """English lookup key: the base form and particle ("pick up")."""
        return " ".join(self.en_base + ((self.en_particle,) if self.en_particle else ()))

    @property
    def de_infinitive(self) -> str:
        return (self.de_prefix or "") + self.de_stem_infinitive

    @property
    def is_separable(self) -> bool:
        return self.de_prefix is not None

    @property
    def is_transitive(self) -> bool:
        return bool(self.object_tags)

    def en_simple(self, tense: Literal["present", "past"], plural: bool) -> tuple[str, ...]:
        if tense == "past":
            return self.en_past
        return self.en_base if plural else self.en_3sg

    def de_simple(self, tense: Literal["present", "past"], plural: bool) -> str:
        """The finite form without its separable prefix (ruft, rufen, rief, riefen)."""
        if tense == "present":
            return self.de_stem_infinitive if plural else self.de_3sg
        if not plural:
            return self.de_past
        return self.de_past + ("n" if self.de_past.endswith("e") else "en")

    def es_simple(self, tense: Literal["present", "past"], plural: bool) -> str:
        if tense == "present":
            return self.es_3pl if plural else self.es_3sg
        return self.es_past_3pl if plural else self.es_past_3sg


@dataclass(frozen=True)
class Adverbial:
    """A time or frequency adverbial, possibly several words in each language."""

    en: tuple[str, ...]
    de: tuple[str, ...]
    es: tuple[str, ...]
    kind: Literal["time", "frequency"]
    frontable: bool  # may open the sentence in all three languages
    tenses: frozenset[Tense]

    @property
    def key(self) -> str:
        return " ".join(self.en)


@dataclass(frozen=True)
class Determiner:
    """An article, demonstrative, quantifier, possessive or numeral."""

    kind: Literal["definite", "indefinite", "demonstrative", "quantifier", "possessive", "numeral"]
    en_singular: str | None
    en_plural: str | None
    de_pattern: Literal["der", "dies", "ein", "invariable"]
    de_stem: str
    es_forms: tuple[str | None, str | None, str | None, str | None]

    @property
    def key(self) -> str:
        return self.en_singular or self.en_plural or ""

    def supports(self, plural: bool) -> bool:
        return (self.en_plural if plural else self.en_singular) is not None

    def en(self, plural: bool) -> str:
        form = self.en_plural if plural else self.en_singular
        if form is None:
            raise ValueError(
                f"determiner {self.key!r} has no {'plural' if plural else 'singular'}."
            )
        return form

    def es(self, gender: Literal["m", "f"], plural: bool) -> str:
        form = self.es_forms[(gender == "f") + 2 * plural]
        if form is None:
            raise ValueError(
                f"determiner {self.key!r} has no {'plural' if plural else 'singular'}."
            )
        return form


@dataclass(frozen=True)
class Subordinator:
    """A conjunction that introduces a subordinate clause (verb-final in German)."""

    en: str
    de: str
    de_past: str  # German form when the clause is in the past ("als" for "when")
    es: str
    frontable: bool  # the clause may precede the main clause
    en_comma: bool  # English comma before it when it follows the main clause
    es_comma: bool
    tenses: frozenset[Tense]  # tenses of the subordinate clause
    agreement: Literal["free", "same", "complement"]  # see SUBORDINATOR_TABLE

"""A bilingual English -> German / Spanish lexicon for the synthetic benchmark grammar.

Why a hand-written lexicon: the benchmark must build offline, and its gold word alignments are
only as good as the grammar's knowledge of which word translates which.  The data lives in
``_noun_table.py``, ``_verb_table.py`` and ``_word_table.py`` (one entry per line, columns
separated by ``|``, documented at the top of each table); this module parses and validates it
into the frozen records of ``entries.py``.

Examples:
    >>> lexicon = default_lexicon()
    >>> lexicon.noun("boy").de("acc", plural=False)
    'Jungen'
    >>> lexicon.verb("call").de_infinitive
    'anrufen'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from simul.data.synth._noun_table import NOUN_TABLE
from simul.data.synth._verb_table import VERB_TABLE
from simul.data.synth._word_table import (
    ADJECTIVE_TABLE,
    ADVERBIAL_TABLE,
    DETERMINER_TABLE,
    SUBORDINATOR_TABLE,
)
from simul.data.synth.entries import (
    ADJECTIVE_CATEGORIES,
    PP_ROLES,
    TAGS,
    TENSES,
    Adjective,
    Adverbial,
    Determiner,
    Noun,
    Place,
    Subordinator,
    Tense,
    Verb,
)

__all__ = ["Lexicon", "default_lexicon", "parse_lexicon"]

_Entry = TypeVar("_Entry")


@dataclass(frozen=True)
class Lexicon:
    """All entries of the lexicon, with lookups by English key."""

    nouns: tuple[Noun, ...]
    adjectives: tuple[Adjective, ...]
    verbs: tuple[Verb, ...]
    adverbials: tuple[Adverbial, ...]
    determiners: tuple[Determiner, ...]
    subordinators: tuple[Subordinator, ...]

    def noun(self, en_singular: str) -> Noun:
        return _lookup("noun", self.nouns, en_singular, lambda n: n.en_singular)

    def adjective(self, en: str) -> Adjective:
        return _lookup("adjective", self.adjectives, en, lambda a: a.en)

    def adverbial(self, en: str) -> Adverbial:
        return _lookup("adverbial", self.adverbials, en, lambda a: a.key)

    def determiner(self, en: str) -> Determiner:
        return _lookup("determiner", self.determiners, en, lambda d: d.key)

    def subordinator(self, en: str) -> Subordinator:
        return _lookup("subordinator", self.subordinators, en, lambda s: s.en)

    def verb(self, key: str, *, de: str | None = None) -> Verb:
        """The verb whose English key is ``key`` ("see", "pick up"); ``de``, a German
        infinitive, picks one of two senses ("know": ``kennen`` or ``wissen``)."""
        verbs = tuple(v for v in self.verbs if de is None or v.de_infinitive == de)
        return _lookup("verb", verbs, key, lambda v: v.key)

    def lemma_counts(self) -> dict[str, int]:
        """Number of entries by word class (one entry per English sense and translation)."""
        return {
            "nouns": len(self.nouns),
            "verbs": len(self.verbs),
            "adjectives": len(self.adjectives),
            "adverbials": len(self.adverbials),
            "determiners": len(self.determiners),
            "subordinators": len(self.subordinators),
        }


def _lookup(
    what: str, entries: Sequence[_Entry], key: str, key_of: Callable[[_Entry], str]
) -> _Entry:
    found = [entry for entry in entries if key_of(entry) == key]
    if len(found) != 1:
        count = "none" if not found else f"{len(found)} entries"
        raise ValueError(f"`{key}` must name one {what} of the lexicon, but names {count} instead.")
    return found[0]


@functools.cache
def default_lexicon() -> Lexicon:
    """The built-in lexicon, parsed once per process (it is immutable)."""
    return parse_lexicon(
        nouns=NOUN_TABLE,
        verbs=VERB_TABLE,
        adjectives=ADJECTIVE_TABLE,
        adverbials=ADVERBIAL_TABLE,
        determiners=DETERMINER_TABLE,
        subordinators=SUBORDINATOR_TABLE,
    )


def parse_lexicon(
    *,
    nouns: str,
    verbs: str,
    adjectives: str,
    adverbials: str,
    determiners: str,
    subordinators: str,
) -> Lexicon:
    """Parse the six tables (formats as in the table modules) into a validated ``Lexicon``.

    Raises:
        ValueError: naming the table, line and field of the first malformed entry, or a key
            that is not unique.
    """
    lexicon = Lexicon(
        nouns=tuple(_parse_noun(where, c) for where, c in _rows("NOUN_TABLE", nouns, (4, 6))),
        verbs=tuple(_parse_verb(where, c) for where, c in _rows("VERB_TABLE", verbs, (7,))),
        adjectives=tuple(
            _parse_adjective(where, c) for where, c in _rows("ADJECTIVE_TABLE", adjectives, (5,))
        ),
        adverbials=tuple(
            _parse_adverbial(where, c) for where, c in _rows("ADVERBIAL_TABLE", adverbials, (6,))
        ),
        determiners=tuple(
            _parse_determiner(where, c) for where, c in _rows("DETERMINER_TABLE", determiners, (4,))
        ),
        subordinators=tuple(
            _parse_subordinator(where, c)
            for where, c in _rows("SUBORDINATOR_TABLE", subordinators, (7,))
        ),
    )
    _check_unique("noun", [n.en_singular for n in lexicon.nouns])
    _check_unique("adjective", [a.en for a in lexicon.adjectives])
    _check_unique("verb", [f"{v.key} ({v.de_infinitive})" for v in lexicon.verbs])
    _check_unique("adverbial", [a.key for a in lexicon.adverbials])
    _check_unique("determiner", [d.key for d in lexicon.determiners])
    _check_unique("subordinator", [s.en for s in lexicon.subordinators])
    return lexicon


def _rows(name: str, text: str, num_columns: tuple[int, ...]) -> Iterator[tuple[str, list[str]]]:
    """Yield ``("TABLE line N", columns)`` for each entry, skipping comments and blank lines."""
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{name} line {line_number}"
        columns = [column.strip() for column in stripped.split("|")]
        if len(columns) not in num_columns:
            expected = " or ".join(str(n) for n in num_columns)
            raise ValueError(
                f"{where} must have {expected} columns separated by '|', "
                f"but has {len(columns)} instead: {stripped!r}."
            )
        yield where, columns


def _fields(where: str, column: str, counts: tuple[int, ...], what: str) -> list[str]:
    fields = column.split()
    if len(fields) not in counts:
        expected = " or ".join(str(n) for n in counts)
        raise ValueError(
            f"{where}: {what} must have {expected} fields, but has {len(fields)} instead: {column!r}."
        )
    return fields


def _choice(where: str, value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(
            f"{where}: {what} must be one of {sorted(allowed)}, but is {value!r} instead."
        )
    return value


def _tags(where: str, column: str, what: str) -> frozenset[str]:
    tags = frozenset(() if column == "-" else column.split())
    unknown = sorted(tags - TAGS)
    if unknown:
        raise ValueError(
            f"{where}: {what} must be among {sorted(TAGS)}, but has {unknown} instead."
        )
    return tags


def _tenses(where: str, names: Sequence[str]) -> frozenset[Tense]:
    return frozenset(_choice(where, name, TENSES, "a tense") for name in names)


def _words(form: str) -> tuple[str, ...]:
    return tuple(form.split("_"))


def _parse_noun(where: str, columns: list[str]) -> Noun:
    en_singular, en_plural = _fields(where, columns[0], (2,), "the English column")
    tags = _tags(where, columns[1], "the tags")
    de = _fields(where, columns[2], (3, 4), "the German column")
    es_gender, es_singular, es_plural = _fields(where, columns[3], (3,), "the Spanish column")
    place = None
    if len(columns) == 6:
        en_locative = _choice(where, columns[4], ("in", "at", "on"), "the English locative")
        de_loc, de_dir, de_src = _fields(where, columns[5], (3,), "the German prepositions")
        place = Place(
            en_locative=en_locative,
            de_locative=_choice(where, de_loc, ("in", "an", "auf"), "the German locative"),
            de_directional=_choice(
                where, de_dir, ("in", "an", "auf", "zu"), "the German directional"
            ),
            de_source=_choice(where, de_src, ("aus", "von"), "the German source preposition"),
        )
    if (place is not None) != ("place" in tags):
        raise ValueError(
            f"{where}: a noun must have the preposition columns exactly when tagged 'place'."
        )
    return Noun(
        en_singular=en_singular,
        en_plural=en_plural,
        tags=tags,
        de_gender=_choice(where, de[0], ("m", "f", "n"), "the German gender"),
        de_singular=de[1],
        de_plural=de[2],
        de_oblique_singular=de[3] if len(de) == 4 else de[1],
        es_gender=_choice(where, es_gender, ("m", "f"), "the Spanish gender"),
        es_singular=es_singular,
        es_plural=es_plural,
        place=place,
    )


_VERB_OPTIONS = ("optional-object", "pp-required", "clause", "clause-only")


def _parse_verb(where: str, columns: list[str]) -> Verb:
    en = _fields(where, columns[0], (4, 5), "the English column")
    de = _fields(where, columns[1], (5, 6), "the German column")
    es = _fields(where, columns[2], (5,), "the Spanish column")
    prefix, _, stem = de[0].rpartition("+")
    object_tags = _tags(where, columns[4], "the object tags")
    pp_roles = tuple(_choice(where, r, PP_ROLES, "a PP role") for r in _tags_or_none(columns[5]))
    options = _tags_or_none(columns[6])
    tenses = _tenses(where, TENSES)
    for option in options:
        if option.startswith("tenses="):
            tenses = _tenses(where, option.removeprefix("tenses=").split(","))
        else:
            _choice(where, option, _VERB_OPTIONS, "an option")
    verb = Verb(
        en_3sg=_words(en[0]),
        en_base=_words(en[1]),
        en_past=_words(en[2]),
        en_participle=_words(en[3]),
        en_particle=en[4] if len(en) == 5 else None,
        de_prefix=prefix or None,
        de_stem_infinitive=stem,
        de_3sg=de[1],
        de_past=de[2],
        de_participle=de[3],
        de_auxiliary=_choice(where, de[4], ("haben", "sein"), "the German auxiliary"),
        de_object_case=_choice(where, de[5], ("dat",), "the object case")
        if len(de) == 6
        else "acc",
        es_3sg=es[0],
        es_3pl=es[1],
        es_past_3sg=es[2],
        es_past_3pl=es[3],
        es_participle=es[4],
        subject_tags=_tags(where, columns[3], "the subject tags"),
        object_tags=object_tags,
        pp_roles=pp_roles,
        object_optional="optional-object" in options,
        pp_required="pp-required" in options,
        takes_clause="clause" in options or "clause-only" in options,
        clause_only="clause-only" in options,
        tenses=tenses,
    )
    if not verb.subject_tags:
        raise ValueError(f"{where}: a verb must have subject tags, but has none.")
    if verb.object_optional and not verb.is_transitive:
        raise ValueError(f"{where}: 'optional-object' needs object tags, but the verb has none.")
    if verb.clause_only and verb.is_transitive:
        raise ValueError(f"{where}: 'clause-only' forbids object tags, but the verb has some.")
    if verb.pp_required and not verb.pp_roles:
        raise ValueError(f"{where}: 'pp-required' needs PP roles, but the verb has none.")
    return verb


def _tags_or_none(column: str) -> list[str]:
    return [] if column == "-" else column.split()


def _parse_adjective(where: str, columns: list[str]) -> Adjective:
    (en,) = _fields(where, columns[0], (1,), "the English column")
    (de_stem,) = _fields(where, columns[1], (1,), "the German column")
    es = _fields(where, columns[2], (4,), "the Spanish column")
    return Adjective(
        en=en,
        de_stem=de_stem,
        es_forms=(es[0], es[1], es[2], es[3]),
        category=_choice(where, columns[3], ADJECTIVE_CATEGORIES, "the category"),
        tags=_tags(where, columns[4], "the tags"),
    )


def _parse_adverbial(where: str, columns: list[str]) -> Adverbial:
    return Adverbial(
        en=tuple(columns[0].split()),
        de=tuple(columns[1].split()),
        es=tuple(columns[2].split()),
        kind=_choice(where, columns[3], ("time", "frequency"), "the kind"),
        frontable=_choice(where, columns[4], ("front", "-"), "the fronting column") == "front",
        tenses=_tenses(where, columns[5].split()),
    )


def _parse_determiner(where: str, columns: list[str]) -> Determiner:
    kinds = ("definite", "indefinite", "demonstrative", "quantifier", "possessive", "numeral")
    en = [None if f == "-" else f for f in _fields(where, columns[1], (2,), "the English column")]
    pattern, stem = _fields(where, columns[2], (2,), "the German column")
    es = [None if f == "-" else f for f in _fields(where, columns[3], (4,), "the Spanish column")]
    return Determiner(
        kind=_choice(where, columns[0], kinds, "the kind"),
        en_singular=en[0],
        en_plural=en[1],
        de_pattern=_choice(where, pattern, ("der", "dies", "ein", "invariable"), "the pattern"),
        de_stem=stem,
        es_forms=(es[0], es[1], es[2], es[3]),
    )


def _parse_subordinator(where: str, columns: list[str]) -> Subordinator:
    de = _fields(where, columns[1], (1, 2), "the German column")
    en_comma, es_comma = _fields(where, columns[4], (2,), "the comma column")
    return Subordinator(
        en=columns[0],
        de=de[0],
        de_past=de[-1],
        es=columns[2],
        frontable=_choice(where, columns[3], ("front", "-"), "the fronting column") == "front",
        en_comma=_choice(where, en_comma, (",", "-"), "the English comma") == ",",
        es_comma=_choice(where, es_comma, (",", "-"), "the Spanish comma") == ",",
        tenses=_tenses(where, columns[5].split()),
        agreement=_choice(where, columns[6], ("free", "same", "complement"), "the agreement"),
    )


def _check_unique(what: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(
                f"{what} keys must be unique in the lexicon, but {key!r} appears twice."
            )
        seen.add(key)

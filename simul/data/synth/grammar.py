"""A synchronous English -> German / Spanish grammar whose reordering rates are knobs.

Why: simultaneous translation is hard exactly where the target must wait for source words that
come late: the German verb bracket (separable prefixes, perfect participles), verb-final
subordinate clauses, verb-second inversion after a fronted adverbial, Spanish adjectives after
the noun.  Each of these is a rate in ``GrammarConfig``, so a researcher can measure how a
policy's latency grows with reordering, on sentences that are correct in all three languages
and come with gold word alignments.

Generation is deterministic for a seed: all randomness comes from one ``random.Random(seed)``
and never from sets or the global random state.

Examples:
    >>> sentences = generate_sentences(GrammarConfig(subordinate_clause_rate=1.0), 2, seed=0)
    >>> all("subordinate" in s.phenomena for s in sentences)
    True
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

from simul.data.synth.entries import (
    TENSES,
    Adjective,
    Adverbial,
    Determiner,
    Noun,
    PPRole,
    Subordinator,
    Tense,
)
from simul.data.synth.lexicon import Lexicon, default_lexicon
from simul.data.synth.realize import SynthSentence, realize_sentence
from simul.data.synth.syntax import Clause, NounPhrase, PrepositionalPhrase, SentencePlan

__all__ = ["GrammarConfig", "generate_sentences", "sample_plan"]

_T = TypeVar("_T")
# Consecutive duplicate draws after which de-duplication gives up (the space is exhausted).
_MAX_DUPLICATE_DRAWS = 1000
_MAX_ADJECTIVES = 3
_ALL_DETERMINERS = frozenset({"indefinite", "demonstrative", "quantifier", "possessive", "numeral"})
_PLACE_DETERMINERS = frozenset({"indefinite", "demonstrative", "possessive"})


@dataclass(frozen=True, kw_only=True)
class GrammarConfig:
    """Rates (probabilities in [0, 1]) of the constructions the grammar generates.

    Conditional rates say what they are conditioned on; they are honoured exactly when the
    lexicon allows it (e.g. a that-clause's main verb, like "says", is never separable).
    """

    subordinate_clause_rate: float = 0.35
    """P(a sentence has a subordinate clause: because/although/when/while/if/that)."""
    subordinate_first_rate: float = 0.3
    """P(the subordinate clause opens the sentence | it has one); "because"/"that" never do."""
    separable_verb_rate: float = 0.3
    """P(a clause's verb is a German separable verb (anrufen: ruft ... an))."""
    adverb_rate: float = 0.35
    """P(a clause has a time or frequency adverbial (today, on Monday, often))."""
    adverb_fronting_rate: float = 0.5
    """P(the main clause's adverbial opens the sentence | it has one and no clause is fronted)."""
    past_tense_rate: float = 0.25
    """P(a main clause is in the simple past); subordinate clauses follow their conjunction."""
    perfect_tense_rate: float = 0.2
    """P(a main clause is in the perfect: German "hat ... gesehen"); past + perfect <= 1."""
    adjective_rate: float = 0.3
    """P(a noun phrase gets one more adjective), tried up to ``max_adjectives`` times."""
    max_adjectives: int = 2
    """Most adjectives in one noun phrase (0 to 3)."""
    plural_rate: float = 0.25
    """P(a subject, object or "with" phrase is plural); place phrases stay singular."""
    definite_rate: float = 0.6
    """P(a noun phrase takes "the"); otherwise a/this/every/my/his/her/our/numerals, or none."""
    prepositional_phrase_rate: float = 0.35
    """P(a clause whose verb allows a PP gets one); "goes", "lives", "drives" always do."""
    optional_object_rate: float = 0.7
    """P(a verb whose object is optional (eats, reads) gets one)."""
    deduplicate: bool = True
    """Whether one call returns no two sentences with the same English text."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_rate") and not (
                isinstance(value, (int, float)) and 0 <= value <= 1
            ):
                raise ValueError(
                    f"`{field.name}` must be a probability in [0, 1], but is {value!r} instead."
                )
        if (
            not isinstance(self.max_adjectives, int)
            or not 0 <= self.max_adjectives <= _MAX_ADJECTIVES
        ):
            raise ValueError(
                f"`max_adjectives` must be an integer in [0, {_MAX_ADJECTIVES}], "
                f"but is {self.max_adjectives!r} instead."
            )
        if self.past_tense_rate + self.perfect_tense_rate > 1:
            raise ValueError(
                "`past_tense_rate + perfect_tense_rate` must be <= 1, but is "
                f"{self.past_tense_rate + self.perfect_tense_rate} instead."
            )


def generate_sentences(config: GrammarConfig, num_sentences: int, seed: int) -> list[SynthSentence]:
    """Generate ``num_sentences`` aligned triples, the same ones for the same config and seed.

    Raises:
        ValueError: for a negative ``num_sentences``, or when de-duplication cannot find
            enough distinct sentences (only with extreme configs).
    """
    if not isinstance(num_sentences, int) or num_sentences < 0:
        raise ValueError(
            f"`num_sentences` must be an integer >= 0, but is {num_sentences!r} instead."
        )
    rng = random.Random(seed)
    lexicon = default_lexicon()
    sentences: list[SynthSentence] = []
    seen: set[tuple[str, ...]] = set()
    duplicate_draws = 0
    while len(sentences) < num_sentences:
        sentence = realize_sentence(sample_plan(rng, lexicon, config))
        if config.deduplicate and sentence.source_words in seen:
            duplicate_draws += 1
            if duplicate_draws > _MAX_DUPLICATE_DRAWS:
                raise ValueError(
                    f"`num_sentences` must be at most the number of distinct sentences this config "
                    f"yields, but {num_sentences} is more: only {len(sentences)} found."
                )
            continue
        duplicate_draws = 0
        seen.add(sentence.source_words)
        sentences.append(sentence)
    return sentences


def sample_plan(rng: random.Random, lexicon: Lexicon, config: GrammarConfig) -> SentencePlan:
    """Draw one abstract sentence: main clause, maybe a subordinate clause, word-order choices."""
    main_tense = _sample_tense(rng, config, TENSES)
    if rng.random() >= config.subordinate_clause_rate:
        main, fronted = _sample_clause(
            rng, lexicon, config, main_tense, complement=False, may_front=True
        )
        return SentencePlan(main=main, adverbial_fronted=fronted)
    first = rng.random() < config.subordinate_first_rate
    subordinator = _choose(
        rng, [s for s in lexicon.subordinators if _fits(s, main_tense, first)], "subordinator"
    )
    if subordinator.agreement == "same":
        sub_tense = main_tense
    else:
        sub_tense = _sample_tense(rng, config, sorted(subordinator.tenses, key=TENSES.index))
    complement = subordinator.agreement == "complement"
    main, fronted = _sample_clause(
        rng, lexicon, config, main_tense, complement=complement, may_front=not first
    )
    subordinate, _ = _sample_clause(
        rng, lexicon, config, sub_tense, complement=False, may_front=False
    )
    return SentencePlan(
        main=main,
        subordinate=subordinate,
        subordinator=subordinator,
        subordinate_first=first,
        adverbial_fronted=fronted,
    )


def _fits(subordinator: Subordinator, main_tense: Tense, first: bool) -> bool:
    if first and not subordinator.frontable:
        return False
    return subordinator.agreement != "same" or main_tense in subordinator.tenses


def _choose(rng: random.Random, options: Sequence[_T], what: str) -> _T:
    if not options:
        raise ValueError(f"The lexicon must offer a {what} for this clause, but offers none.")
    return rng.choice(options)


def _sample_tense(rng: random.Random, config: GrammarConfig, allowed: Sequence[Tense]) -> Tense:
    rates = {
        "present": 1 - config.past_tense_rate - config.perfect_tense_rate,
        "past": config.past_tense_rate,
        "perfect": config.perfect_tense_rate,
    }
    weights = [max(rates[tense], 0.0) for tense in allowed]
    if sum(weights) <= 0:
        return rng.choice(list(allowed))
    return rng.choices(list(allowed), weights=weights)[0]


def _sample_clause(
    rng: random.Random,
    lexicon: Lexicon,
    config: GrammarConfig,
    tense: Tense,
    *,
    complement: bool,
    may_front: bool,
) -> tuple[Clause, bool]:
    """A clause in ``tense``; ``complement``: its verb takes the that-clause instead of an object.

    Returns:
        The clause, and whether its adverbial is fronted.
    """
    verbs = [
        v
        for v in lexicon.verbs
        if tense in v.tenses and (v.takes_clause if complement else not v.clause_only)
    ]
    separable = rng.random() < config.separable_verb_rate
    verb = _choose(rng, [v for v in verbs if v.is_separable == separable] or verbs, "verb")
    subject = _sample_noun_phrase(rng, lexicon, config, verb.subject_tags)
    obj = None
    if verb.is_transitive and not complement:
        if not verb.object_optional or rng.random() < config.optional_object_rate:
            obj = _sample_noun_phrase(
                rng, lexicon, config, verb.object_tags, exclude=subject.noun, bare=True
            )
    pp = None
    roles = [
        r
        for r in verb.pp_roles
        if not (r == "loc" and obj is not None and obj.noun.place is not None)
    ]
    if (
        roles
        and not complement
        and (verb.pp_required or rng.random() < config.prepositional_phrase_rate)
    ):
        pp = _sample_prepositional_phrase(
            rng, lexicon, config, rng.choice(roles), exclude=subject.noun
        )
    adverbial: Adverbial | None = None
    fronted = False
    if rng.random() < config.adverb_rate:
        fronted = may_front and rng.random() < config.adverb_fronting_rate
        options = [
            a for a in lexicon.adverbials if tense in a.tenses and (a.frontable or not fronted)
        ]
        adverbial = _choose(rng, options, "adverbial")
    clause = Clause(subject=subject, verb=verb, tense=tense, object=obj, pp=pp, adverbial=adverbial)
    return clause, fronted


def _sample_prepositional_phrase(
    rng: random.Random, lexicon: Lexicon, config: GrammarConfig, role: PPRole, *, exclude: Noun
) -> PrepositionalPhrase:
    if role == "com":
        np = _sample_noun_phrase(
            rng, lexicon, config, frozenset({"person", "animal"}), exclude=exclude
        )
    else:  # one place, with an article, a demonstrative or a possessive ("in my garden")
        np = _sample_noun_phrase(
            rng, lexicon, config, frozenset({"place"}), plural=False, kinds=_PLACE_DETERMINERS
        )
    return PrepositionalPhrase(role=role, object=np)


def _sample_noun_phrase(
    rng: random.Random,
    lexicon: Lexicon,
    config: GrammarConfig,
    tags: frozenset[str],
    *,
    exclude: Noun | None = None,
    plural: bool = True,
    bare: bool = False,
    kinds: frozenset[str] = _ALL_DETERMINERS,
) -> NounPhrase:
    """A noun with one of ``tags``; ``plural``/``bare`` allow those forms, ``kinds`` the
    determiner kinds besides "the"."""
    nouns = [n for n in lexicon.nouns if n.tags & tags and n != exclude]
    noun = _choose(rng, nouns, f"noun tagged {sorted(tags)}")
    is_plural = plural and rng.random() < config.plural_rate
    determiner = _sample_determiner(rng, lexicon, config, is_plural, bare=bare, kinds=kinds)
    return NounPhrase(noun, determiner, is_plural, _sample_adjectives(rng, lexicon, config, noun))


def _sample_determiner(
    rng: random.Random,
    lexicon: Lexicon,
    config: GrammarConfig,
    plural: bool,
    *,
    bare: bool,
    kinds: frozenset[str],
) -> Determiner | None:
    """Draw "the" with ``definite_rate``, else another kind uniformly (``None``: bare plural)."""
    if rng.random() < config.definite_rate:
        return lexicon.determiner("the")
    usable = [d for d in lexicon.determiners if d.kind in kinds and d.supports(plural)]
    options: list[str | None] = sorted({d.kind for d in usable})
    if plural and bare:
        options.append(None)
    kind = _choose(rng, options, "determiner")
    if kind is None:
        return None
    return rng.choice([d for d in usable if d.kind == kind])


def _sample_adjectives(
    rng: random.Random, lexicon: Lexicon, config: GrammarConfig, noun: Noun
) -> tuple[Adjective, ...]:
    chosen: list[Adjective] = []
    while len(chosen) < config.max_adjectives and rng.random() < config.adjective_rate:
        used = {a.category for a in chosen}
        options = [a for a in lexicon.adjectives if a.tags & noun.tags and a.category not in used]
        if not options:
            break
        chosen.append(rng.choice(options))
    return tuple(sorted(chosen, key=lambda a: a.order))

"""The synthetic EN -> DE/ES grammar: correct sentences, complete alignments, honest rates."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.data.synth import (
    PHENOMENA,
    Clause,
    GrammarConfig,
    NounPhrase,
    PrepositionalPhrase,
    SentencePlan,
    SynthSentence,
    default_lexicon,
    generate_sentences,
    realize_sentence,
    sample_plan,
)
from simul.data.synth._spanish import conjunction_y
from simul.data.synth.lexicon import parse_lexicon

LEX = default_lexicon()
# Target words that translate nothing: the Spanish conjunction between two adjectives.
UNALIGNED_TARGET_WORDS = {"de": set(), "es": {"y", "e"}}


def np(noun: str, det: str | None = "the", *adjectives: str, plural: bool = False) -> NounPhrase:
    determiner = None if det is None else LEX.determiner(det)
    return NounPhrase(
        LEX.noun(noun), determiner, plural, tuple(LEX.adjective(a) for a in adjectives)
    )


def clause(subject: NounPhrase, verb: str, obj: NounPhrase | None = None, **kwargs) -> Clause:
    return Clause(subject=subject, verb=LEX.verb(verb), object=obj, **kwargs)


def texts(plan: SentencePlan) -> tuple[str, str, str]:
    sentence = realize_sentence(plan)
    return sentence.source_text, sentence.target_text("de"), sentence.target_text("es")


def simple(
    subject: NounPhrase, verb: str, obj: NounPhrase | None = None, **kwargs
) -> tuple[str, str, str]:
    return texts(SentencePlan(main=clause(subject, verb, obj, **kwargs)))


def check_sentence(sentence: SynthSentence) -> None:
    """Invariants every generated sentence must satisfy."""
    source = sentence.source_words
    assert source[0][0].isupper() and source[-1].endswith(".")
    assert sentence.phenomena <= set(PHENOMENA)
    assert sorted(sentence.target_words) == ["de", "es"]
    for lang, target in sentence.target_words.items():
        assert all(
            word and word not in {",", "."} and " " not in word for word in (*source, *target)
        )
        assert target[0][0].isupper() and target[-1].endswith(".")
        pairs = sentence.alignments[lang]
        assert list(pairs) == sorted(set(pairs))
        assert all(0 <= i < len(source) and 0 <= j < len(target) for i, j in pairs)
        assert {i for i, _ in pairs} == set(range(len(source))), "every source word is aligned"
        unaligned = {target[j].strip(".,") for j in set(range(len(target))) - {j for _, j in pairs}}
        assert unaligned <= UNALIGNED_TARGET_WORDS[lang], (
            f"{lang} words aligned to nothing: {unaligned}"
        )


# --- determinism, configuration ---------------------------------------------------------------


def test_same_seed_same_sentences_other_seed_other_sentences() -> None:
    config = GrammarConfig()
    first = generate_sentences(config, 50, seed=3)
    assert first == generate_sentences(config, 50, seed=3)
    assert [s.source_words for s in first] != [
        s.source_words for s in generate_sentences(config, 50, seed=4)
    ]


def test_generation_ignores_global_random_state() -> None:
    random.seed(1)
    first = generate_sentences(GrammarConfig(), 10, seed=0)
    random.seed(2)
    assert first == generate_sentences(GrammarConfig(), 10, seed=0)


def test_deduplication_returns_distinct_sentences() -> None:
    sentences = generate_sentences(GrammarConfig(), 300, seed=0)
    assert len({s.source_words for s in sentences}) == 300


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subordinate_clause_rate", 1.5),
        ("adjective_rate", -0.1),
        ("plural_rate", "high"),
        ("max_adjectives", 4),
    ],
)
def test_config_rejects_out_of_range_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"`{field}` must be"):
        GrammarConfig(**{field: value})


def test_config_rejects_tense_rates_above_one() -> None:
    with pytest.raises(ValueError, match="past_tense_rate \\+ perfect_tense_rate"):
        GrammarConfig(past_tense_rate=0.6, perfect_tense_rate=0.5)


def test_negative_sentence_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="`num_sentences` must be"):
        generate_sentences(GrammarConfig(), -1, seed=0)


# --- alignments and invariants ----------------------------------------------------------------


def test_alignments_cover_every_word_over_many_sentences() -> None:
    config = GrammarConfig(max_adjectives=3, adjective_rate=0.5, subordinate_clause_rate=0.6)
    for sentence in generate_sentences(config, 1000, seed=11):
        check_sentence(sentence)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    rates=st.lists(st.floats(0, 1), min_size=9, max_size=9),
    tense=st.floats(0, 1),
    max_adjectives=st.integers(0, 3),
)
def test_any_config_yields_well_formed_aligned_sentences(
    seed: int, rates: list[float], tense: float, max_adjectives: int
) -> None:
    names = [
        "subordinate_clause_rate",
        "subordinate_first_rate",
        "separable_verb_rate",
        "adverb_rate",
        "adverb_fronting_rate",
        "adjective_rate",
        "plural_rate",
        "definite_rate",
        "prepositional_phrase_rate",
    ]
    config = GrammarConfig(
        **dict(zip(names, rates, strict=True)),
        past_tense_rate=tense / 2,
        perfect_tense_rate=tense / 2,
        max_adjectives=max_adjectives,
    )
    for sentence in generate_sentences(config, 15, seed=seed):
        check_sentence(sentence)


def test_separable_verb_alignment_is_one_to_many() -> None:
    sentence = realize_sentence(SentencePlan(main=clause(np("man"), "call", np("woman"))))
    assert sentence.target_words["de"] == ("Der", "Mann", "ruft", "die", "Frau", "an.")
    assert sentence.alignments["de"] == ((0, 0), (1, 1), (2, 2), (2, 5), (3, 3), (4, 4))
    # Spanish personal "a" aligns to the object's determiner, as does the article after it.
    assert sentence.target_words["es"] == ("El", "hombre", "llama", "a", "la", "mujer.")
    assert sentence.alignments["es"] == ((0, 0), (1, 1), (2, 2), (3, 3), (3, 4), (4, 5))


def test_english_particle_aligns_to_the_german_prefix() -> None:
    sentence = realize_sentence(SentencePlan(main=clause(np("woman"), "pick up", np("child"))))
    assert sentence.source_words == ("The", "woman", "picks", "up", "the", "child.")
    assert sentence.target_words["de"] == ("Die", "Frau", "holt", "das", "Kind", "ab.")
    assert (2, 2) in sentence.alignments["de"] and (3, 5) in sentence.alignments["de"]
    assert (2, 5) not in sentence.alignments["de"]
    looks = realize_sentence(SentencePlan(main=clause(np("dog"), "look for", np("ball"))))
    assert looks.target_words["de"] == ("Der", "Hund", "sucht", "den", "Ball.")
    assert {(2, 2), (3, 2)} <= set(looks.alignments["de"])  # "looks for" -> "sucht"


def test_contractions_align_to_preposition_and_article() -> None:
    pp = PrepositionalPhrase("loc", np("garden"))
    sentence = realize_sentence(SentencePlan(main=clause(np("man"), "sleep", pp=pp)))
    assert sentence.source_words == ("The", "man", "sleeps", "in", "the", "garden.")
    assert sentence.target_words["de"] == ("Der", "Mann", "schläft", "im", "Garten.")
    assert {(3, 3), (4, 3), (5, 4)} <= set(sentence.alignments["de"])


# --- German and Spanish noun phrases ----------------------------------------------------------


# fmt: off
@pytest.mark.parametrize(
    ("subject", "verb", "obj", "expected"),
    [
        (np("man"), "see", np("dog", "the", "big"), ("The man sees the big dog.", "Der Mann sieht den großen Hund.", "El hombre ve al perro grande.")),
        (np("man"), "see", np("dog", "a", "big"), ("The man sees a big dog.", "Der Mann sieht einen großen Hund.", "El hombre ve a un perro grande.")),
        (np("dog", "a", "big"), "see", np("cat", "the", "small"), ("A big dog sees the small cat.", "Ein großer Hund sieht die kleine Katze.", "Un perro grande ve al gato pequeño.")),
        (np("man"), "see", np("car", "the", "red"), ("The man sees the red car.", "Der Mann sieht das rote Auto.", "El hombre ve el coche rojo.")),
        (np("man"), "see", np("car", "a", "red"), ("The man sees a red car.", "Der Mann sieht ein rotes Auto.", "El hombre ve un coche rojo.")),
        (np("car", "a", "red"), "disappear", None, ("A red car disappears.", "Ein rotes Auto verschwindet.", "Un coche rojo desaparece.")),
        (np("man"), "help", np("child", "the", "small"), ("The man helps the small child.", "Der Mann hilft dem kleinen Kind.", "El hombre ayuda al niño pequeño.")),
        (np("man"), "help", np("woman", "a", "small"), ("The man helps a small woman.", "Der Mann hilft einer kleinen Frau.", "El hombre ayuda a una mujer pequeña.")),
        (np("man"), "see", np("dog", None, "big", plural=True), ("The man sees big dogs.", "Der Mann sieht große Hunde.", "El hombre ve perros grandes.")),
        (np("woman"), "help", np("child", "two", "small", plural=True), ("The woman helps two small children.", "Die Frau hilft zwei kleinen Kindern.", "La mujer ayuda a dos niños pequeños.")),
        (np("man"), "see", np("boy"), ("The man sees the boy.", "Der Mann sieht den Jungen.", "El hombre ve al chico.")),
        (np("dog", "my", "small", plural=True), "see", np("cat", "this"), ("My small dogs see this cat.", "Meine kleinen Hunde sehen diese Katze.", "Mis perros pequeños ven a este gato.")),
        (np("horse", "every", "old"), "see", np("house", "our"), ("Every old horse sees our house.", "Jedes alte Pferd sieht unser Haus.", "Cada caballo viejo ve nuestra casa.")),
        (np("woman", "the", plural=True), "see", np("house", "the", "white", plural=True), ("The women see the white houses.", "Die Frauen sehen die weißen Häuser.", "Las mujeres ven las casas blancas.")),
        (np("dog", "a", "old"), "see", np("elephant", "a"), ("An old dog sees an elephant.", "Ein alter Hund sieht einen Elefanten.", "Un perro viejo ve a un elefante.")),
        (np("man"), "see", np("university", "a"), ("The man sees a university.", "Der Mann sieht eine Universität.", "El hombre ve una universidad.")),
    ],
)
# fmt: on
def test_noun_phrases_decline_and_agree(subject, verb, obj, expected) -> None:
    assert simple(subject, verb, obj) == expected


def test_spanish_adjectives_follow_the_noun_origin_first_then_coordinated() -> None:
    _, de, es = simple(np("man"), "see", np("car", "the", "big", "old", "German"))
    assert de == "Der Mann sieht das große alte deutsche Auto."
    assert es == "El hombre ve el coche alemán grande y viejo."
    _, de, es = simple(np("man"), "see", np("dog", "the", "beautiful", "huge"))
    assert de == "Der Mann sieht den schönen riesigen Hund."
    assert es == "El hombre ve al perro hermoso e inmenso."  # "y" -> "e" before /i/


@pytest.mark.parametrize(("word", "conjunction"), [("negro", "y"), ("inmenso", "e"), ("hijo", "e"), ("hielo", "y")])
def test_spanish_y_becomes_e_before_an_i_sound(word: str, conjunction: str) -> None:
    assert conjunction_y(word) == conjunction


# --- German word order ------------------------------------------------------------------------


def test_fronted_adverbial_makes_german_verb_second() -> None:
    today = LEX.adverbial("today")
    fronted = SentencePlan(main=clause(np("dog"), "see", np("cat"), adverbial=today), adverbial_fronted=True)
    assert texts(fronted) == ("Today the dog sees the cat.", "Heute sieht der Hund die Katze.", "Hoy el perro ve al gato.")
    in_place = SentencePlan(main=clause(np("dog"), "see", np("cat"), adverbial=today))
    assert texts(in_place) == ("The dog sees the cat today.", "Der Hund sieht heute die Katze.", "El perro ve al gato hoy.")


def test_frequency_adverb_positions() -> None:
    often = LEX.adverbial("often")
    plan = SentencePlan(main=clause(np("dog"), "see", np("cat"), tense="perfect", adverbial=often))
    assert texts(plan) == (
        "The dog has often seen the cat.",
        "Der Hund hat oft die Katze gesehen.",
        "El perro a menudo ha visto al gato.",
    )


def test_separable_prefix_closes_the_main_clause() -> None:
    pp = PrepositionalPhrase("loc", np("garden"))
    assert simple(np("man"), "call", np("woman"), pp=pp) == (
        "The man calls the woman in the garden.",
        "Der Mann ruft die Frau im Garten an.",
        "El hombre llama a la mujer en el jardín.",
    )


@pytest.mark.parametrize(
    ("tense", "english", "german"),
    [
        ("present", "because the man calls the woman.", "weil der Mann die Frau anruft."),
        ("past", "because the man called the woman.", "weil der Mann die Frau anrief."),
        ("perfect", "because the man has called the woman.", "weil der Mann die Frau angerufen hat."),
    ],
)
def test_subordinate_clause_is_verb_final_with_prefix_reattached(tense: str, english: str, german: str) -> None:
    plan = SentencePlan(
        main=clause(np("dog"), "see", np("cat")),
        subordinate=clause(np("man"), "call", np("woman"), tense=tense),
        subordinator=LEX.subordinator("because"),
    )
    en, de, es = texts(plan)
    assert en == "The dog sees the cat " + english
    assert de == "Der Hund sieht die Katze, " + german
    assert es.startswith("El perro ve al gato porque el hombre ")


def test_fronted_subordinate_clause_makes_german_verb_first_and_when_past_is_als() -> None:
    plan = SentencePlan(
        main=clause(np("man"), "call", np("woman"), tense="past"),
        subordinate=clause(np("dog"), "see", np("cat"), tense="past"),
        subordinator=LEX.subordinator("when"),
        subordinate_first=True,
    )
    assert texts(plan) == (
        "When the dog saw the cat, the man called the woman.",
        "Als der Hund die Katze sah, rief der Mann die Frau an.",
        "Cuando el perro vio al gato, el hombre llamó a la mujer.",
    )


def test_that_clause_follows_the_main_verb_bracket() -> None:
    plan = SentencePlan(
        main=clause(np("man"), "say", tense="perfect"),
        subordinate=clause(np("dog"), "see", np("cat"), tense="perfect"),
        subordinator=LEX.subordinator("that"),
    )
    assert texts(plan) == (
        "The man has said that the dog has seen the cat.",
        "Der Mann hat gesagt, dass der Hund die Katze gesehen hat.",
        "El hombre ha dicho que el perro ha visto al gato.",
    )


# fmt: off
@pytest.mark.parametrize(
    ("subject", "verb", "pp", "tense", "expected"),
    [
        (np("child", plural=True), "go", PrepositionalPhrase("dir", np("house")), "perfect", ("The children have gone to the house.", "Die Kinder sind ins Haus gegangen.", "Los niños han ido a la casa.")),
        (np("man"), "go", PrepositionalPhrase("dir", np("school")), "present", ("The man goes to the school.", "Der Mann geht zur Schule.", "El hombre va a la escuela.")),
        (np("man"), "go", PrepositionalPhrase("dir", np("market")), "present", ("The man goes to the market.", "Der Mann geht zum Markt.", "El hombre va al mercado.")),
        (np("woman"), "come", PrepositionalPhrase("src", np("market")), "present", ("The woman comes from the market.", "Die Frau kommt vom Markt.", "La mujer viene del mercado.")),
        (np("train"), "arrive", PrepositionalPhrase("arrive", np("station")), "present", ("The train arrives at the station.", "Der Zug kommt am Bahnhof an.", "El tren llega a la estación.")),
        (np("girl"), "play", PrepositionalPhrase("com", np("child", "the", plural=True)), "past", ("The girl played with the children.", "Das Mädchen spielte mit den Kindern.", "La chica jugó con los niños.")),
    ],
)
# fmt: on
def test_prepositional_phrases_take_case_and_contract(subject, verb, pp, tense, expected) -> None:
    assert simple(subject, verb, pp=pp, tense=tense) == expected


# --- plan validation --------------------------------------------------------------------------


def test_invalid_plans_are_rejected() -> None:
    with pytest.raises(ValueError, match="bare noun phrase must be plural"):
        np("dog", None)
    with pytest.raises(ValueError, match="must exist in the plural"):
        np("dog", "a", plural=True)
    with pytest.raises(ValueError, match="takes no object"):
        clause(np("dog"), "sleep", np("cat"))
    with pytest.raises(ValueError, match="needs a prepositional phrase"):
        clause(np("man"), "live")
    with pytest.raises(ValueError, match="can open the sentence only if frontable"):
        SentencePlan(
            main=clause(np("dog"), "see", np("cat")),
            subordinate=clause(np("man"), "call", np("woman")),
            subordinator=LEX.subordinator("because"),
            subordinate_first=True,
        )
    with pytest.raises(ValueError, match="needs an object or a that-clause"):
        SentencePlan(main=clause(np("man"), "say"))


# --- rates ------------------------------------------------------------------------------------


def _phenomena(config: GrammarConfig, n: int = 200) -> list[frozenset[str]]:
    return [s.phenomena for s in generate_sentences(config, n, seed=5)]


def test_subordinate_clause_rate_zero_and_one() -> None:
    assert not any("subordinate" in p for p in _phenomena(GrammarConfig(subordinate_clause_rate=0.0)))
    assert all("subordinate" in p for p in _phenomena(GrammarConfig(subordinate_clause_rate=1.0)))


def test_zero_rates_switch_constructions_off() -> None:
    config = GrammarConfig(
        separable_verb_rate=0.0,
        adverb_rate=0.0,
        adjective_rate=0.0,
        plural_rate=0.0,
        past_tense_rate=0.0,
        perfect_tense_rate=0.0,
    )
    off = {"separable_verb", "adverbial", "adverb_fronting", "adjective", "plural", "past_tense", "perfect_tense"}
    assert all(not (p & off) for p in _phenomena(config))


def test_full_rates_switch_constructions_on() -> None:
    config = GrammarConfig(
        subordinate_clause_rate=0.0,
        separable_verb_rate=1.0,
        adverb_rate=1.0,
        adverb_fronting_rate=1.0,
        perfect_tense_rate=1.0,
        past_tense_rate=0.0,
    )
    for p in _phenomena(config):
        assert {"separable_verb", "adverb_fronting", "perfect_tense"} <= p


def test_subordinate_first_rate_one_fronts_every_subordinate_clause() -> None:
    config = GrammarConfig(subordinate_clause_rate=1.0, subordinate_first_rate=1.0)
    assert all("subordinate_first" in p for p in _phenomena(config))


def test_sampled_plans_obey_the_rates_on_both_clauses() -> None:
    rng = random.Random(0)
    config = GrammarConfig(subordinate_clause_rate=1.0, separable_verb_rate=1.0)
    for _ in range(200):
        plan = sample_plan(rng, LEX, config)
        assert plan.subordinate is not None and plan.subordinate.verb.is_separable
        assert plan.main.verb.is_separable or plan.main.verb.takes_clause


# --- lexicon ----------------------------------------------------------------------------------


def test_lexicon_has_at_least_300_lemmas_in_every_class() -> None:
    counts = LEX.lemma_counts()
    assert sum(counts.values()) >= 300
    assert counts["nouns"] >= 150 and counts["verbs"] >= 80 and counts["adjectives"] >= 50
    assert sum(v.is_separable for v in LEX.verbs) >= 25
    assert LEX.noun("street").de_singular == "Straße" and LEX.noun("garden").es_singular == "jardín"


def test_lexicon_lookups_and_errors() -> None:
    assert LEX.verb("know", de="wissen").clause_only and not LEX.verb("know", de="kennen").clause_only
    with pytest.raises(ValueError, match="`know` must name one verb of the lexicon, but names 2 entries"):
        LEX.verb("know")
    with pytest.raises(ValueError, match="`unicorn` must name one noun"):
        LEX.noun("unicorn")


def test_malformed_table_errors_name_table_line_and_field() -> None:
    good = {"verbs": "", "adjectives": "", "adverbials": "", "determiners": "", "subordinators": ""}
    with pytest.raises(ValueError, match="NOUN_TABLE line 2: the German gender must be one of"):
        parse_lexicon(nouns="\ndog dogs | animal | x Hund Hunde | m perro perros\n", **good)
    with pytest.raises(ValueError, match="NOUN_TABLE line 1 must have 4 or 6 columns"):
        parse_lexicon(nouns="dog dogs | animal\n", **good)
    with pytest.raises(ValueError, match="the tags must be among"):
        parse_lexicon(nouns="dog dogs | beast | m Hund Hunde | m perro perros\n", **good)


def test_vocabulary_coverage_over_2000_sentences_is_broad() -> None:
    rng = random.Random(0)
    config = GrammarConfig()
    nouns, verbs, adjectives, adverbials = set(), set(), set(), set()
    for _ in range(2000):
        plan = sample_plan(rng, LEX, config)
        for c in (plan.main, plan.subordinate):
            if c is None:
                continue
            verbs.add(c.verb)
            adverbials.add(c.adverbial)
            for phrase in (c.subject, c.object, c.pp.object if c.pp else None):
                if phrase is not None:
                    nouns.add(phrase.noun)
                    adjectives.update(phrase.adjectives)
    assert len(nouns) >= 0.95 * len(LEX.nouns)
    assert len(verbs) >= 0.95 * len(LEX.verbs)
    assert len(adjectives) >= 0.95 * len(LEX.adjectives)
    assert len(adverbials - {None}) >= 0.9 * len(LEX.adverbials)


def test_sentences_are_frozen_records() -> None:
    (sentence,) = generate_sentences(GrammarConfig(), 1, seed=0)
    with pytest.raises(AttributeError):
        sentence.phenomena = frozenset()  # type: ignore[misc]
    assert replace(sentence, phenomena=frozenset()).source_words == sentence.source_words

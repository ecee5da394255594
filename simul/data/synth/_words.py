"""Realised words with alignment keys, and the key names all three realisers agree on.

A word's keys name the abstract parts it expresses: ``m.subj.noun`` is the main clause's
subject noun, ``s.verb`` the subordinate clause's verb.  A source and a target word align when
they share a key; a contraction carries the keys of both parts (German "im" = ``pp`` +
``pp.np.det``), and a word with no keys (Spanish "y" between adjectives) aligns to nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from simul.data.synth.entries import Verb

__all__ = [
    "SUBORDINATOR_KEY",
    "Word",
    "adverbial_words",
    "finish_sentence",
    "particle_key",
    "with_comma",
]

SUBORDINATOR_KEY = "sub"


@dataclass(frozen=True)
class Word:
    """One whitespace word of a realised sentence and the abstract parts it expresses."""

    text: str
    keys: frozenset[str]


def particle_key(clause: str, verb: Verb) -> str:
    """Key of the English particle and the German prefix.

    When both exist ("picks up" / "holt ... ab") they align with each other; otherwise the
    one that exists belongs to the verb ("calls" / "ruft ... an", "looks for" / "sucht").
    """
    return f"{clause}.prt" if verb.en_particle and verb.de_prefix else f"{clause}.verb"


def adverbial_words(texts: Sequence[str], en_length: int, clause: str) -> list[Word]:
    """Words of an adverbial aligned to its English words.

    Word by word when both have the same length ("on Monday" / "am Montag"), otherwise every
    word to every English word ("sometimes" / "a veces").
    """
    keys = [f"{clause}.adv{i}" for i in range(en_length)]
    if len(texts) == en_length:
        return [Word(text, frozenset({key})) for text, key in zip(texts, keys, strict=True)]
    return [Word(text, frozenset(keys)) for text in texts]


def with_comma(words: Sequence[Word]) -> list[Word]:
    """Attach a comma to the last word (punctuation never stands alone)."""
    return [*words[:-1], replace(words[-1], text=words[-1].text + ",")]


def finish_sentence(words: Sequence[Word]) -> list[Word]:
    """Capitalise the first letter and attach the final period."""
    first = replace(words[0], text=words[0].text[:1].upper() + words[0].text[1:])
    finished = [first, *words[1:]]
    finished[-1] = replace(finished[-1], text=finished[-1].text + ".")
    return finished

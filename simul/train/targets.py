"""Which text of an instance a model learns to output, by name: ``asr``, ``st:LANG``, ...

Why a registry: the data config names the target (``data.target``), and new kinds of target
(e.g. serialized joint ASR/ST output with stream tags, a pure function ``Instance -> str``)
plug in by adding one entry below, without touching the trainer.  A spec is ``NAME`` or
``NAME:ARGUMENT``; each entry is a factory that takes the argument (or ``None``) and returns the
``Instance -> str`` function the batch pipeline calls.
"""

from __future__ import annotations

from collections.abc import Callable

from simul.data.features.pipeline import source_text, translation_text
from simul.data.instance import Instance
from simul.registry import Registry

__all__ = ["TARGET_TEXTS", "TargetText", "target_text"]

TargetText = Callable[[Instance], str]


def _transcript(argument: str | None) -> TargetText:
    """``asr``: the transcript."""
    if argument is not None:
        raise ValueError(f"target `asr` takes no argument, but is given {argument!r}.")
    return source_text


def _translation(argument: str | None) -> TargetText:
    """``st:LANG``: the translation into LANG."""
    if not argument:
        raise ValueError("target `st` needs a language, e.g. `st:de`, but is given none.")
    return translation_text(argument)


#: Target-text factories by name; add new kinds of target here.
TARGET_TEXTS: Registry[Callable[[str | None], TargetText]] = Registry("target text")
TARGET_TEXTS.add("asr", _transcript)
TARGET_TEXTS.add("st", _translation)


def target_text(spec: str) -> TargetText:
    """The ``Instance -> str`` function of a spec such as ``"asr"`` or ``"st:de"``."""
    name, separator, argument = spec.partition(":")
    return TARGET_TEXTS.get(name)(argument if separator else None)

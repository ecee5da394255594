"""The model families ``simul train`` knows, by the name a config or a checkpoint gives.

The list is explicit on purpose (no registration as an import side effect): a new family adds
one line here.
"""

from __future__ import annotations

from simul.models.aed_family import AedFamily
from simul.models.family import ModelFamily
from simul.models.monotonic_family import MonotonicFamily
from simul.models.transducer_family import TransducerFamily
from simul.registry import Registry

__all__ = ["MODEL_FAMILIES"]

MODEL_FAMILIES: Registry[ModelFamily] = Registry("model family")
MODEL_FAMILIES.add("transducer", TransducerFamily())
MODEL_FAMILIES.add("aed", AedFamily())
MODEL_FAMILIES.add("monotonic", MonotonicFamily())

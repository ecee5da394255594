"""The model families by name: the built-in ones, then other packages' ``simul.families`` entry points.

One registry serves training (``model.family`` of a config), checkpoints (their ``family``) and
streaming evaluation (the family's streaming model).  The built-in list is explicit, one line per
family, here.  A researcher's package adds a family without touching this repository by naming a
:class:`~simul.families.base.Family` subclass in its ``pyproject.toml``::

    [project.entry-points."simul.families"]
    my_family = "my_package.family:MyFamily"

It is imported only when its name is asked for (:mod:`simul.streaming.plugins`), and its
``name`` must be the entry point's.
"""

from __future__ import annotations

from simul.families.aed.family import AedFamily
from simul.families.base import Family
from simul.families.monotonic.family import MonotonicFamily
from simul.families.transducer.family import TransducerFamily
from simul.registry import Registry
from simul.streaming.plugins import entry_point_names, lookup

__all__ = ["BUILTIN_FAMILIES", "FAMILY_ENTRY_POINT_GROUP", "family_names", "get_family"]

#: The entry-point group other packages declare model families in.
FAMILY_ENTRY_POINT_GROUP = "simul.families"

BUILTIN_FAMILIES: Registry[Family] = Registry("model family")
BUILTIN_FAMILIES.add("transducer", TransducerFamily())
BUILTIN_FAMILIES.add("aed", AedFamily())
BUILTIN_FAMILIES.add("monotonic", MonotonicFamily())


def _family_problem(loaded: object) -> str | None:
    if not (isinstance(loaded, type) and issubclass(loaded, Family)):
        return f"must name a subclass of simul.families.base.Family, but names {loaded!r}"
    return None


def family_names() -> tuple[str, ...]:
    """Built-in family names, then the installed plugins' (nothing is imported)."""
    plugins = [
        name for name in entry_point_names(FAMILY_ENTRY_POINT_GROUP) if name not in BUILTIN_FAMILIES
    ]
    return (*BUILTIN_FAMILIES.names(), *plugins)


def get_family(name: str) -> Family:
    """The family called ``name`` (built-in first, then plugins, imported on demand).

    Raises:
        ValueError: an unknown name (the message lists the known ones), or a plugin that fails to
            load, is not a ``Family`` subclass, or calls itself by another name.
    """
    if name in BUILTIN_FAMILIES:
        return BUILTIN_FAMILIES.get(name)
    family_class = lookup(BUILTIN_FAMILIES, FAMILY_ENTRY_POINT_GROUP, name, _family_problem)
    family = family_class()  # type: ignore[operator]  # a Family subclass (checked)
    if family.name != name:
        raise ValueError(
            f"model family plugin {name!r}: its `name` must be the entry point's, but is "
            f"{family.name!r} instead."
        )
    return family

"""Look a name up among the built-in entries of a registry, then among other packages' entry points.

Why entry points: a researcher's own package adds a policy (or a model family) without touching
this repository, by declaring it in its ``pyproject.toml``::

    [project.entry-points."simul.policies"]
    my_policy = "my_package.policies:MyPolicy"

Entry points are read only when a name is not built in, and only the one requested is imported
(lazily), so a broken plugin cannot break anything else; when it *is* requested, the error names
the entry point, its distribution and what went wrong (fairseq2 turns a broken extension into a
warning; we do not, because the run would silently use something else).  Built-in names take
precedence over plugins of the same name.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import TypeVar

from simul.registry import Registry

__all__ = ["entry_point_names", "lookup"]

T = TypeVar("T")


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=group))


def entry_point_names(group: str) -> tuple[str, ...]:
    """Names declared in entry-point ``group`` by the installed packages (nothing is imported)."""
    return tuple(sorted({entry.name for entry in _entry_points(group)}))


def _describe(entry: importlib.metadata.EntryPoint, group: str) -> str:
    distribution = entry.dist.name if entry.dist is not None else "an unknown distribution"
    return f"entry point `{entry.name} = {entry.value}` of group {group!r} (from {distribution})"


def lookup(
    registry: Registry[T], group: str, name: str, check: Callable[[object], str | None]
) -> T:
    """The built-in entry ``name`` of ``registry``, else the object of entry point ``name`` in ``group``.

    Args:
        registry: the built-in entries; its ``kind`` names them in messages.
        group: the entry-point group plugins declare themselves in.
        name: what was asked for.
        check: returns why a loaded object is unusable (e.g. "is not a Policy subclass"), or
            ``None`` when it is fine.

    Raises:
        ValueError: an unknown name (the message lists built-in and plugin names), or a plugin
            that fails to import or to pass ``check`` (the message names its entry point).
    """
    if name in registry:
        return registry.get(name)
    entries = [entry for entry in _entry_points(group) if entry.name == name]
    if not entries:
        known = sorted(set(registry.names()) | set(entry_point_names(group)))
        raise ValueError(f"`{registry.kind}` must be one of {known}, but is {name!r} instead.")
    if len(entries) > 1:
        sources = "; ".join(_describe(entry, group) for entry in entries)
        raise ValueError(f"{registry.kind} {name!r} is declared by several plugins: {sources}.")
    entry = entries[0]
    try:
        loaded = entry.load()
    except Exception as error:  # any failure inside the plugin's import
        raise ValueError(
            f"{registry.kind} plugin {name!r}, {_describe(entry, group)}, failed to load: "
            f"{type(error).__name__}: {error}"
        ) from error
    problem = check(loaded)
    if problem is not None:
        raise ValueError(f"{registry.kind} plugin {name!r}, {_describe(entry, group)}, {problem}.")
    return loaded  # type: ignore[return-value]  # check() accepted it

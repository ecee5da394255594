"""A registry: names to things (model families, target texts, ...), with errors that list the names.

Why one small class: every extensible choice in simul (which model family a config trains, which
text of an instance is the target) is a name in a YAML file, and a wrong name should fail at once
with the known names in the message.  Entries are added explicitly by the module that owns the
registry (a visible list, no registration as a side effect of importing some other file).

Example:
    >>> COLOURS: Registry[int] = Registry("colour")
    >>> COLOURS.add("red", 0xFF0000)
    >>> COLOURS.get("red")
    16711680
    >>> COLOURS.get("blue")
    Traceback (most recent call last):
    ...
    ValueError: `colour` must be one of ['red'], but is 'blue' instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, final

__all__ = ["Registry"]

T = TypeVar("T")


@final
class Registry(Generic[T]):
    """Named entries of one kind; ``get`` of an unknown name raises a ``ValueError`` listing them."""

    def __init__(self, kind: str) -> None:
        """Args:
        kind: what the entries are, for error messages (e.g. ``"model family"``).
        """
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a name can be registered once only."""
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} name must be a non-empty str, but is {name!r}.")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered.")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`, for entries defined in the registry's own module."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def get(self, name: str) -> T:
        """The entry called ``name``."""
        if name not in self._entries:
            raise ValueError(
                f"`{self.kind}` must be one of {sorted(self._entries)}, but is {name!r} instead."
            )
        return self._entries[name]

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

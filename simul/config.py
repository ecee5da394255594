"""Small helpers every dataclass config uses: overrides, enum coercion, plain values, int checks.

Why one module: models, policies, adapters, the CLI and the sweep all build frozen dataclasses
from YAML or ``--set KEY=VALUE`` overrides and record them in results files.  Doing that one way
keeps the error messages one shape ("`field` must be ..., but is ... instead.") and keeps these
helpers out of the policy interface.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

__all__ = [
    "apply_overrides",
    "check_positive_int",
    "coerce_enum_fields",
    "parse_overrides",
    "plain_values",
]

#: The groups ``--set GROUP.FIELD=VALUE`` may change (``simul eval``, the SimulEval agent).
OVERRIDE_GROUPS = ("policy", "model")


def apply_overrides(
    config: Any, overrides: Mapping[str, Any], *, where: str = "model config"
) -> Any:
    """A copy of dataclass ``config`` with nested ``overrides`` applied, through OmegaConf.

    An unknown field or a value of the wrong type is a ``ValueError`` naming it; the dataclass's
    own checks (``__post_init__``) run on the result.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(config), OmegaConf.create(dict(overrides)))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ValueError(f"{where}: {error}") from None


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["policy.frames=4", "model.beam_size=2"]`` -> ``{"policy": {"frames": 4}, "model": {...}}``.

    Values are parsed as YAML (``4`` is an int, ``true`` a bool, ``[0,1]`` a list); every group
    of :data:`OVERRIDE_GROUPS` is in the result, empty when not given.
    """
    dotlists: dict[str, list[str]] = {group: [] for group in OVERRIDE_GROUPS}
    for item in items:
        group, dot, rest = item.partition(".")
        if not dot or group not in dotlists or "=" not in rest or not rest.split("=", 1)[0]:
            raise ValueError(
                f"`--set` must look like policy.FIELD=VALUE or model.FIELD=VALUE, but is {item!r} instead."
            )
        dotlists[group].append(rest)
    parsed = {}
    for group, dotlist in dotlists.items():
        try:
            parsed[group] = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist))
        except OmegaConfBaseException as error:
            raise ValueError(f"`--set {group}.*`: {str(error).splitlines()[0]}") from None
    return parsed


def plain_values(value: Any) -> Any:
    """Dataclasses as dicts, enums as their values, tuples as lists: JSON-ready (for provenance)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_values(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [plain_values(item) for item in value]
    if isinstance(value, dict):
        return {key: plain_values(item) for key, item in value.items()}
    return value


def coerce_enum_fields(config: Any) -> None:
    """Turn string values of a frozen dataclass's enum-typed fields into their enum members.

    So that ``WaitK(target_unit="word")`` works like ``WaitK(target_unit=TargetUnit.WORD)``; an
    unknown value is a ``ValueError`` listing the allowed ones.
    """
    try:
        hints = typing.get_type_hints(type(config))
    except (NameError, TypeError):  # annotations that cannot be resolved: nothing to coerce
        return
    for f in dataclasses.fields(config):
        kind = hints.get(f.name)
        value = getattr(config, f.name)
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and isinstance(value, str):
            try:
                member = kind(value)
            except ValueError:
                allowed = [m.value for m in kind]
                raise ValueError(
                    f"`{f.name}` must be one of {allowed}, but is {value!r} instead."
                ) from None
            object.__setattr__(config, f.name, member)


def check_positive_int(name: str, value: object) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= 1 (a bool is not).

    Examples:
        >>> check_positive_int("segment_ms", 320)
        >>> check_positive_int("segment_ms", 0)
        Traceback (most recent call last):
        ...
        ValueError: `segment_ms` must be an int >= 1, but is 0 instead.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, but is {value!r} instead.")

"""Policies by name: the built-in ones, then other packages' ``simul.policies`` entry points.

The built-in list is explicit (one line per policy, here).  A researcher's package adds a policy
without touching this repository by declaring an entry point (see :mod:`simul.streaming.plugins`);
it is imported only when its name is asked for.  :func:`build_policy` turns a name and
``--set policy.FIELD=VALUE`` overrides into a policy object through OmegaConf
(``simul.config.apply_overrides``), so an unknown field or a badly typed value is an error
naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from policies.alignatt import AlignAtt
from policies.edatt import EDAtt
from policies.local_agreement import LocalAgreement
from policies.monotonic import MonotonicThreshold
from policies.token_confidence import TokenConfidence
from policies.transducer_emission import TransducerEmission
from policies.waitk import WaitK
from simul.config import apply_overrides
from simul.registry import Registry
from simul.streaming import Policy
from simul.streaming.plugins import entry_point_names, lookup

__all__ = [
    "BUILTIN_POLICIES",
    "POLICY_ENTRY_POINT_GROUP",
    "build_policy",
    "policy_class",
    "policy_names",
]

#: The entry-point group other packages declare policies in.
POLICY_ENTRY_POINT_GROUP = "simul.policies"

BUILTIN_POLICIES: Registry[type[Policy]] = Registry("policy")
BUILTIN_POLICIES.add("waitk", WaitK)
BUILTIN_POLICIES.add("edatt", EDAtt)
BUILTIN_POLICIES.add("alignatt", AlignAtt)
BUILTIN_POLICIES.add("local_agreement", LocalAgreement)
BUILTIN_POLICIES.add("transducer", TransducerEmission)
BUILTIN_POLICIES.add("monotonic", MonotonicThreshold)
BUILTIN_POLICIES.add("token_confidence", TokenConfidence)


def _policy_problem(loaded: object) -> str | None:
    if not (
        isinstance(loaded, type) and issubclass(loaded, Policy) and dataclasses.is_dataclass(loaded)
    ):
        return f"must name a dataclass subclass of simul.streaming.Policy, but names {loaded!r}"
    return None


def policy_names() -> tuple[str, ...]:
    """Built-in policy names, then the installed plugins' (nothing is imported)."""
    plugins = [
        name for name in entry_point_names(POLICY_ENTRY_POINT_GROUP) if name not in BUILTIN_POLICIES
    ]
    return (*BUILTIN_POLICIES.names(), *plugins)


def policy_class(name: str) -> type[Policy]:
    """The policy class called ``name`` (built-in first, then plugins, loaded on demand)."""
    return lookup(BUILTIN_POLICIES, POLICY_ENTRY_POINT_GROUP, name, _policy_problem)


def build_policy(name: str, overrides: Mapping[str, Any] | None = None) -> Policy:
    """The policy ``name`` with its defaults changed by ``overrides``.

    Args:
        name: a name from :func:`policy_names`.
        overrides: nested field values, e.g. ``{"frames": 4, "attention": {"layer": 2}}`` (the
            CLI's ``--set policy.frames=4 --set policy.attention.layer=2``).

    Raises:
        ValueError: an unknown policy, an unknown field, a value of the wrong type, or a value
            the policy rejects; the message names the policy and the field.
    """
    cls = policy_class(name)
    return apply_overrides(cls, dict(overrides or {}), where=f"policy {name!r}")

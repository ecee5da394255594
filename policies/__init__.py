"""Read/write policies for the simultaneous loop (``simul.streaming``), and their registry.

Built in: ``waitk`` (:class:`WaitK`), ``edatt`` (:class:`EDAtt`), ``alignatt`` (:class:`AlignAtt`),
``local_agreement`` (:class:`LocalAgreement`), ``transducer`` (:class:`TransducerEmission`),
``monotonic`` (:class:`MonotonicThreshold`) and ``token_confidence`` (:class:`TokenConfidence`).
Other packages add policies through the ``simul.policies`` entry-point group
(:mod:`policies.registry`).  A policy is a frozen dataclass of hyperparameters with one
``decide(view)`` method; :mod:`simul.streaming.policy` says how to write one.
"""

from policies._attention import AttentionReading, HeadAggregation, Normalization
from policies.alignatt import AlignAtt
from policies.edatt import EDAtt
from policies.local_agreement import LocalAgreement
from policies.monotonic import MonotonicThreshold
from policies.registry import (
    BUILTIN_POLICIES,
    POLICY_ENTRY_POINT_GROUP,
    build_policy,
    policy_class,
    policy_names,
)
from policies.token_confidence import TokenConfidence
from policies.transducer_emission import TransducerEmission
from policies.waitk import SourceUnit, TargetUnit, WaitK

__all__ = [
    "BUILTIN_POLICIES",
    "POLICY_ENTRY_POINT_GROUP",
    "AlignAtt",
    "AttentionReading",
    "TokenConfidence",
    "EDAtt",
    "HeadAggregation",
    "LocalAgreement",
    "MonotonicThreshold",
    "Normalization",
    "SourceUnit",
    "TargetUnit",
    "TransducerEmission",
    "WaitK",
    "build_policy",
    "policy_class",
    "policy_names",
]

"""Policies by name: built-ins, overrides, and a plugin package found through its entry point."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile

from policies import AlignAtt, EDAtt, Normalization, WaitK, build_policy, policy_class, policy_names
from simul.data.instance import Instance
from simul.streaming import EndOfSource, ToyModel, simulate


def test_builtin_policies_are_listed_and_built_with_overrides() -> None:
    assert policy_names()[:6] == (
        "waitk",
        "edatt",
        "alignatt",
        "local_agreement",
        "transducer",
        "monotonic",
    )
    assert policy_class("alignatt") is AlignAtt
    policy = build_policy("alignatt", {"frames": 6, "attention": {"layer": 2}, "segment_ms": 1000})
    assert policy == AlignAtt(
        frames=6, segment_ms=1000, attention=AlignAtt().attention.__class__(layer=2)
    )
    edatt = build_policy(
        "edatt", {"attention": {"normalization": "zscore"}, "end_of_source": "policy"}
    )
    assert isinstance(edatt, EDAtt)
    assert edatt.attention.normalization is Normalization.ZSCORE
    assert edatt.end_of_source is EndOfSource.POLICY
    assert build_policy("waitk") == WaitK()


def test_policy_parameters_are_json_ready() -> None:
    parameters = build_policy("edatt", {"alpha": 0.2}).parameters()
    assert parameters["alpha"] == 0.2
    assert parameters["attention"] == {
        "layer": -1, "heads": None, "head_aggregation": "mean", "normalization": "l2",
        "exclude_last_frame": True,
    }  # fmt: skip
    assert parameters["end_of_source"] == "flush" and parameters["segment_ms"] == 320


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("nope", {}, r"`policy` must be one of \['alignatt', 'edatt'"),
        ("alignatt", {"frame": 4}, "Key 'frame' not in 'AlignAtt'"),
        ("alignatt", {"frames": "many"}, "could not be converted to Integer"),
        ("alignatt", {"frames": -1}, "`frames` must be an int >= 0"),
        ("waitk", {"target_unit": "sentence"}, "target_unit"),
        ("edatt", {"attention": {"head_aggregation": "median"}}, "head_aggregation"),
    ],
)
def test_bad_policy_names_and_values_are_named(name: str, overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_policy(name, overrides)


def test_enum_fields_accept_their_values() -> None:
    assert WaitK(target_unit="word") == WaitK(target_unit=WaitK().target_unit.__class__("word"))
    with pytest.raises(ValueError, match=r"`source_unit` must be one of \['segment', 'word'\]"):
        WaitK(source_unit="sentence")


def _plugin_package(root: Path, module: str, body: str, entry: str) -> None:
    """A tiny installed distribution: a module and a dist-info with its entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[simul.policies]\n{entry}\n")


_EVERY_OTHER = '''
    from dataclasses import dataclass
    from typing import final

    from simul.streaming import Policy, Read, Requirements, Write


    @final
    @dataclass(frozen=True, kw_only=True)
    class EveryOther(Policy):
        """Writes one token after every second segment."""

        period: int = 2

        @property
        def requires(self):
            return Requirements()

        def decide(self, view):
            if view.num_segments % self.period or view.num_written_in_segment or not view.writable:
                return Read()
            return Write(view.writable[:1])
'''


def test_a_plugin_package_adds_a_policy_that_runs_through_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugin_package(
        tmp_path, "simul_test_plugin", _EVERY_OTHER, "every_other = simul_test_plugin:EveryOther"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "every_other" in policy_names()
    assert "simul_test_plugin" not in sys.modules  # listing imports nothing
    policy = build_policy("every_other", {"period": 3, "whole_words": False})
    wav = tmp_path / "two_seconds.wav"
    soundfile.write(wav, np.zeros(32_000, dtype=np.float32), 16_000, subtype="PCM_16")
    instance = Instance(
        id="u", audio_path=wav, offset_samples=0, num_samples=32_000, sample_rate=16_000,
        source_text="",
    )  # fmt: skip
    result = simulate(ToyModel(), policy, instance)
    # A piece after segments 3 and 6 (both of w0's), then the flush at 2 s.
    assert [(w.text, w.source_ms) for w in result.emissions][:2] == [
        ("w0-1", 1920.0),
        ("w1-1", 2000.0),
    ]


def test_a_broken_plugin_fails_when_requested_naming_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugin_package(
        tmp_path,
        "simul_broken_plugin",
        "raise RuntimeError('oops')\n",
        "broken = simul_broken_plugin:Nothing",
    )
    _plugin_package(
        tmp_path, "simul_wrong_plugin", "Thing = 3\n", "wrong = simul_wrong_plugin:Thing"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert build_policy("waitk") == WaitK()  # other policies are unaffected
    with pytest.raises(
        ValueError,
        match=r"plugin 'broken', entry point `broken = simul_broken_plugin:Nothing`.*RuntimeError: oops",
    ):
        build_policy("broken")
    with pytest.raises(
        ValueError, match="must name a dataclass subclass of simul.streaming.Policy"
    ):
        build_policy("wrong")

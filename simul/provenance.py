"""Provenance: what produced a results file, so that a number can always be traced and reproduced.

Every results file simul writes records the simul version and git commit, the versions of the
libraries that define the numbers (SimulEval, sacrebleu, jiwer, torch), and the settings used.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import simul

__all__ = ["changed_settings", "file_sha256", "git_commit", "provenance"]

_LIBRARIES = ("simuleval", "sacrebleu", "jiwer", "torch", "fairseq2", "numpy", "pandas")


def git_commit() -> str | None:
    """The commit of the simul checkout (with ``-dirty`` when modified), or None outside git."""
    root = Path(simul.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit or None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, so that a result names exactly what it scored."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(**settings: Any) -> dict[str, Any]:
    """A JSON-serialisable record of the software and ``settings`` behind a result."""
    return {
        "simul_version": simul.__version__,
        "git_commit": git_commit(),
        "libraries": {name: _version(name) for name in _LIBRARIES},
        "python": platform.python_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **settings,
    }


def changed_settings(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested settings (added or removed too).

    Why: a resume that refuses a changed run must say what changed, e.g.
    ``["optim.lr", "policy.parameters.k"]``, not only that something did.
    """
    changed = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        if key not in old or key not in new:
            changed.append(name)
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            changed += changed_settings(old[key], new[key], f"{name}.")
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changed.append(name)
    return changed

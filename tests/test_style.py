"""The code is `ruff check` and `ruff format` clean (CI runs the suite, so it checks the style)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["simul", "policies", "tests", "benchmarks", "experiments", "examples"]


def _ruff(*arguments: str) -> subprocess.CompletedProcess[str]:
    paths = [p for p in PATHS if (ROOT / p).exists()]
    command = [sys.executable, "-m", "ruff", *arguments, *paths]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", autouse=True)
def _needs_ruff() -> None:
    if subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode:
        pytest.skip("ruff is not installed (pip install simul[dev])")


def test_ruff_check_is_clean() -> None:
    result = _ruff("check", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _ruff("format", "--check", "--quiet")
    assert result.returncode == 0, "ruff format would change:\n" + result.stdout + result.stderr

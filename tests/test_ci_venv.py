"""``.ci/venv``: one shared environment, and every process runs its own checkout's code.

The environment used to hold an editable install of whichever checkout called the script last:
while a command of checkout A ran, a call from checkout B re-pointed it, and A's child processes
(sweep workers, torchrun ranks, the SimulEval subprocess) imported B's code.  These tests build
no real environment (torch is GBs): a bare venv stands in, marked complete, under a temporary
``SIMUL_VENV_ROOT``, and two minimal checkouts whose ``simul`` says which one it is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PARENT = """
import pathlib, subprocess, sys, time
import simul
go = pathlib.Path(sys.argv[1])
print(simul.CHECKOUT, flush=True)
while not go.exists():
    time.sleep(0.05)
child = [sys.executable, "-c", "import simul; print(simul.CHECKOUT)"]
print(subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip())
print(subprocess.run(["simul"], capture_output=True, text=True, check=True).stdout.strip())
"""


def _checkout(root: Path, name: str) -> Path:
    """A checkout with this repository's ``.ci/venv`` and ``pyproject.toml``; ``simul`` names it."""
    (root / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "venv", root / ".ci" / "venv")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "simul" / "cli").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "__init__.py").write_text("")
    (root / "simul" / "__init__.py").write_text(f"CHECKOUT = {name!r}\n")
    (root / "simul" / "cli" / "__init__.py").write_text("")
    (root / "simul" / "cli" / "main.py").write_text(
        "import simul\n\n\ndef main():\n    print(simul.CHECKOUT)\n    return 0\n"
    )
    return root


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "SIMUL_VENV_ROOT": str(tmp_path / "venvs"), "SIMUL_PYTHON": sys.executable}


def _venv(checkout: Path, env: dict[str, str], *, with_pip: bool) -> Path:
    """The environment ``.ci/venv`` would build, made bare and marked complete."""
    path = Path(
        subprocess.run(
            ["bash", str(checkout / ".ci" / "venv"), "--path"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    assert path.parent == Path(env["SIMUL_VENV_ROOT"])
    options = [] if with_pip else ["--without-pip"]
    subprocess.run([sys.executable, "-m", "venv", *options, str(path)], check=True, env=env)
    (path / ".complete").touch()
    return path


def _site_packages_mentions(venv: Path, name: str) -> list[str]:
    (site,) = venv.glob("lib/python*/site-packages")
    return sorted(p.name for p in site.iterdir() if name in p.name.lower())


def test_a_child_started_after_another_checkout_called_the_script_runs_its_own_code(
    tmp_path: Path,
) -> None:
    a, b = _checkout(tmp_path / "a", "A"), _checkout(tmp_path / "b", "B")
    env = _env(tmp_path)
    venv = _venv(a, env, with_pip=False)
    go = tmp_path / "go"
    parent = subprocess.Popen(
        ["bash", str(a / ".ci" / "venv"), "python", "-c", _PARENT, str(go)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout.readline().strip() == "A"  # A's command runs
        other = subprocess.run(
            ["bash", str(b / ".ci" / "venv"), "simul"],
            env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert other.stdout.strip() == "B"
        go.touch()  # now A's command starts its children
        out, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 0, err
    assert out.split() == ["A", "A"]  # the python child and the `simul` launcher
    assert _site_packages_mentions(venv, "simul") == []  # the venv points at no checkout


def _fake_editable_install(venv: Path, checkout: Path) -> None:
    """What ``pip install -e CHECKOUT`` leaves (a .pth pointing at it, its dist-info)."""
    (site,) = venv.glob("lib/python*/site-packages")
    info = site / "simul-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: simul\nVersion: 0.1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (site / "__editable__.simul-0.1.0.pth").write_text(f"{checkout}\n")
    files = [
        "__editable__.simul-0.1.0.pth",
        *(f"{info.name}/{n}" for n in ("METADATA", "INSTALLER", "RECORD")),
    ]
    (info / "RECORD").write_text("".join(f"{name},,\n" for name in files))


def test_an_editable_install_left_by_the_old_script_is_removed(tmp_path: Path) -> None:
    a, b = _checkout(tmp_path / "a", "A"), _checkout(tmp_path / "b", "B")
    env = _env(tmp_path)
    venv = _venv(a, env, with_pip=True)
    _fake_editable_install(venv, a)
    bare = [str(venv / "bin" / "python"), "-c", "import simul; print(simul.CHECKOUT)"]
    before = subprocess.run(bare, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert before.stdout.strip() == "A"  # the old script's pointer
    result = subprocess.run(
        ["bash", str(b / ".ci" / "venv"), "python", "-c", "import simul; print(simul.CHECKOUT)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "B"
    assert _site_packages_mentions(venv, "simul") == []
    after = subprocess.run(bare, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert after.returncode != 0  # outside .ci/venv, no checkout is imported by accident


_POOL_MAIN = """import multiprocessing


def _square(x):
    return x * x


def main():
    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        print(sum(pool.map(_square, range(4))))
    return 0
"""


def test_the_simul_launcher_runs_process_pools(tmp_path: Path) -> None:
    """Regression: forkserver/spawn children re-run the main script; the unguarded launcher ran the
    whole command in every pool worker and `simul demo` hung building its corpus."""
    checkout = _checkout(tmp_path / "c", "C")
    (checkout / "simul" / "cli" / "main.py").write_text(_POOL_MAIN)
    env = _env(tmp_path)
    _venv(checkout, env, with_pip=False)
    result = subprocess.run(
        ["bash", str(checkout / ".ci" / "venv"), "simul"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "14"

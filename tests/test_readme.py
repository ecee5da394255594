"""The README's command blocks run as written, in a fresh clone, as a newcomer runs them.

Every fenced ``bash`` block of README.md carries a marker on the line before its fence:

- ``<!-- runnable -->``: this test runs it verbatim, in order, in one fresh clone of the
  checkout (earlier blocks' outputs are there for later ones, as for a reader going down the page);
- ``<!-- not run: REASON -->``: documentation only (a 34-minute training, a benchmark, the test
  suite itself), with the reason; a heavy block has a ``runnable`` twin on ``tiny`` next to it.

A block with neither marker fails the test, so none is skipped silently.  ``bash .ci/venv CMD``
runs CMD as that script does (the clone first on ``PYTHONPATH``, the environment's ``bin`` first
on ``PATH``), but in the environment running this test: building or touching a shared venv is
``tests/test_ci_venv.py``'s business, not this one's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK_TIMEOUT_S = 600

_FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!--\s*(runnable|not run:\s*(?P<reason>\S.*?))\s*-->")

# `bash .ci/venv CMD ...` becomes CMD with the clone on PYTHONPATH and this environment on PATH;
# any other `bash` call is bash itself.
_PRELUDE = """\
bash() {
    if [ "${1:-}" = .ci/venv ]; then
        shift
        PATH="$SIMUL_TEST_VENV_BIN:$PATH" PYTHONPATH="$SIMUL_TEST_CLONE" "$@"
    else
        command bash "$@"
    fi
}
"""


@dataclass(frozen=True)
class Block:
    """One fenced ``bash`` block of the README."""

    line: int
    """1-based line of its opening fence."""
    text: str
    """The commands, as written."""
    runnable: bool
    """Marked ``<!-- runnable -->``."""
    reason: str | None
    """Why a ``not run`` block is not run; ``None`` for a runnable one."""


def readme_blocks(text: str) -> list[Block]:
    """Every ``bash`` block of ``text`` with its marker; a block without one is a ValueError."""
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.fullmatch(before.strip())
        if marker is None:
            raise ValueError(
                f"README.md:{line}: a bash block must follow a line `<!-- runnable -->` or "
                f"`<!-- not run: REASON -->`, but follows {before.strip()!r} instead."
            )
        reason = marker.group("reason")
        blocks.append(Block(line=line, text=match.group(1), runnable=reason is None, reason=reason))
    return blocks


def fresh_clone(destination: Path) -> Path:
    """``git clone`` of this checkout, with its uncommitted changes to tracked and new files.

    The clone has none of the ignored outputs (built corpora, runs, caches), as a newcomer's;
    carrying the working tree's changes lets the test check a README before it is committed.
    """
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(destination)], check=True)
    changed = subprocess.run(
        ["git", "ls-files", "--modified", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    deleted = set(subprocess.run(
        ["git", "ls-files", "--deleted", "-z"], cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0"))  # fmt: skip
    for name in filter(None, changed):
        target = destination / name
        if name in deleted:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return destination


def test_every_bash_block_is_marked_runnable_or_says_why_not() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert any(block.runnable for block in blocks)
    for block in blocks:
        assert block.runnable or block.reason, block.line


def test_an_unmarked_block_is_refused_with_its_line() -> None:
    text = "# t\n\n<!-- runnable -->\n```bash\necho a\n```\n\ntext\n```bash\necho b\n```\n"
    with pytest.raises(ValueError, match=r"README.md:9: .* follows 'text'"):
        readme_blocks(text)
    assert (
        readme_blocks(text.replace("text\n```", "<!-- not run: slow -->\n```"))[1].reason == "slow"
    )


@pytest.mark.slow
def test_the_runnable_blocks_run_as_written_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "simul")
    blocks = [
        block
        for block in readme_blocks((clone / "README.md").read_text(encoding="utf-8"))
        if block.runnable
    ]
    env = {
        **os.environ,
        "SIMUL_TEST_CLONE": str(clone),
        "SIMUL_TEST_VENV_BIN": str(Path(sys.executable).parent),
        "PYTHONPATH": str(clone),
    }
    for block in blocks:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _PRELUDE + block.text],
            cwd=clone, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"README.md:{block.line} failed (exit {done.returncode}):\n{block.text}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )

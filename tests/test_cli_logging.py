"""``--log-level`` and ``--log-file`` wherever a user types them, and a log file a batch job can read."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from simul.cli.main import build_parser, main

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "simuleval_speech"


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "WARNING", "score", "LOG"],
        ["score", "LOG", "--log-level", "WARNING"],
        ["--log-level", "DEBUG", "score", "LOG", "--log-level", "WARNING"],  # the later one wins
    ],
)
def test_log_level_is_accepted_before_and_after_the_subcommand(argv: list[str]) -> None:
    assert build_parser("score").parse_args(argv).log_level == "WARNING"


def test_nested_subcommands_take_the_logging_options_too() -> None:
    args = build_parser("data", "check").parse_args(["data", "check", "DIR", "--log-file", "x.log"])
    assert args.log_file == Path("x.log") and args.log_level == "INFO"


def test_log_file_gets_timestamped_lines_and_the_error_of_a_failed_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    log = tmp_path / "logs" / "score.log"
    assert (
        main(["score", str(EXAMPLE), "--output", str(tmp_path / "out"), "--log-file", str(log)])
        == 0
    )
    lines = log.read_text().splitlines()
    assert lines and all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ", line) for line in lines
    )
    assert main(["score", str(tmp_path / "missing"), "--log-file", str(log)]) == 2
    assert "ERROR simul: simul score: error:" in log.read_text().splitlines()[-1]


def test_importing_simuls_agent_shows_no_pydub_ffmpeg_warning() -> None:
    """`simul eval --simuleval` printed pydub's "Couldn't find ffmpeg" on every run."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", "import simul.agents"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ffmpeg" not in done.stderr

"""Where simul's log goes besides stderr, and when a progress bar is drawn.

Why a module: batch jobs on a cluster read their log from a file, afterwards, so it must be
plain text with a timestamp on every line (``simul --log-file PATH``, and ``train.log`` in every
training run's folder), and a progress bar's carriage returns must never reach a redirected
stream (a bar is drawn only on a terminal).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FILE_FORMAT", "log_to_file", "progress_bar_disabled"]

#: One line per record in a log file: ISO-like time, level, logger, message.
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def progress_bar_disabled(progress: bool) -> bool | None:
    """tqdm's ``disable`` for a bar the user asked for (``progress``) or turned off.

    ``None`` is tqdm's own test: no bar unless the stream is a terminal, so a log redirected to
    a file gets no ``\\r`` lines.
    """
    return None if progress else True


@contextlib.contextmanager
def log_to_file(path: Path, level: int = logging.NOTSET) -> Iterator[Path]:
    """Append every record that reaches the root logger to ``path`` while the block runs.

    Args:
        path: the log file; its folder is created.  Appended to, so a resumed run keeps the
            first run's lines.
        level: the handler's own threshold (the loggers' levels still apply first: the CLI's
            ``--log-level``, INFO by default).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()

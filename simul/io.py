"""Atomic file writes and output-folder locks: a run killed half-way never leaves a truncated
result behind, and two runs never write into one folder at once.  (And how a bad YAML file is
named in one line.)

Every results file, checkpoint and corpus file in simul is written through these helpers: the
bytes go to a temporary file in the same directory, are flushed to disk, and then replace the
target in one ``os.replace`` (atomic on POSIX).  The temporary file is created with mode 0666
and the kernel applies the umask (and any default ACL), as for a plain ``open``: a corpus,
checkpoint or results folder shared with a group stays readable to it.  (``tempfile.mkstemp``
would create it 0600, whatever the umask, and ``os.replace`` keeps that mode.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "LOCK_FILE",
    "DirectoryLockedError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "lock_directory",
    "yaml_error_message",
]

#: The lock file :func:`lock_directory` holds, inside the locked folder (it stays there: a
#: lock file that is removed can be locked twice, through its old and its new inode).
LOCK_FILE = ".simul.lock"


class DirectoryLockedError(ValueError):
    """Another process holds the folder's lock.

    A ``ValueError`` because it is the caller's mistake (two runs, one output folder), reported
    by the CLI as one line like any bad input.
    """


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Create a new, empty temporary file beside ``path``; mode 0666 less the umask."""
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        return fd, temporary
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path))


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file, then move it onto ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def lock_directory(directory: Path, what: str = "run") -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (created if missing) for the ``with`` block.

    Why: two runs writing into one folder delete each other's partial results and leave a
    last-writer-wins mix.  The lock is ``flock`` on ``directory/.simul.lock``: the kernel drops
    it when the process ends, however it ends (SIGKILL included), so a stale lock never blocks
    a later run.  The file records the holder's pid and ``what`` (e.g. ``simul eval``), for the
    error message only.

    Raises:
        DirectoryLockedError: another process (or another ``with`` block of this one) holds it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = directory / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, _, holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip().partition(" ")
            raise DirectoryLockedError(
                f"{directory} is in use by another {holder or 'run'} (pid {pid or 'unknown'}); "
                "wait for it to end or choose another output folder."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def yaml_error_message(path: Path, error: Exception) -> str:
    """One line naming the file, line and column of a YAML syntax error, and the problem.

    Why: PyYAML's own message spans several lines and the CLI would otherwise show its
    traceback; ``error`` is a ``yaml.YAMLError`` (marked errors carry the position).
    """
    mark = getattr(error, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "") + "."

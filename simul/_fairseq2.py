"""Import fairseq2 on machines without a system libsndfile.

Why this exists: fairseq2n (fairseq2's C++ half) links ``libsndfile.so.1`` and refuses to
import when the dynamic linker cannot find it, which is the case on many clusters where
researchers cannot ``apt install libsndfile1``.  The ``soundfile`` wheel, a simul dependency,
bundles a libsndfile whose SONAME is ``libsndfile.so.1``.  Loading that copy into the global
symbol namespace before fairseq2n asks for the library satisfies fairseq2n's lookup (the dynamic
linker matches an already loaded library by SONAME), so fairseq2 imports with no system package.

All simul code imports fairseq2 through :func:`import_fairseq2`; importing it directly works only
where the system has libsndfile.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import logging
import platform
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["import_fairseq2"]

logger = logging.getLogger(__name__)

# Keeps the preloaded library alive (and loaded once) for the life of the process.
_preloaded: list[ctypes.CDLL] = []


def _bundled_sndfile_name(system: str, machine: str) -> str:
    """The file name of the libsndfile that the ``soundfile`` wheel bundles on this platform."""
    if system == "Darwin":
        return f"libsndfile_{machine}.dylib"
    if system == "Linux":
        if machine in ("aarch64", "aarch64_be", "armv8b", "armv8l"):
            return "libsndfile_arm64.so"
        return f"libsndfile_{machine}.so"
    raise OSError(
        f"simul can only preload the soundfile wheel's libsndfile on Linux or macOS, "
        f"but the platform is {system!r} instead; install libsndfile with the system "
        f"package manager."
    )


def _bundled_sndfile_path() -> Path:
    """Where the ``soundfile`` wheel keeps its libsndfile (``<site-packages>/_soundfile_data/``)."""
    try:
        import _soundfile_data
    except ImportError as error:
        raise ImportError(
            "fairseq2 needs libsndfile, which is not installed on this system, and the soundfile "
            "wheel that bundles a copy is not installed either: `pip install soundfile` or "
            "`apt install libsndfile1`."
        ) from error
    return Path(_soundfile_data.__file__).parent / _bundled_sndfile_name(
        platform.system(), platform.machine()
    )


def _ensure_sndfile() -> None:
    """Preload the bundled libsndfile when the system has none (once per process)."""
    if _preloaded or ctypes.util.find_library("sndfile") is not None:
        return
    path = _bundled_sndfile_path()
    if not path.is_file():
        raise ImportError(
            f"fairseq2 needs libsndfile: the system has none and the soundfile wheel's copy "
            f"{path} does not exist; install libsndfile with the system package manager "
            f"(e.g. `apt install libsndfile1`)."
        )
    _preloaded.append(ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL))
    logger.debug("preloaded %s for fairseq2n (no system libsndfile)", path)


def import_fairseq2(module_name: str = "fairseq2") -> ModuleType:
    """Import ``module_name`` (fairseq2 or a submodule) once libsndfile is loadable.

    Args:
        module_name: a dotted module path inside fairseq2, e.g. ``"fairseq2.data.audio"``.

    Returns:
        The imported module.  After one call, plain ``from fairseq2... import ...`` statements
        work for the rest of the process.

    Example:
        >>> audio = import_fairseq2("fairseq2.data.audio")
        >>> converter = audio.WaveformToFbankConverter(num_mel_bins=80)
    """
    if module_name != "fairseq2" and not module_name.startswith("fairseq2."):
        raise ValueError(
            f"`module_name` must be fairseq2 or one of its submodules, "
            f"but is {module_name!r} instead."
        )
    if "fairseq2n" not in sys.modules:
        _ensure_sndfile()
    return importlib.import_module(module_name)

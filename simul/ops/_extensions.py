"""Build and load the compiled kernels (``csrc/``) just in time, cached across runs.

Why just in time: a wheel with compiled kernels would tie simul to one torch and CUDA build;
``torch.utils.cpp_extension.load`` compiles on first use on the user's machine instead (about
20 s for the CPU kernel on 2 cores) and reuses the result afterwards.

Cache: one build directory per kernel kind under ``$SIMUL_TORCH_EXTENSIONS_DIR`` (default
``~/.cache/simul/torch_extensions``), named after a hash of the sources, the compiler flags, the
Python, torch and CUDA versions and, for CUDA, the GPUs' compute capabilities: an edited source
or a new torch builds afresh, and nothing stale is ever loaded. Builds are serialised with an
``flock`` (released by the kernel if a build is killed), under which torch's own lock file, which
a killed build leaves behind and which would make every later build wait forever, is removed.

Failure is not an error: when the compiler or ninja is missing, when nvcc is missing or of
another CUDA major version than torch's (torch's own ``BuildExtension`` refuses that too: the
kernel would link another CUDA runtime), or when the build fails, the loader logs one warning
line (the compiler's output at DEBUG level) and reports the kernel unavailable;
``simul.ops.monotonic_alignment`` then uses the PyTorch reference. Setting
``SIMUL_OPS_NO_EXTENSIONS=1`` never builds (the same fallback, without a warning).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

__all__ = [
    "CACHE_DIR_ENV",
    "DISABLE_ENV",
    "ExtensionStatus",
    "KernelKind",
    "extension_status",
    "extensions_root",
]

LOGGER = logging.getLogger(__name__)

KernelKind = Literal["cpu", "cuda"]

#: Environment variable naming the root of the build cache.
CACHE_DIR_ENV = "SIMUL_TORCH_EXTENSIONS_DIR"
#: Environment variable that, set to 1, disables building and loading the compiled kernels.
DISABLE_ENV = "SIMUL_OPS_NO_EXTENSIONS"

CSRC_DIR = Path(__file__).parent / "csrc"
# Everything a build reads from csrc/ (headers included: they enter the hash).
_FILES: dict[str, tuple[str, ...]] = {
    "cpu": ("monotonic_alignment_cpu.cpp",),
    "cuda": ("monotonic_alignment_cuda.cu", "monotonic_alignment_kernels.cuh"),
}
# -fopenmp makes at::parallel_for parallel (its OpenMP code is inline in the headers); the
# extension then links libgomp.so.1, which resolves to the copy torch has already loaded.
_CPU_CFLAGS = ("-O3", "-fopenmp")
_CPU_LDFLAGS = ("-fopenmp",)
_CUDA_CFLAGS = ("-O3", "-lineinfo")


@dataclass(frozen=True, kw_only=True)
class ExtensionStatus:
    """Whether a compiled kernel is loaded, and why not."""

    #: True when the kernel's operators are registered with torch and can run.
    available: bool
    #: One line: where it was loaded from, or why it is unavailable.
    detail: str


def extensions_root() -> Path:
    """Root of the build cache: ``$SIMUL_TORCH_EXTENSIONS_DIR`` or ``~/.cache/simul/torch_extensions``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "simul" / "torch_extensions"


def _build_key(kind: KernelKind) -> str:
    """Hash of everything that determines the binary, used to name the build directory."""
    digest = hashlib.sha256()
    for name in _FILES[kind]:
        digest.update(name.encode())
        digest.update((CSRC_DIR / name).read_bytes())
    parts = [sys.version, torch.__version__, str(torch.version.cuda), *_CPU_CFLAGS, *_CPU_LDFLAGS]
    if kind == "cuda":
        capabilities = [
            torch.cuda.get_device_capability(index) for index in range(torch.cuda.device_count())
        ]
        parts += [*_CUDA_CFLAGS, str(capabilities), os.environ.get("TORCH_CUDA_ARCH_LIST", "")]
        parts.append(str(_cuda_home()))
    digest.update("\0".join(parts).encode())
    return digest.hexdigest()[:16]


def _cuda_home() -> str | None:
    from torch.utils import cpp_extension

    return cpp_extension.CUDA_HOME


def _missing_tool(kind: KernelKind) -> str | None:
    """Why a build cannot even start, or None."""
    from torch.utils import cpp_extension

    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        return f"no C++ compiler ({compiler!r} is not on PATH)"
    if not cpp_extension.is_ninja_available():
        return "ninja is not installed"
    if kind == "cuda":
        home = _cuda_home()
        nvcc = Path(home) / "bin" / "nvcc" if home is not None else None
        if nvcc is None or not nvcc.exists():
            return "no CUDA toolkit (nvcc) found; set CUDA_HOME"
        version = _nvcc_version(nvcc)
        torch_cuda = str(torch.version.cuda)
        if version is None or version.split(".")[0] != torch_cuda.split(".")[0]:
            # What torch's own BuildExtension refuses: the kernel would link another CUDA runtime.
            return f"{nvcc} is CUDA {version}, but torch is built for CUDA {torch_cuda}"
    return None


def _nvcc_version(nvcc: Path) -> str | None:
    """CUDA release of ``nvcc`` ("12.8"), or None if it cannot say."""
    try:
        output = subprocess.run(
            [str(nvcc), "--version"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"release (\d+\.\d+)", output)
    return match.group(1) if match else None


def _build_and_load(kind: KernelKind) -> str:
    """Compile (or reuse) the extension of ``kind`` and load it into torch; return its path."""
    from torch.utils import cpp_extension

    key = _build_key(kind)
    name = f"simul_monotonic_{kind}_{key}"
    directory = extensions_root() / name
    directory.mkdir(parents=True, exist_ok=True)
    sources = [str(CSRC_DIR / _FILES[kind][0])]
    with open(extensions_root() / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # We hold the flock, so no build of this directory is running: torch's lock is stale.
        (directory / "lock").unlink(missing_ok=True)
        if kind == "cpu":
            return cpp_extension.load(
                name=name,
                sources=sources,
                extra_cflags=list(_CPU_CFLAGS),
                extra_ldflags=list(_CPU_LDFLAGS),
                build_directory=str(directory),
                is_python_module=False,
                verbose=False,
            )
        return cpp_extension.load(
            name=name,
            sources=sources,
            extra_cflags=["-O3"],
            extra_cuda_cflags=list(_CUDA_CFLAGS),
            extra_include_paths=[str(CSRC_DIR)],
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
            with_cuda=True,
        )


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()


@functools.cache
def extension_status(kind: KernelKind) -> ExtensionStatus:
    """Build (once per process, cached on disk) and load the compiled kernel of ``kind``.

    Args:
        kind: ``"cpu"`` for the C++ kernel, ``"cuda"`` for the CUDA kernel.

    Returns:
        Its status. An unavailable kernel logs one warning per process, except when disabled
        through ``SIMUL_OPS_NO_EXTENSIONS=1``.
    """
    if kind not in _FILES:
        raise ValueError(f"`kind` must be one of {tuple(_FILES)}, but is {kind!r} instead.")
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return ExtensionStatus(available=False, detail=f"disabled by {DISABLE_ENV}")
    if kind == "cuda" and not torch.cuda.is_available():
        return ExtensionStatus(available=False, detail="CUDA is not available")
    missing = _missing_tool(kind)
    if missing is None:
        try:
            path = _build_and_load(kind)
        except Exception as error:  # a failed build must not stop training: fall back
            LOGGER.debug("building the %s kernel failed:\n%s", kind, error)
            missing = f"its build failed ({_first_line(error)})"
        else:
            return ExtensionStatus(available=True, detail=f"loaded from {path}")
    LOGGER.warning(
        "simul.ops: the %s monotonic alignment kernel is unavailable: %s; "
        "using the PyTorch reference.",
        kind.upper(),
        missing,
    )
    return ExtensionStatus(available=False, detail=missing)

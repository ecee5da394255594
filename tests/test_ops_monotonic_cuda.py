"""Tests of the CUDA kernel that need no GPU: it compiles, and its device code is right.

1. The device code (``monotonic_alignment_kernels.cuh``) compiles with NVRTC of the CUDA
   version torch was built with (12.8 for torch 2.9.1+cu128; it ships as torch's dependency
   ``nvidia-cuda-nvrtc-cu12``). No nvcc of that version is on PyPI: the
   ``nvidia-cuda-nvcc-cu12`` wheels (12.0 to 12.9) hold ptxas, libnvvm and headers but no
   ``nvcc`` driver.
2. The whole extension source (``monotonic_alignment_cuda.cu``, with torch's headers) compiles
   to an object file with whatever nvcc the machine has, with torch's nvcc flags. That nvcc may
   be of another CUDA major version than torch (13.0 here), which checks the C++ and the use of
   torch's API, not the binary that would load; the result is cached by a hash of its inputs.
3. The device code runs on the CPU, each warp as 32 threads with emulated shuffles
   (``ops_warp_emulator.cpp``), and equals the float64 sequential recurrence, forward and
   backward. On a GPU, ``test_ops_monotonic.py`` runs the real kernel
   (``benchmarks/gpu_monotonic.sh``).
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
import torch
from ops_monotonic_oracle import p_choose_regime, random_lengths, sequential_alignment

from simul.ops._extensions import CSRC_DIR, extensions_root
from simul.ops.monotonic_reference import monotonic_alignment_reference

KERNELS = CSRC_DIR / "monotonic_alignment_kernels.cuh"
# (scalar type, accumulation type) pairs the extension instantiates.
INSTANTIATIONS = (
    ("float", "float"),
    ("double", "double"),
    ("__half", "float"),
    ("__nv_bfloat16", "float"),
)


def _torch_cuda_major() -> int:
    if torch.version.cuda is None:
        pytest.skip("this torch is not built with CUDA")
    return int(torch.version.cuda.split(".")[0])


def _nvidia_dirs() -> list[Path]:
    """The folders of the ``nvidia`` namespace package (pip's CUDA wheels), if any."""
    paths = [
        Path(p) / "nvidia"
        for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
    ]
    return [p for p in dict.fromkeys(paths) if p.is_dir()]


def _find(pattern: str) -> Path | None:
    for root in _nvidia_dirs():
        found = sorted(glob.glob(str(root / "**" / pattern), recursive=True))
        if found:
            return Path(found[0])
    return None


# --- 1. NVRTC of torch's CUDA version ---------------------------------------------------------


def _nvrtc_compile(
    nvrtc: ctypes.CDLL, source: str, names: list[str], options: list[str]
) -> tuple[int, str, int]:
    """Compile with NVRTC; return (result code, log, size of the cubin or PTX)."""
    program = ctypes.c_void_p()
    assert (
        nvrtc.nvrtcCreateProgram(
            ctypes.byref(program), source.encode(), b"kernels.cu", 0, None, None
        )
        == 0
    )
    try:
        for name in names:
            assert nvrtc.nvrtcAddNameExpression(program, name.encode()) == 0
        encoded = [option.encode() for option in options]
        result = nvrtc.nvrtcCompileProgram(
            program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded)
        )
        log_size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(log_size))
        log = ctypes.create_string_buffer(log_size.value)
        nvrtc.nvrtcGetProgramLog(program, log)
        size = ctypes.c_size_t()
        if result == 0:
            getter = (
                nvrtc.nvrtcGetCUBINSize if "sm_" in " ".join(options) else nvrtc.nvrtcGetPTXSize
            )
            assert getter(program, ctypes.byref(size)) == 0
        return result, log.value.decode(errors="replace"), size.value
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


@pytest.mark.parametrize("architecture", ["sm_90", "compute_80"])
def test_device_code_compiles_with_nvrtc_of_torchs_cuda(architecture: str) -> None:
    major = _torch_cuda_major()
    library = _find(f"libnvrtc.so.{major}")
    headers = _find("cuda_fp16.h")
    if library is None or headers is None:
        pytest.skip(f"no NVRTC {major} with CUDA headers in this environment's nvidia wheels")
    nvrtc = ctypes.CDLL(str(library))
    version = (ctypes.c_int(), ctypes.c_int())
    nvrtc.nvrtcVersion(ctypes.byref(version[0]), ctypes.byref(version[1]))
    assert version[0].value == major, f"NVRTC {version[0].value} beside torch for CUDA {major}"
    source = "#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n" + KERNELS.read_text()
    names = [
        f"&simul_monotonic::monotonic_alignment_{direction}_kernel<{scalar}, {accumulate}, "
        "simul_monotonic::kItemsPerLane>"
        for scalar, accumulate in INSTANTIATIONS
        for direction in ("forward", "backward")
    ]
    options = ["--std=c++17", f"--gpu-architecture={architecture}", f"-I{headers.parent}"]
    result, log, size = _nvrtc_compile(nvrtc, source, names, options)
    missing = [line for line in log.splitlines() if "open source file" in line]
    if result != 0 and missing:  # the wheels' headers are incomplete: not the kernel's fault
        pytest.skip(f"CUDA headers missing for NVRTC {major}: {missing[0].strip()}")
    assert result == 0, log
    assert size > 0


# --- 2. the whole extension source, with the machine's nvcc -----------------------------------


def _nvcc() -> tuple[Path, str] | None:
    """The machine's nvcc and its version ("13.0"), or None."""
    from torch.utils import cpp_extension

    candidates = []
    if cpp_extension.CUDA_HOME:
        candidates.append(Path(cpp_extension.CUDA_HOME) / "bin" / "nvcc")
    on_path = shutil.which("nvcc")
    if on_path:
        candidates.append(Path(on_path))
    for nvcc in candidates:
        if nvcc.exists():
            output = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True).stdout
            match = re.search(r"release (\d+\.\d+)", output)
            if match:
                return nvcc, match.group(1)
    return None


@pytest.mark.slow
def test_extension_source_compiles_with_nvcc() -> None:
    from torch.utils import cpp_extension

    found = _nvcc()
    if found is None:
        pytest.skip("no nvcc on this machine (CUDA_HOME or PATH)")
    nvcc, version = found
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    flags = [
        *(f"-I{path}" for path in cpp_extension.include_paths()),
        f"-I{sysconfig.get_paths()['include']}",
        f"-I{CSRC_DIR}",
        *cpp_extension.COMMON_NVCC_FLAGS,
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        "-std=c++17",
        "--compiler-options=-fPIC",
        "-gencode=arch=compute_90,code=sm_90",
        "-O3",
    ]
    digest = hashlib.sha256()
    for part in (KERNELS.read_bytes(), (CSRC_DIR / "monotonic_alignment_cuda.cu").read_bytes()):
        digest.update(part)
    digest.update("\0".join([version, torch.__version__, *flags]).encode())
    target = extensions_root() / "nvcc_compile_check" / f"{digest.hexdigest()[:16]}.o"
    if target.exists():
        return  # these exact inputs compiled before (a compiler cache, like ccache)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    command = [
        str(nvcc),
        "-c",
        str(CSRC_DIR / "monotonic_alignment_cuda.cu"),
        "-o",
        str(partial),
        *flags,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"nvcc {version} failed:\n{result.stderr[-8000:]}"
    os.replace(partial, target)


# --- 3. the device code on the CPU ------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    library = tmp_path_factory.mktemp("warp_emulator") / "warp_emulator.so"
    source = Path(__file__).with_name("ops_warp_emulator.cpp")
    command = [
        compiler,
        "-std=c++20",
        "-O1",
        "-shared",
        "-fPIC",
        "-pthread",
        f"-I{CSRC_DIR}",
        str(source),
        "-o",
        str(library),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-8000:]
    return ctypes.CDLL(str(library))


def _pointer(tensor: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(tensor.data_ptr())


def _emulated(
    emulator: ctypes.CDLL,
    p: torch.Tensor,
    lengths: list[int],
    mass_preservation: bool,
    upstream: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """alpha and dL/dp of the CUDA device code on the CPU; dtype float32 or float64."""
    suffix = {torch.float64: "f64", torch.float32: "f32"}[p.dtype]
    p = p.contiguous()
    lengths_tensor = torch.tensor(lengths, dtype=torch.long)
    alpha = torch.empty_like(p)
    grad = torch.empty_like(p)
    sizes = [ctypes.c_longlong(size) for size in p.shape]
    flag = ctypes.c_bool(mass_preservation)
    getattr(emulator, f"emulated_forward_{suffix}")(
        _pointer(p), _pointer(lengths_tensor), _pointer(alpha), *sizes, flag
    )
    upstream = upstream.to(p.dtype).contiguous()
    getattr(emulator, f"emulated_backward_{suffix}")(
        _pointer(upstream),
        _pointer(p),
        _pointer(alpha),
        _pointer(lengths_tensor),
        _pointer(grad),
        *sizes,
        flag,
    )
    return alpha, grad


# Tile boundaries (128 positions) and the shortest rows are where the scan's carries matter.
LENGTHS = [400, 1, 127, 128, 129, 256, 300]


@pytest.mark.parametrize(
    "regime", ["uniform", "reads_far", "near_zero", "near_one", "exact_zero_one"]
)
@pytest.mark.parametrize("mass_preservation", [True, False])
def test_emulated_device_code_equals_sequential_recurrence(
    emulator: ctypes.CDLL, regime: str, mass_preservation: bool
) -> None:
    p = p_choose_regime(regime, (len(LENGTHS), 5, 400), seed=21)
    upstream = torch.randn(
        p.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(22)
    )
    alpha, grad = _emulated(emulator, p, LENGTHS, mass_preservation, upstream)
    torch.testing.assert_close(
        alpha, sequential_alignment(p, LENGTHS, mass_preservation), rtol=1e-6, atol=1e-12
    )
    leaf = p.clone().requires_grad_()
    reference = monotonic_alignment_reference(leaf, torch.tensor(LENGTHS), mass_preservation)
    (expected_grad,) = torch.autograd.grad(reference, leaf, upstream)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("regime", ["reads_far", "near_zero", "near_one", "speech_like"])
def test_emulated_float32_device_code_is_within_1e6_of_float64(
    emulator: ctypes.CDLL, regime: str
) -> None:
    p = p_choose_regime(regime, (4, 6, 400), seed=23).float()
    lengths = random_lengths(4, 400, seed=24)
    upstream = torch.randn(p.shape, generator=torch.Generator().manual_seed(25))
    alpha, grad = _emulated(emulator, p, lengths, True, upstream)
    torch.testing.assert_close(
        alpha.double(), sequential_alignment(p, lengths, True), rtol=0.0, atol=1e-6
    )
    leaf = p.double().requires_grad_()
    reference = monotonic_alignment_reference(leaf, torch.tensor(lengths), True)
    (expected_grad,) = torch.autograd.grad(reference, leaf, upstream.double())
    scale = expected_grad.abs().max().item()
    torch.testing.assert_close(grad.double(), expected_grad, rtol=0.0, atol=1e-5 * scale)

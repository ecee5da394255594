#!/usr/bin/env bash
# GPU check of simul's monotonic alignment CUDA kernel, in one command:
#
#   bash benchmarks/gpu_monotonic.sh [LOG_DIR]                  # python3 with a CUDA torch
#   bash .ci/venv bash benchmarks/gpu_monotonic.sh [LOG_DIR]    # inside the project's venv
#
# 1. reports the GPU, torch, its CUDA version and nvcc's;
# 2. builds the CUDA extension just in time (simul.ops._extensions; cached by source hash under
#    $SIMUL_TORCH_EXTENSIONS_DIR or ~/.cache/simul/torch_extensions), printing the compiler's
#    output if the build fails;
# 3. runs every CUDA test: the device-parametrised tests of the alignment and of beta, and the
#    compile/emulator tests of tests/test_ops_monotonic_cuda.py;
# 4. runs the CUDA benchmark (reference vs CUDA kernel, forward + backward).
#
# Everything is also written to LOG_DIR (default: $OUT if set, else /tmp/simul_gpu_monotonic).
# Needs only torch, pytest and hypothesis in the chosen Python ($PYTHON, default python3); the
# repository is put on PYTHONPATH, so the project need not be installed. The exit code is 0
# only when the build and all tests pass. Takes about 2 minutes on an H200 (most of it the
# first build).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
log_dir=${1:-${OUT:-/tmp/simul_gpu_monotonic}}
mkdir -p "$log_dir"
python=${PYTHON:-python3}
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

section() { printf '\n=== %s ===\n' "$*"; }

{
    section "environment"
    nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
    "$python" - <<'PY'
import platform, shutil, subprocess, sys
import torch
from torch.utils import cpp_extension
print("python", platform.python_version(), sys.executable)
print("torch", torch.__version__, "built for CUDA", torch.version.cuda)
print("CUDA available:", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")
nvcc = f"{cpp_extension.CUDA_HOME}/bin/nvcc" if cpp_extension.CUDA_HOME else shutil.which("nvcc")
print("CUDA_HOME", cpp_extension.CUDA_HOME)
if nvcc:
    print(subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1])
PY
} 2>&1 | tee "$log_dir/environment.log"

if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "no CUDA device visible to $python: nothing to check" | tee -a "$log_dir/environment.log"
    exit 1
fi

section "build the CUDA extension" | tee "$log_dir/build.log"
start=$(date +%s)
"$python" - <<'PY' 2>&1 | tee -a "$log_dir/build.log"
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
for name in ("torch", "filelock"):
    logging.getLogger(name).setLevel(logging.WARNING)
from simul.ops._extensions import extension_status
status = extension_status("cuda")
print(status)
sys.exit(0 if status.available else 1)
PY
build_rc=${PIPESTATUS[0]}
echo "build: exit $build_rc after $(( $(date +%s) - start )) s" | tee -a "$log_dir/build.log"

section "CUDA tests" | tee "$log_dir/tests.log"
timeout 600 "$python" -m pytest -q -rs -p no:cacheprovider \
    tests/test_ops_monotonic.py tests/test_ops_soft_attention.py tests/test_ops_monotonic_cuda.py \
    -k "cuda" 2>&1 | tee -a "$log_dir/tests.log"
tests_rc=${PIPESTATUS[0]}

section "CUDA benchmark" | tee "$log_dir/bench.log"
timeout 300 "$python" benchmarks/bench_monotonic.py --devices cuda --repeats 10 2>&1 \
    | tee -a "$log_dir/bench.log"
bench_rc=${PIPESTATUS[0]}

section "summary"
echo "build exit $build_rc, tests exit $tests_rc, benchmark exit $bench_rc; logs in $log_dir" \
    | tee "$log_dir/summary.log"
[ "$build_rc" -eq 0 ] && [ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]

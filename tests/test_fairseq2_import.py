"""simul._fairseq2: fairseq2 imports with or without a system libsndfile (fresh interpreters)."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simul._fairseq2 import _bundled_sndfile_name, import_fairseq2

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a process imports fairseq2n once)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_import_fairseq2_works_in_a_fresh_process() -> None:
    result = _python(
        "from simul._fairseq2 import import_fairseq2\n"
        "audio = import_fairseq2('fairseq2.data.audio')\n"
        "import torch\n"
        "converter = audio.WaveformToFbankConverter(num_mel_bins=80, channel_last=True)\n"
        "out = converter({'waveform': torch.zeros(800, 1), 'sample_rate': 16000.0})\n"
        "print(tuple(out['fbank'].shape))\n"
        "print([l.split()[-1] for l in open('/proc/self/maps') if 'sndfile' in l][:1])\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "(3, 80)"
    if ctypes.util.find_library("sndfile") is None:  # no system copy: the soundfile wheel's one
        assert "_soundfile_data" in lines[1]


@pytest.mark.skipif(
    ctypes.util.find_library("sndfile") is not None, reason="the system has libsndfile"
)
def test_plain_import_fails_without_system_libsndfile() -> None:
    """Why the helper exists: on this machine a bare ``import fairseq2`` cannot load fairseq2n."""
    result = _python("import fairseq2")
    assert result.returncode != 0
    assert "libsndfile" in result.stderr


@pytest.mark.parametrize(
    ("system", "machine", "name"),
    [
        ("Linux", "x86_64", "libsndfile_x86_64.so"),
        ("Linux", "aarch64", "libsndfile_arm64.so"),
        ("Darwin", "arm64", "libsndfile_arm64.dylib"),
        ("Darwin", "x86_64", "libsndfile_x86_64.dylib"),
    ],
)
def test_bundled_library_names_follow_soundfile(system: str, machine: str, name: str) -> None:
    assert _bundled_sndfile_name(system, machine) == name


def test_bundled_library_name_on_other_platforms_is_an_error() -> None:
    with pytest.raises(OSError, match="Linux or macOS"):
        _bundled_sndfile_name("Windows", "AMD64")


def test_only_fairseq2_modules_are_imported() -> None:
    with pytest.raises(ValueError, match="module_name"):
        import_fairseq2("os")

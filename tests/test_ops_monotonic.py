"""Tests of the expected monotonic alignment: every implementation against the definition.

The oracle is the recurrence run sequentially in float64 Python (``sequential_alignment`` in
``ops_monotonic_oracle.py``), itself checked against the sum-of-products definition of Raffel
et al. 2017. Each test body runs on every device (CUDA skipped when absent) and on both
implementations of that device: the PyTorch reference and the compiled kernel (C++ on CPU,
CUDA on GPU).
"""

from __future__ import annotations

import logging
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_monotonic_oracle import REGIMES, p_choose_regime, random_lengths, sequential_alignment

from simul.ops import _extensions, monotonic_alignment
from simul.ops._extensions import extension_status

MASS_MODES = (True, False)


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)


def _compiled_kernel(device: torch.device) -> str:
    """The compiled implementation of ``device``; skips only where no compiler exists."""
    kind = "cpu" if device.type == "cpu" else "cuda"
    status = extension_status(kind)
    if not status.available:
        missing = _extensions._missing_tool(kind)
        if missing is not None or "disabled" in status.detail:
            pytest.skip(f"the {kind} kernel cannot be built here: {missing or status.detail}")
        pytest.fail(f"the {kind} kernel failed to build: {status.detail}")
    return "cpp" if kind == "cpu" else "cuda"


@pytest.fixture(params=["reference", "compiled"])
def implementation(request: pytest.FixtureRequest, device: torch.device) -> str:
    return "reference" if request.param == "reference" else _compiled_kernel(device)


# --- the oracle -------------------------------------------------------------------------------


def _definition(p: torch.Tensor) -> torch.Tensor:
    """Raffel et al.'s sum of products, O(S^2) per step: (N, T, S) float64, no padding."""
    num_rows, num_targets, num_sources = p.shape
    previous = torch.zeros(num_rows, num_sources, dtype=torch.float64)
    previous[:, 0] = 1.0
    steps = []
    for target in range(num_targets):
        p_i = p[:, target]
        current = torch.zeros_like(previous)
        for j in range(num_sources):
            for k in range(j + 1):
                stay = torch.prod(1.0 - p_i[:, k:j], dim=-1)
                current[:, j] += previous[:, k] * stay
            current[:, j] *= p_i[:, j]
        steps.append(current)
        previous = current
    return torch.stack(steps, dim=1)


def test_sequential_oracle_equals_the_definition() -> None:
    p = torch.rand(3, 4, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        sequential_alignment(p, [7, 7, 7], False), _definition(p), rtol=1e-12, atol=1e-14
    )


def test_hand_computed_two_positions() -> None:
    p = torch.tensor([[[0.25, 0.5], [0.5, 0.75]]], dtype=torch.float64)
    # Step 0: alpha = [0.25, 0.75 * 0.5]; step 1: q0 = 0.25, q1 = 0.5 * 0.25 + 0.375.
    expected = torch.tensor([[[0.25, 0.375], [0.125, 0.75 * 0.5]]], dtype=torch.float64)
    torch.testing.assert_close(monotonic_alignment(p, mass_preservation=False), expected)
    torch.testing.assert_close(sequential_alignment(p, [2], False), expected)


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_equals_sequential_recurrence_at_source_length_400(
    device: torch.device, implementation: str, regime: str, dtype: torch.dtype
) -> None:
    shape = (3, 6, 400)
    p = p_choose_regime(regime, shape, seed=1)
    lengths = random_lengths(shape[0], shape[-1], seed=2)
    for mass_preservation in MASS_MODES:
        expected = sequential_alignment(p.to(dtype), lengths, mass_preservation)
        alpha = monotonic_alignment(
            p.to(device=device, dtype=dtype),
            torch.tensor(lengths, device=device),
            mass_preservation=mass_preservation,
            implementation=implementation,
        )
        assert alpha.dtype == dtype and alpha.device.type == device.type
        if dtype == torch.float64:
            torch.testing.assert_close(alpha.cpu(), expected, rtol=1e-6, atol=1e-12)
        else:  # float32 arithmetic: 1e-6 relative to the scale of alpha (at most 1)
            torch.testing.assert_close(alpha.cpu().double(), expected, rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("regime", REGIMES)
def test_alignment_mass_is_conserved(
    device: torch.device, implementation: str, regime: str
) -> None:
    shape = (4, 8, 400)
    p = p_choose_regime(regime, shape, seed=3).float().to(device)
    lengths = torch.tensor(random_lengths(shape[0], shape[-1], seed=4), device=device)
    alpha = monotonic_alignment(p, lengths, implementation=implementation)
    sums = alpha.double().sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0.0, atol=1e-5)
    assert bool((alpha >= 0).all())
    unpreserved = monotonic_alignment(
        p, lengths, mass_preservation=False, implementation=implementation
    )
    assert bool((unpreserved.double().sum(-1) <= 1.0 + 1e-6).all())


def test_padded_positions_are_never_read_and_get_no_gradient(
    device: torch.device, implementation: str
) -> None:
    p = torch.rand(3, 4, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    lengths = [9, 4, 1]
    for row, length in enumerate(lengths):
        p[row, :, length:] = float("nan")
    p = p.to(device).requires_grad_()
    alpha = monotonic_alignment(p, torch.tensor(lengths), implementation=implementation)
    (grad,) = torch.autograd.grad((alpha * torch.randn_like(alpha)).sum(), p)
    for row, length in enumerate(lengths):
        assert bool((alpha[row, :, length:] == 0).all())
        assert bool((grad[row, :, length - 1 :] == 0).all())  # L-1 is a constant 1
    assert bool(torch.isfinite(alpha).all()) and bool(torch.isfinite(grad).all())


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("mass_preservation", MASS_MODES)
def test_gradcheck_float64(
    device: torch.device, implementation: str, mass_preservation: bool
) -> None:
    generator = torch.Generator().manual_seed(6)
    p = (0.05 + 0.9 * torch.rand(3, 4, 7, dtype=torch.float64, generator=generator)).to(device)
    lengths = torch.tensor([7, 3, 1], device=device)

    def alignment(p_choose: torch.Tensor) -> torch.Tensor:
        return monotonic_alignment(
            p_choose, lengths, mass_preservation=mass_preservation, implementation=implementation
        )

    assert torch.autograd.gradcheck(alignment, (p.requires_grad_(),))


def test_compiled_backward_equals_reference_autograd_at_length_400(device: torch.device) -> None:
    kernel = _compiled_kernel(device)
    p = p_choose_regime("reads_far", (3, 5, 400), seed=7).to(device)
    lengths = torch.tensor(random_lengths(3, 400, seed=8), device=device)
    upstream = torch.randn(p.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    for mass_preservation in MASS_MODES:
        grads = []
        for name in ("reference", kernel):
            leaf = p.clone().requires_grad_()
            alpha = monotonic_alignment(
                leaf, lengths, mass_preservation=mass_preservation, implementation=name
            )
            grads.append(torch.autograd.grad(alpha, leaf, upstream.to(device))[0])
        torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    num_rows=st.integers(1, 4),
    num_targets=st.integers(1, 6),
    num_sources=st.integers(1, 140),
    mass_preservation=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_cpp_equals_reference(
    num_rows: int, num_targets: int, num_sources: int, mass_preservation: bool, seed: int
) -> None:
    kernel = _compiled_kernel(torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    p = torch.rand(num_rows, num_targets, num_sources, dtype=torch.float64, generator=generator)
    lengths = torch.randint(1, num_sources + 1, (num_rows,), generator=generator)
    upstream = torch.randn(p.shape, dtype=torch.float64, generator=generator)
    outputs = []
    for name in ("reference", kernel):
        leaf = p.clone().requires_grad_()
        alpha = monotonic_alignment(
            leaf, lengths, mass_preservation=mass_preservation, implementation=name
        )
        outputs.append((alpha, torch.autograd.grad(alpha, leaf, upstream)[0]))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], rtol=1e-9, atol=1e-12)


# --- dtypes and shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)])
def test_half_and_bfloat16_accumulate_in_float32(
    device: torch.device, implementation: str, dtype: torch.dtype, tolerance: float
) -> None:
    p = p_choose_regime("reads_far", (3, 6, 300), seed=10).to(dtype)
    lengths = random_lengths(3, 300, seed=11)
    expected = sequential_alignment(p, lengths, True)  # float64 from the same rounded inputs
    leaf = p.to(device).requires_grad_()
    alpha = monotonic_alignment(leaf, torch.tensor(lengths), implementation=implementation)
    assert alpha.dtype == dtype
    # Half precision output: each value within its own rounding, and no mass lost on the way.
    torch.testing.assert_close(alpha.cpu().double(), expected, rtol=tolerance, atol=tolerance / 100)
    sums = alpha.double().sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0.0, atol=300 * tolerance / 100)
    upstream = torch.randn(p.shape, generator=torch.Generator().manual_seed(12))
    (grad,) = torch.autograd.grad(alpha, leaf, upstream.to(device=device, dtype=dtype))
    exact = p.double().requires_grad_()
    (expected_grad,) = torch.autograd.grad(
        monotonic_alignment(exact, torch.tensor(lengths), implementation="reference"),
        exact,
        upstream.double(),
    )
    assert grad.dtype == dtype
    scale = expected_grad.abs().max().item()
    assert (grad.cpu().double() - expected_grad).abs().max().item() <= 4 * tolerance * scale


def test_four_dim_input_with_batch_lengths_equals_flattened_rows(
    device: torch.device, implementation: str
) -> None:
    p = torch.rand(2, 3, 4, 11, generator=torch.Generator().manual_seed(13)).to(device)
    lengths = torch.tensor([11, 6])
    alpha = monotonic_alignment(p, lengths, implementation=implementation)
    flat = monotonic_alignment(
        p.reshape(6, 4, 11), lengths.repeat_interleave(3), implementation=implementation
    )
    assert alpha.shape == p.shape
    torch.testing.assert_close(alpha.reshape(6, 4, 11), flat, rtol=0.0, atol=0.0)


def test_non_contiguous_input(device: torch.device, implementation: str) -> None:
    p = torch.rand(5, 9, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    p = p.to(device).transpose(1, 2)  # (5, 4, 9), not contiguous
    expected = sequential_alignment(p, [9] * 5, True)
    torch.testing.assert_close(
        monotonic_alignment(p, implementation=implementation).cpu(), expected
    )


def test_docstring_example() -> None:
    alpha = monotonic_alignment(torch.full((2, 3, 5), 0.5), torch.tensor([5, 3]))
    torch.testing.assert_close(alpha.sum(-1), torch.ones(2, 3))
    assert bool((alpha[1, :, 3:] == 0).all())


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p_choose", "lengths", "kwargs", "field"),
    [
        (torch.rand(4, 5), None, {}, "p_choose"),
        (torch.ones(2, 3, 4, dtype=torch.long), None, {}, "p_choose"),
        (torch.rand(2, 3, 0), None, {}, "p_choose"),
        (torch.rand(2, 3, 4), torch.tensor([4]), {}, "source_lengths"),
        (torch.rand(2, 3, 4), torch.tensor([4.0, 2.0]), {}, "source_lengths"),
        (torch.rand(2, 3, 4), torch.tensor([5, 2]), {}, "source_lengths"),
        (torch.rand(2, 3, 4), torch.tensor([0, 2]), {}, "source_lengths"),
        (torch.rand(2, 3, 4), None, {"implementation": "fast"}, "implementation"),
        (torch.rand(2, 3, 4), None, {"implementation": "cuda"}, "implementation"),
        (torch.rand(2, 3, 4), None, {"mass_preservation": 1}, "mass_preservation"),
    ],
)
def test_bad_inputs_are_rejected(
    p_choose: torch.Tensor, lengths: torch.Tensor | None, kwargs: dict, field: str
) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        monotonic_alignment(p_choose, lengths, **kwargs)


# --- torch.library, torch.compile -------------------------------------------------------------


def test_operator_registration_passes_opcheck() -> None:
    _compiled_kernel(torch.device("cpu"))
    p = torch.rand(3, 4, 6, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 1])
    torch.library.opcheck(torch.ops.simul.monotonic_alignment.default, (p, lengths, True))


def test_torch_compile_of_a_caller_equals_eager() -> None:
    kernel = _compiled_kernel(torch.device("cpu"))

    def latency_loss(energy: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        alpha = monotonic_alignment(torch.sigmoid(energy), lengths, implementation=kernel)
        return (alpha * torch.arange(1.0, energy.shape[-1] + 1)).sum()

    energy = torch.randn(2, 3, 4, 9, generator=torch.Generator().manual_seed(15))
    lengths = torch.tensor([9, 5])
    eager_leaf = energy.clone().requires_grad_()
    eager = latency_loss(eager_leaf, lengths)
    (eager_grad,) = torch.autograd.grad(eager, eager_leaf)
    compiled = torch.compile(latency_loss, backend="aot_eager", fullgraph=True)
    leaf = energy.clone().requires_grad_()
    out = compiled(leaf, lengths)
    (grad,) = torch.autograd.grad(out, leaf)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(grad, eager_grad)


# --- the fallback -----------------------------------------------------------------------------


@pytest.fixture
def fresh_status():
    """Forget which kernels loaded, before and after the test (the build cache stays)."""
    extension_status.cache_clear()
    yield
    extension_status.cache_clear()


def test_disabled_extensions_fall_back_to_the_reference(
    monkeypatch: pytest.MonkeyPatch, fresh_status: None
) -> None:
    monkeypatch.setenv(_extensions.DISABLE_ENV, "1")
    p = torch.rand(2, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(monotonic_alignment(p), sequential_alignment(p, [5, 5], True))
    with pytest.raises(RuntimeError, match="disabled"):
        monotonic_alignment(p, implementation="cpp")


def test_failed_build_warns_once_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_status: None
) -> None:
    def broken_build(kind: str) -> str:
        raise RuntimeError(
            "Error building extension 'simul_monotonic_cpu'\nlots of compiler output"
        )

    monkeypatch.delenv(_extensions.DISABLE_ENV, raising=False)
    monkeypatch.setattr(_extensions, "_missing_tool", lambda kind: None)
    monkeypatch.setattr(_extensions, "_build_and_load", broken_build)
    p = torch.rand(2, 3, 5, dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger=_extensions.__name__):
        first = monotonic_alignment(p)
        second = monotonic_alignment(p)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "\n" not in message and "Error building extension" in message and "reference" in message
    torch.testing.assert_close(first, sequential_alignment(p, [5, 5], True))
    torch.testing.assert_close(second, first)


def test_missing_compiler_is_reported(monkeypatch: pytest.MonkeyPatch, fresh_status: None) -> None:
    monkeypatch.delenv(_extensions.DISABLE_ENV, raising=False)
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    status = extension_status("cpu")
    assert not status.available and "no C++ compiler" in status.detail


def test_build_directory_is_keyed_by_source_and_overridable(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv(_extensions.CACHE_DIR_ENV, str(tmp_path))
    assert _extensions.extensions_root() == tmp_path
    key = _extensions._build_key("cpu")
    assert len(key) == 16 and key == _extensions._build_key("cpu")
    monkeypatch.setattr(
        _extensions, "_FILES", {**_extensions._FILES, "cpu": ("monotonic_alignment_kernels.cuh",)}
    )
    assert _extensions._build_key("cpu") != key


def test_saturated_long_source_keeps_its_mass_where_the_closed_form_loses_it() -> None:
    """Regression guard for the bias of MMA's closed form (research note §1.3): ours keeps 1."""
    p = p_choose_regime("reads_far", (4, 20, 400), seed=16).float()
    alpha = monotonic_alignment(p)
    assert math.isclose(alpha.double().sum(-1).mean().item(), 1.0, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("nvcc_version", "usable"), [("13.0", False), ("12.4", True), (None, False)]
)
def test_nvcc_must_match_torchs_cuda_major_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path, nvcc_version: str | None, usable: bool
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvcc").touch()
    from torch.utils import cpp_extension

    monkeypatch.setattr(_extensions.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: True)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(_extensions, "_cuda_home", lambda: str(tmp_path))
    monkeypatch.setattr(_extensions, "_nvcc_version", lambda nvcc: nvcc_version)
    missing = _extensions._missing_tool("cuda")
    if usable:
        assert missing is None
    else:
        assert (
            missing
            == f"{tmp_path}/bin/nvcc is CUDA {nvcc_version}, but torch is built for CUDA 12.8"
        )

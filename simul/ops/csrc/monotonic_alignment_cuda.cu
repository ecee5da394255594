// Expected monotonic alignment on CUDA: launchers and CUDA kernel registration.
//
// The device code is in ``monotonic_alignment_kernels.cuh``: one warp per (batch x head) row,
// all target steps in one launch, forward and backward. Workspaces come from PyTorch's caching
// allocator (at::empty) and kernels run on the current stream. The operator schemas are
// defined in Python (``simul/ops/monotonic_alignment.py``); this file registers their CUDA
// kernels.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "monotonic_alignment_kernels.cuh"

namespace {

using simul_monotonic::kItemsPerLane;
using simul_monotonic::kWarpsPerBlock;

void check_inputs(const at::Tensor& p_choose, const at::Tensor& source_lengths) {
  TORCH_CHECK(p_choose.is_cuda(), "p_choose must be a CUDA tensor");
  TORCH_CHECK(p_choose.dim() == 3, "p_choose must be (N, T, S), but has ", p_choose.dim(), " dims");
  TORCH_CHECK(p_choose.is_contiguous(), "p_choose must be contiguous");
  TORCH_CHECK(source_lengths.dim() == 1 && source_lengths.size(0) == p_choose.size(0),
              "source_lengths must be (N,) with N = ", p_choose.size(0));
  TORCH_CHECK(source_lengths.scalar_type() == at::kLong && source_lengths.is_contiguous(),
              "source_lengths must be contiguous int64");
  TORCH_CHECK(source_lengths.device() == p_choose.device(), "source_lengths must be on ",
              p_choose.device());
}

dim3 grid_for(int64_t num_rows) {
  return dim3(static_cast<unsigned>((num_rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
}

const long long* lengths_pointer(const at::Tensor& source_lengths) {
  return reinterpret_cast<const long long*>(source_lengths.const_data_ptr<int64_t>());
}

at::Tensor monotonic_alignment_cuda(const at::Tensor& p_choose, const at::Tensor& source_lengths,
                                    bool mass_preservation) {
  check_inputs(p_choose, source_lengths);
  const c10::cuda::CUDAGuard guard(p_choose.device());
  const int64_t num_rows = p_choose.size(0);
  const int64_t num_targets = p_choose.size(1);
  const int64_t num_sources = p_choose.size(2);
  at::Tensor alpha = at::empty_like(p_choose);
  if (alpha.numel() == 0) return alpha;
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, p_choose.scalar_type(), "monotonic_alignment_cuda", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        at::Tensor workspace = at::empty({num_rows, num_sources},
                                         p_choose.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
        simul_monotonic::monotonic_alignment_forward_kernel<scalar_t, acc_t, kItemsPerLane>
            <<<grid_for(num_rows), kWarpsPerBlock * simul_monotonic::kWarpSize, 0, stream>>>(
                p_choose.const_data_ptr<scalar_t>(), lengths_pointer(source_lengths),
                alpha.mutable_data_ptr<scalar_t>(), workspace.mutable_data_ptr<acc_t>(),
                num_rows, num_targets, num_sources, mass_preservation);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return alpha;
}

at::Tensor monotonic_alignment_backward_cuda(const at::Tensor& grad_alpha,
                                             const at::Tensor& p_choose, const at::Tensor& alpha,
                                             const at::Tensor& source_lengths,
                                             bool mass_preservation) {
  check_inputs(p_choose, source_lengths);
  TORCH_CHECK(grad_alpha.sizes() == p_choose.sizes() && alpha.sizes() == p_choose.sizes(),
              "grad_alpha and alpha must have the shape of p_choose");
  TORCH_CHECK(grad_alpha.scalar_type() == p_choose.scalar_type() &&
                  alpha.scalar_type() == p_choose.scalar_type(),
              "grad_alpha and alpha must have the dtype of p_choose");
  const c10::cuda::CUDAGuard guard(p_choose.device());
  const at::Tensor grad = grad_alpha.contiguous();
  const at::Tensor saved = alpha.contiguous();
  const int64_t num_rows = p_choose.size(0);
  const int64_t num_targets = p_choose.size(1);
  const int64_t num_sources = p_choose.size(2);
  at::Tensor grad_p = at::empty_like(p_choose);
  if (grad_p.numel() == 0) return grad_p;
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, p_choose.scalar_type(), "monotonic_alignment_backward_cuda", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const auto options = p_choose.options().dtype(c10::CppTypeToScalarType<acc_t>::value);
        at::Tensor q_workspace = at::empty({num_rows, num_sources}, options);
        at::Tensor grad_workspace = at::empty({num_rows, num_sources}, options);
        simul_monotonic::monotonic_alignment_backward_kernel<scalar_t, acc_t, kItemsPerLane>
            <<<grid_for(num_rows), kWarpsPerBlock * simul_monotonic::kWarpSize, 0, stream>>>(
                grad.const_data_ptr<scalar_t>(), p_choose.const_data_ptr<scalar_t>(),
                saved.const_data_ptr<scalar_t>(), lengths_pointer(source_lengths),
                grad_p.mutable_data_ptr<scalar_t>(), q_workspace.mutable_data_ptr<acc_t>(),
                grad_workspace.mutable_data_ptr<acc_t>(), num_rows, num_targets, num_sources,
                mass_preservation);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return grad_p;
}

}  // namespace

TORCH_LIBRARY_IMPL(simul, CUDA, m) {
  m.impl("monotonic_alignment", &monotonic_alignment_cuda);
  m.impl("monotonic_alignment_backward", &monotonic_alignment_backward_cuda);
}

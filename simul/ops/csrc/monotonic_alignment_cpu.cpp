// Expected monotonic alignment on CPU: forward and backward, one source row per task.
//
// The recurrence (``simul/ops/monotonic_reference.py`` states it and its conventions):
//
//   q[i, j]     = (1 - p[i, j-1]) * q[i, j-1] + alpha[i-1, j],   q[i, -1] = 0
//   alpha[i, j] = p[i, j] * q[i, j],                             alpha[-1] = one_hot(0)
//
// with p = 0 beyond the source length L and, under mass preservation, p[i, L-1] = 1.
// It runs sequentially along j and accumulates in double whatever the input dtype: the loop is
// a chain of dependent multiply-adds, as fast in double as in float, and a float running sum
// over 400 positions drifts by about 1e-6, which double avoids. The previous target step's
// alpha is kept in a per-task double buffer, so half-precision outputs never feed back.
//
// Backward, for one target step i with total gradient gA = dL/dalpha[i] (the caller's gradient
// plus what target step i+1 sends back through alpha[i]):
//
//   gq[j]      = p[i, j] * gA[j] + (1 - p[i, j]) * gq[j+1],       gq[L] = 0   (reverse scan)
//   dL/dp[i,j] = q[i, j] * (gA[j] - gq[j+1])          (0 for j >= L, and for j = L-1 under mass
//                                                        preservation, where p is a constant 1)
//   dL/dalpha[i-1, j] += gq[j]
//
// q[i] is recomputed from the saved alpha[i-1], so nothing beyond the output is stored.
// The operator schemas are defined in Python (``simul/ops/monotonic_alignment.py``); this file
// registers their CPU kernels.

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

using acc_t = double;

void check_inputs(const at::Tensor& p_choose, const at::Tensor& source_lengths) {
  TORCH_CHECK(p_choose.dim() == 3, "p_choose must be (N, T, S), but has ", p_choose.dim(), " dims");
  TORCH_CHECK(p_choose.is_contiguous(), "p_choose must be contiguous");
  TORCH_CHECK(source_lengths.dim() == 1 && source_lengths.size(0) == p_choose.size(0),
              "source_lengths must be (N,) with N = ", p_choose.size(0));
  TORCH_CHECK(source_lengths.scalar_type() == at::kLong && source_lengths.is_contiguous(),
              "source_lengths must be contiguous int64");
  TORCH_CHECK(source_lengths.device() == p_choose.device(), "source_lengths must be on ",
              p_choose.device());
}

// Source length of row `row`, checked against S: the kernels never index past it.
int64_t row_length(const int64_t* lengths, int64_t row, int64_t num_sources) {
  const int64_t length = lengths[row];
  TORCH_CHECK(length >= 1 && length <= num_sources, "source_lengths[", row, "] must be in [1, ",
              num_sources, "], but is ", length);
  return length;
}

template <typename scalar_t>
void forward_row(const scalar_t* p, scalar_t* alpha, acc_t* previous,
                 int64_t num_targets, int64_t num_sources, int64_t length,
                 bool mass_preservation) {
  std::fill(previous, previous + length, acc_t(0));
  previous[0] = acc_t(1);
  for (int64_t target = 0; target < num_targets; ++target) {
    const scalar_t* p_row = p + target * num_sources;
    scalar_t* alpha_row = alpha + target * num_sources;
    acc_t q = 0;
    acc_t stay = 1;  // 1 - p[j-1]
    for (int64_t j = 0; j < length; ++j) {
      q = stay * q + previous[j];
      const acc_t p_j = (mass_preservation && j == length - 1) ? acc_t(1) : acc_t(p_row[j]);
      const acc_t alpha_j = p_j * q;
      previous[j] = alpha_j;
      alpha_row[j] = static_cast<scalar_t>(alpha_j);
      stay = acc_t(1) - p_j;
    }
    std::fill(alpha_row + length, alpha_row + num_sources, scalar_t(0));
  }
}

template <typename scalar_t>
void backward_row(const scalar_t* grad_alpha, const scalar_t* p, const scalar_t* alpha,
                  scalar_t* grad_p, acc_t* q,
                  acc_t* grad_next, int64_t num_targets,
                  int64_t num_sources, int64_t length, bool mass_preservation) {
  std::fill(grad_next, grad_next + length, acc_t(0));  // dL/dalpha[T-1] from step T: none
  for (int64_t target = num_targets - 1; target >= 0; --target) {
    const int64_t offset = target * num_sources;
    const scalar_t* p_row = p + offset;
    // Recompute q[target] from alpha[target - 1] (alpha[-1] = one_hot(0)).
    acc_t q_j = 0;
    acc_t stay = 1;
    for (int64_t j = 0; j < length; ++j) {
      const acc_t previous =
          target > 0 ? acc_t(alpha[offset - num_sources + j]) : acc_t(j == 0 ? 1 : 0);
      q_j = stay * q_j + previous;
      q[j] = q_j;
      const acc_t p_j = (mass_preservation && j == length - 1) ? acc_t(1) : acc_t(p_row[j]);
      stay = acc_t(1) - p_j;
    }
    // Reverse scan: grad_next holds dL/dalpha[target] from step target + 1 on entry and
    // dL/dalpha[target - 1] from this step on exit.
    const scalar_t* grad_row = grad_alpha + offset;
    scalar_t* grad_p_row = grad_p + offset;
    acc_t grad_q_right = 0;  // gq[j+1]
    for (int64_t j = length - 1; j >= 0; --j) {
      const bool forced = mass_preservation && j == length - 1;
      const acc_t p_j = forced ? acc_t(1) : acc_t(p_row[j]);
      const acc_t grad_a = acc_t(grad_row[j]) + grad_next[j];
      const acc_t grad_q = p_j * grad_a + (acc_t(1) - p_j) * grad_q_right;
      grad_p_row[j] = forced ? scalar_t(0) : static_cast<scalar_t>(q[j] * (grad_a - grad_q_right));
      grad_next[j] = grad_q;
      grad_q_right = grad_q;
    }
    std::fill(grad_p_row + length, grad_p_row + num_sources, scalar_t(0));
  }
}

at::Tensor monotonic_alignment_cpu(const at::Tensor& p_choose, const at::Tensor& source_lengths,
                                   bool mass_preservation) {
  check_inputs(p_choose, source_lengths);
  const int64_t num_rows = p_choose.size(0);
  const int64_t num_targets = p_choose.size(1);
  const int64_t num_sources = p_choose.size(2);
  at::Tensor alpha = at::empty_like(p_choose);
  const int64_t* lengths = source_lengths.const_data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, p_choose.scalar_type(), "monotonic_alignment_cpu", [&] {
              const scalar_t* p = p_choose.const_data_ptr<scalar_t>();
        scalar_t* out = alpha.mutable_data_ptr<scalar_t>();
        const int64_t row_size = num_targets * num_sources;
        at::parallel_for(0, num_rows, 1, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> previous(num_sources);
          for (int64_t row = begin; row < end; ++row) {
            forward_row(p + row * row_size, out + row * row_size, previous.data(), num_targets,
                        num_sources, row_length(lengths, row, num_sources), mass_preservation);
          }
        });
      });
  return alpha;
}

at::Tensor monotonic_alignment_backward_cpu(const at::Tensor& grad_alpha,
                                            const at::Tensor& p_choose, const at::Tensor& alpha,
                                            const at::Tensor& source_lengths,
                                            bool mass_preservation) {
  check_inputs(p_choose, source_lengths);
  TORCH_CHECK(grad_alpha.sizes() == p_choose.sizes() && alpha.sizes() == p_choose.sizes(),
              "grad_alpha and alpha must have the shape of p_choose");
  TORCH_CHECK(grad_alpha.scalar_type() == p_choose.scalar_type() &&
                  alpha.scalar_type() == p_choose.scalar_type(),
              "grad_alpha and alpha must have the dtype of p_choose");
  const at::Tensor grad = grad_alpha.contiguous();
  const at::Tensor saved = alpha.contiguous();
  const int64_t num_rows = p_choose.size(0);
  const int64_t num_targets = p_choose.size(1);
  const int64_t num_sources = p_choose.size(2);
  at::Tensor grad_p = at::empty_like(p_choose);
  const int64_t* lengths = source_lengths.const_data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, p_choose.scalar_type(), "monotonic_alignment_backward_cpu", [&] {
              const scalar_t* g = grad.const_data_ptr<scalar_t>();
        const scalar_t* p = p_choose.const_data_ptr<scalar_t>();
        const scalar_t* a = saved.const_data_ptr<scalar_t>();
        scalar_t* out = grad_p.mutable_data_ptr<scalar_t>();
        const int64_t row_size = num_targets * num_sources;
        at::parallel_for(0, num_rows, 1, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> q(num_sources);
          std::vector<acc_t> grad_next(num_sources);
          for (int64_t row = begin; row < end; ++row) {
            const int64_t shift = row * row_size;
            backward_row(g + shift, p + shift, a + shift, out + shift, q.data(), grad_next.data(),
                         num_targets, num_sources, row_length(lengths, row, num_sources),
                         mass_preservation);
          }
        });
      });
  return grad_p;
}

}  // namespace

TORCH_LIBRARY_IMPL(simul, CPU, m) {
  m.impl("monotonic_alignment", &monotonic_alignment_cpu);
  m.impl("monotonic_alignment_backward", &monotonic_alignment_backward_cpu);
}

// Runs the CUDA device code of simul/ops/csrc/monotonic_alignment_kernels.cuh on the CPU.
//
// Why: CI has no GPU, yet the kernels' logic (tiling, lane maps, warp scans, carries, lengths)
// should be tested against the reference. Each warp runs as 32 std::threads; a shuffle writes
// every lane's value to a shared slot, waits at a barrier, reads its source lane, and waits again,
// which is the semantics of a full-mask __shfl_*_sync in converged code. What this cannot show:
// memory-model races, and anything about speed. The GPU tests do those (benchmarks/gpu_monotonic.sh).
//
// Built by tests/test_ops_monotonic_cuda.py with g++ -std=c++20, called through ctypes.

#include <barrier>
#include <cstring>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline

struct Dim3 {
  unsigned x = 0;
};
thread_local Dim3 threadIdx;
thread_local Dim3 blockIdx;
thread_local Dim3 blockDim;

namespace {

constexpr int kLanes = 32;
std::barrier<>* warp_barrier = nullptr;
unsigned char slots[kLanes][8];

template <typename T>
T exchange(T value, int source_lane) {
  static_assert(sizeof(T) <= 8, "shuffled values are at most 8 bytes");
  const int lane = static_cast<int>(threadIdx.x);
  std::memcpy(slots[lane], &value, sizeof(T));
  warp_barrier->arrive_and_wait();
  T result;
  std::memcpy(&result, slots[source_lane], sizeof(T));
  warp_barrier->arrive_and_wait();
  return result;
}

}  // namespace

template <typename T>
T __shfl_up_sync(unsigned, T value, int distance) {
  const int lane = static_cast<int>(threadIdx.x);
  return exchange(value, lane >= distance ? lane - distance : lane);
}

template <typename T>
T __shfl_down_sync(unsigned, T value, int distance) {
  const int lane = static_cast<int>(threadIdx.x);
  return exchange(value, lane + distance < kLanes ? lane + distance : lane);
}

template <typename T>
T __shfl_sync(unsigned, T value, int source_lane) {
  return exchange(value, source_lane);
}

#include "monotonic_alignment_kernels.cuh"

namespace {

using simul_monotonic::kItemsPerLane;

// Launch `kernel` on a grid of one-warp blocks, one block after another.
template <typename Kernel>
void launch(long long num_blocks, Kernel kernel) {
  std::barrier<> barrier(kLanes);
  warp_barrier = &barrier;
  for (long long block = 0; block < num_blocks; ++block) {
    std::vector<std::thread> lanes;
    for (int lane = 0; lane < kLanes; ++lane) {
      lanes.emplace_back([=] {
        threadIdx.x = static_cast<unsigned>(lane);
        blockIdx.x = static_cast<unsigned>(block);
        blockDim.x = kLanes;
        kernel();
      });
    }
    for (auto& thread : lanes) thread.join();
  }
  warp_barrier = nullptr;
}

template <typename scalar_t>
void forward(const scalar_t* p_choose, const long long* source_lengths, scalar_t* alpha,
             long long num_rows, long long num_targets, long long num_sources,
             bool mass_preservation) {
  std::vector<scalar_t> workspace(num_rows * num_sources);
  launch(num_rows, [&] {
    simul_monotonic::monotonic_alignment_forward_kernel<scalar_t, scalar_t, kItemsPerLane>(
        p_choose, source_lengths, alpha, workspace.data(), num_rows, num_targets, num_sources,
        mass_preservation);
  });
}

template <typename scalar_t>
void backward(const scalar_t* grad_alpha, const scalar_t* p_choose, const scalar_t* alpha,
              const long long* source_lengths, scalar_t* grad_p, long long num_rows,
              long long num_targets, long long num_sources, bool mass_preservation) {
  std::vector<scalar_t> q_workspace(num_rows * num_sources);
  std::vector<scalar_t> grad_workspace(num_rows * num_sources);
  launch(num_rows, [&] {
    simul_monotonic::monotonic_alignment_backward_kernel<scalar_t, scalar_t, kItemsPerLane>(
        grad_alpha, p_choose, alpha, source_lengths, grad_p, q_workspace.data(),
        grad_workspace.data(), num_rows, num_targets, num_sources, mass_preservation);
  });
}

}  // namespace

// Entry points for ctypes, float64 and float32 (the CUDA kernel accumulates float32 in float32).
#define SIMUL_EMULATED(suffix, scalar_t)                                                         \
  extern "C" void emulated_forward_##suffix(const scalar_t* p, const long long* lengths,          \
                                            scalar_t* alpha, long long n, long long t,            \
                                            long long s, bool mass_preservation) {                \
    forward(p, lengths, alpha, n, t, s, mass_preservation);                                       \
  }                                                                                               \
  extern "C" void emulated_backward_##suffix(const scalar_t* grad, const scalar_t* p,            \
                                             const scalar_t* alpha, const long long* lengths,     \
                                             scalar_t* grad_p, long long n, long long t,          \
                                             long long s, bool mass_preservation) {               \
    backward(grad, p, alpha, lengths, grad_p, n, t, s, mass_preservation);                        \
  }

SIMUL_EMULATED(f64, double)
SIMUL_EMULATED(f32, float)

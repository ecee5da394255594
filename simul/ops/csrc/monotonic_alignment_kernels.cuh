// Expected monotonic alignment on CUDA: the device code, forward and backward.
//
// Same recurrence, conventions and backward as ``monotonic_alignment_cpu.cpp`` (see there).
// One warp owns one (batch x head) row and runs all T target steps in one launch. Along the
// source, the recurrence q_j = a_j q_{j-1} + b_j is an associative scan of affine maps
// x -> A x + B: the source is cut into tiles of 32 * kItems positions, each lane composes the
// maps of its kItems consecutive positions in registers, the warp scans the 32 lane maps with
// shuffles (5 steps), and the carry (q at the end of the tile) enters the next tile. The
// backward runs the reverse scan the same way, tiles from the right.
//
// Each lane reads and writes only its own positions of the per-row workspaces, so target steps
// need no synchronisation beyond the shuffles. Workspaces (accumulation type) come from the
// caller: PyTorch's caching allocator.
//
// This header includes nothing, so that NVRTC can compile it alone (the compile-only test does,
// with the CUDA version torch was built with); ``monotonic_alignment_cuda.cu`` instantiates it
// for torch's dtypes.

#pragma once

namespace simul_monotonic {

using index_t = long long;

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
// Launch configuration: source positions per lane per tile (a tile is 32 * kItemsPerLane
// positions) and rows (warps) per block of the launchers in monotonic_alignment_cuda.cu.
constexpr int kItemsPerLane = 4;
constexpr int kWarpsPerBlock = 4;

// An affine map x -> scale * x + offset.
template <typename acc_t>
struct Affine {
  acc_t scale;
  acc_t offset;
};

// `later` applied after `earlier`: x -> later.scale * (earlier.scale * x + earlier.offset) + ...
template <typename acc_t>
__device__ __forceinline__ Affine<acc_t> compose(Affine<acc_t> later, Affine<acc_t> earlier) {
  return {later.scale * earlier.scale, later.scale * earlier.offset + later.offset};
}

// Inclusive scan over lanes: lane l gets map_l o ... o map_0 (lower lanes act first).
template <typename acc_t>
__device__ __forceinline__ Affine<acc_t> warp_scan_up(Affine<acc_t> map, int lane) {
#pragma unroll
  for (int distance = 1; distance < kWarpSize; distance *= 2) {
    const acc_t scale = __shfl_up_sync(kFullMask, map.scale, distance);
    const acc_t offset = __shfl_up_sync(kFullMask, map.offset, distance);
    if (lane >= distance) map = compose(map, Affine<acc_t>{scale, offset});
  }
  return map;
}

// Inclusive scan over lanes from the right: lane l gets map_l o ... o map_31 (higher act first).
template <typename acc_t>
__device__ __forceinline__ Affine<acc_t> warp_scan_down(Affine<acc_t> map, int lane) {
#pragma unroll
  for (int distance = 1; distance < kWarpSize; distance *= 2) {
    const acc_t scale = __shfl_down_sync(kFullMask, map.scale, distance);
    const acc_t offset = __shfl_down_sync(kFullMask, map.offset, distance);
    if (lane + distance < kWarpSize) map = compose(map, Affine<acc_t>{scale, offset});
  }
  return map;
}

__device__ __forceinline__ index_t clamp_length(index_t length, index_t num_sources) {
  return length < 1 ? 1 : (length > num_sources ? num_sources : length);
}

// p[j] as the recurrence uses it: 1 on the last real position under mass preservation.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t effective_p(const scalar_t* p_row, index_t j, index_t length,
                                             bool mass_preservation) {
  return (mass_preservation && j == length - 1) ? acc_t(1) : static_cast<acc_t>(p_row[j]);
}

// One target step's forward scan over positions [0, length) of one row, by one warp.
// previous(j) gives b_j = alpha[i-1, j]; emit(j, q_j, p_j) receives each q_j in order of tiles.
template <typename scalar_t, typename acc_t, int kItems, typename Previous, typename Emit>
__device__ __forceinline__ void scan_step(const scalar_t* p_row, index_t length,
                                          bool mass_preservation, int lane, Previous previous,
                                          Emit emit) {
  acc_t carry = 0;  // q just before the tile
  for (index_t tile = 0; tile < length; tile += kWarpSize * kItems) {
    const index_t first = tile + static_cast<index_t>(lane) * kItems;
    acc_t stay[kItems];  // a_j = 1 - p_{j-1}
    acc_t add[kItems];   // b_j
    Affine<acc_t> map{acc_t(1), acc_t(0)};
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const index_t j = first + k;
      if (j < length) {
        stay[k] = j == 0 ? acc_t(1)
                         : acc_t(1) - effective_p<scalar_t, acc_t>(p_row, j - 1, length,
                                                                   mass_preservation);
        add[k] = previous(j);
      } else {
        stay[k] = acc_t(1);
        add[k] = acc_t(0);
      }
      map = compose(Affine<acc_t>{stay[k], add[k]}, map);
    }
    const Affine<acc_t> inclusive = warp_scan_up(map, lane);
    Affine<acc_t> exclusive{__shfl_up_sync(kFullMask, inclusive.scale, 1),
                            __shfl_up_sync(kFullMask, inclusive.offset, 1)};
    if (lane == 0) exclusive = Affine<acc_t>{acc_t(1), acc_t(0)};
    acc_t q = exclusive.scale * carry + exclusive.offset;  // q at position first - 1
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const index_t j = first + k;
      q = stay[k] * q + add[k];
      if (j < length) emit(j, q);
    }
    const acc_t tile_scale = __shfl_sync(kFullMask, inclusive.scale, kWarpSize - 1);
    const acc_t tile_offset = __shfl_sync(kFullMask, inclusive.offset, kWarpSize - 1);
    carry = tile_scale * carry + tile_offset;
  }
}

template <typename scalar_t, typename acc_t, int kItems>
__global__ void monotonic_alignment_forward_kernel(
    const scalar_t* __restrict__ p_choose,     // (N, T, S)
    const long long* __restrict__ source_lengths,  // (N,)
    scalar_t* __restrict__ alpha,              // (N, T, S) output
    acc_t* __restrict__ workspace,             // (N, S): alpha of the previous target step
    index_t num_rows, index_t num_targets, index_t num_sources, bool mass_preservation) {
  const int lane = threadIdx.x % kWarpSize;
  const index_t row = static_cast<index_t>(blockIdx.x) * (blockDim.x / kWarpSize) +
                      threadIdx.x / kWarpSize;
  if (row >= num_rows) return;  // whole warps leave together
  const index_t length = clamp_length(source_lengths[row], num_sources);
  const scalar_t* p = p_choose + row * num_targets * num_sources;
  scalar_t* out = alpha + row * num_targets * num_sources;
  acc_t* previous = workspace + row * num_sources;
  const index_t tile_size = kWarpSize * kItems;
  for (index_t tile = 0; tile < length; tile += tile_size) {
    for (int k = 0; k < kItems; ++k) {
      const index_t j = tile + static_cast<index_t>(lane) * kItems + k;
      if (j < length) previous[j] = acc_t(j == 0 ? 1 : 0);
    }
  }
  for (index_t target = 0; target < num_targets; ++target) {
    const scalar_t* p_row = p + target * num_sources;
    scalar_t* out_row = out + target * num_sources;
    scan_step<scalar_t, acc_t, kItems>(
        p_row, length, mass_preservation, lane, [&](index_t j) { return previous[j]; },
        [&](index_t j, acc_t q) {
          const acc_t value =
              effective_p<scalar_t, acc_t>(p_row, j, length, mass_preservation) * q;
          previous[j] = value;
          out_row[j] = static_cast<scalar_t>(value);
        });
    for (index_t j = length + lane; j < num_sources; j += kWarpSize) {
      out_row[j] = static_cast<scalar_t>(acc_t(0));
    }
  }
}

template <typename scalar_t, typename acc_t, int kItems>
__global__ void monotonic_alignment_backward_kernel(
    const scalar_t* __restrict__ grad_alpha,   // (N, T, S)
    const scalar_t* __restrict__ p_choose,     // (N, T, S)
    const scalar_t* __restrict__ alpha,        // (N, T, S) forward output
    const long long* __restrict__ source_lengths,  // (N,)
    scalar_t* __restrict__ grad_p,             // (N, T, S) output
    acc_t* __restrict__ q_workspace,           // (N, S): q of the current target step
    acc_t* __restrict__ grad_workspace,        // (N, S): dL/dalpha[i] sent back by step i+1
    index_t num_rows, index_t num_targets, index_t num_sources, bool mass_preservation) {
  const int lane = threadIdx.x % kWarpSize;
  const index_t row = static_cast<index_t>(blockIdx.x) * (blockDim.x / kWarpSize) +
                      threadIdx.x / kWarpSize;
  if (row >= num_rows) return;
  const index_t length = clamp_length(source_lengths[row], num_sources);
  const index_t shift = row * num_targets * num_sources;
  const scalar_t* p = p_choose + shift;
  const scalar_t* a = alpha + shift;
  const scalar_t* g = grad_alpha + shift;
  scalar_t* out = grad_p + shift;
  acc_t* q_saved = q_workspace + row * num_sources;
  acc_t* grad_next = grad_workspace + row * num_sources;
  const index_t tile_size = kWarpSize * kItems;
  const index_t num_tiles = (length + tile_size - 1) / tile_size;
  for (index_t tile = 0; tile < length; tile += tile_size) {
    for (int k = 0; k < kItems; ++k) {
      const index_t j = tile + static_cast<index_t>(lane) * kItems + k;
      if (j < length) grad_next[j] = acc_t(0);
    }
  }
  for (index_t target = num_targets - 1; target >= 0; --target) {
    const index_t offset = target * num_sources;
    const scalar_t* p_row = p + offset;
    // Recompute q[target] from alpha[target - 1] (alpha[-1] = one_hot(0)).
    scan_step<scalar_t, acc_t, kItems>(
        p_row, length, mass_preservation, lane,
        [&](index_t j) {
          return target > 0 ? static_cast<acc_t>(a[offset - num_sources + j])
                            : acc_t(j == 0 ? 1 : 0);
        },
        [&](index_t j, acc_t q) { q_saved[j] = q; });
    // Reverse scan gq_j = p_j gA_j + (1 - p_j) gq_{j+1}, tiles from the right.
    const scalar_t* g_row = g + offset;
    scalar_t* out_row = out + offset;
    acc_t carry = 0;  // gq just after the tile
    for (index_t tile_index = num_tiles - 1; tile_index >= 0; --tile_index) {
      const index_t first = tile_index * tile_size + static_cast<index_t>(lane) * kItems;
      acc_t leave[kItems];    // 1 - p_j: how much of gq_{j+1} reaches gq_j
      acc_t direct[kItems];   // p_j gA_j
      acc_t grad_a[kItems];
      Affine<acc_t> map{acc_t(1), acc_t(0)};
#pragma unroll
      for (int k = kItems - 1; k >= 0; --k) {
        const index_t j = first + k;
        if (j < length) {
          const acc_t p_j = effective_p<scalar_t, acc_t>(p_row, j, length, mass_preservation);
          grad_a[k] = static_cast<acc_t>(g_row[j]) + grad_next[j];
          leave[k] = acc_t(1) - p_j;
          direct[k] = p_j * grad_a[k];
        } else {
          grad_a[k] = acc_t(0);
          leave[k] = acc_t(1);
          direct[k] = acc_t(0);
        }
        map = compose(Affine<acc_t>{leave[k], direct[k]}, map);
      }
      const Affine<acc_t> inclusive = warp_scan_down(map, lane);
      Affine<acc_t> exclusive{__shfl_down_sync(kFullMask, inclusive.scale, 1),
                              __shfl_down_sync(kFullMask, inclusive.offset, 1)};
      if (lane == kWarpSize - 1) exclusive = Affine<acc_t>{acc_t(1), acc_t(0)};
      acc_t grad_q_right = exclusive.scale * carry + exclusive.offset;  // gq at last + 1
#pragma unroll
      for (int k = kItems - 1; k >= 0; --k) {
        const index_t j = first + k;
        const acc_t grad_q = leave[k] * grad_q_right + direct[k];
        if (j < length) {
          const bool forced = mass_preservation && j == length - 1;
          out_row[j] = static_cast<scalar_t>(
              forced ? acc_t(0) : q_saved[j] * (grad_a[k] - grad_q_right));
          grad_next[j] = grad_q;
        }
        grad_q_right = grad_q;
      }
      const acc_t tile_scale = __shfl_sync(kFullMask, inclusive.scale, 0);
      const acc_t tile_offset = __shfl_sync(kFullMask, inclusive.offset, 0);
      carry = tile_scale * carry + tile_offset;
    }
    for (index_t j = length + lane; j < num_sources; j += kWarpSize) {
      out_row[j] = static_cast<scalar_t>(acc_t(0));
    }
  }
}

}  // namespace simul_monotonic

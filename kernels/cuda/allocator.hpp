// SPDX-License-Identifier: MIT
// A caching allocator for device memory. cudaMalloc and cudaFree are slow and cudaFree
// synchronises the device, so freed blocks go to a free list keyed by size class and the
// next request of that class reuses one; cudaMalloc runs only on a miss (and, if it fails,
// once more after returning every cached block to the driver).
//
// Size classes: requests round up to a multiple of 512 bytes below 1 MiB, and to a multiple
// of 2 MiB above, so the waste is bounded (< 512 B, or < 2 MiB on blocks of >= 1 MiB) while
// a training loop, which asks for the same sizes every step, hits the cache from the second
// step on. Reuse is safe without events because all work runs on one stream (runtime.hpp).
// Thread-safe (one mutex; the critical sections are a map lookup).
//
// FLOWTAPE_CUDA_ALLOCATOR=direct turns the cache off: every request goes to cudaMalloc with
// its own size and every free to cudaFree. The cache hides from compute-sanitizer's memcheck
// an access past a request that stays inside its rounded block and a use of a freed block it
// still holds; direct allocation lets memcheck see both (scripts/gpu_check.sh runs it so).
#pragma once

#include <cstddef>

namespace flowtape::kernels::cuda {

// False when FLOWTAPE_CUDA_ALLOCATOR=direct (read once). Any value but "direct" and "caching"
// is refused with std::invalid_argument at the first allocation.
bool caching_allocator();

// The rounded size a request of `bytes` is served with.
std::size_t size_class(std::size_t bytes);

// Device memory of at least `bytes` (at least one 512-byte block for 0). Throws
// std::runtime_error when the device is out of memory even after emptying the cache.
void* device_malloc(std::size_t bytes);
// Returns a block from device_malloc(bytes) to the cache (same `bytes` as requested).
void device_free(void* ptr, std::size_t bytes) noexcept;
// Gives every cached (free) block back to the driver.
void empty_cache();

struct AllocatorStats {
  std::size_t in_use_bytes = 0;    // handed out and not yet freed (rounded sizes)
  std::size_t cached_bytes = 0;    // in the free lists
  std::size_t device_mallocs = 0;  // cudaMalloc calls so far
  std::size_t cache_hits = 0;      // requests served from a free list
};
AllocatorStats allocator_stats();

}  // namespace flowtape::kernels::cuda

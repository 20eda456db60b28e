// SPDX-License-Identifier: MIT
// The caching device allocator (see allocator.hpp for the policy).
#include "flowtape/kernels/cuda/allocator.hpp"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowtape/kernels/cuda/check.hpp"

namespace flowtape::kernels::cuda {

namespace {

constexpr std::size_t kSmallQuantum = 512;
constexpr std::size_t kLargeThreshold = std::size_t{1} << 20;
constexpr std::size_t kLargeQuantum = std::size_t{2} << 20;

struct Cache {
  std::mutex mutex;
  std::map<std::size_t, std::vector<void*>> free;  // size class -> free blocks
  AllocatorStats stats;
};

// Never destroyed: device_free may run from static destructors (tensors held in globals)
// after a function-local static would already be gone.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// Frees every cached block; the caller holds the mutex.
void release_cached(Cache& c) {
  for (auto& [size, blocks] : c.free)
    for (void* p : blocks) {
      (void)cudaFree(p);
      c.stats.cached_bytes -= size;
    }
  c.free.clear();
}

}  // namespace

bool caching_allocator() {
  static const bool caching = [] {
    const char* v = std::getenv("FLOWTAPE_CUDA_ALLOCATOR");
    const std::string mode = v ? v : "";
    if (mode.empty() || mode == "caching") return true;
    if (mode == "direct") return false;
    throw std::invalid_argument("FLOWTAPE_CUDA_ALLOCATOR is '" + mode +
                                "'; expected caching (the default) or direct");
  }();
  return caching;
}

std::size_t size_class(std::size_t bytes) {
  if (bytes == 0) return kSmallQuantum;
  // Above PTRDIFF_MAX the rounded size would wrap to a small block.
  if (bytes > static_cast<std::size_t>(PTRDIFF_MAX)) throw std::bad_alloc();
  const std::size_t q = bytes < kLargeThreshold ? kSmallQuantum : kLargeQuantum;
  return (bytes + q - 1) / q * q;
}

void* device_malloc(std::size_t bytes) {
  const std::size_t size = size_class(bytes);
  Cache& c = cache();
  if (!caching_allocator()) {  // the request's own size, so memcheck sees its end
    void* p = nullptr;
    check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc");
    std::lock_guard<std::mutex> lock(c.mutex);
    ++c.stats.device_mallocs;
    c.stats.in_use_bytes += size;
    return p;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.free.find(size);
  if (it != c.free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    c.stats.cached_bytes -= size;
    c.stats.in_use_bytes += size;
    ++c.stats.cache_hits;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    // Cached blocks of other classes may be what stands in the way.
    (void)cudaGetLastError();
    release_cached(c);
    e = cudaMalloc(&p, size);
  }
  check(e, "cudaMalloc");
  ++c.stats.device_mallocs;
  c.stats.in_use_bytes += size;
  return p;
}

void device_free(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  const std::size_t size = size_class(bytes);
  Cache& c = cache();
  if (!caching_allocator()) {
    (void)cudaFree(ptr);
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.in_use_bytes -= size;
    return;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free[size].push_back(ptr);
  c.stats.in_use_bytes -= size;
  c.stats.cached_bytes += size;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_cached(c);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

}  // namespace flowtape::kernels::cuda

// SPDX-License-Identifier: MIT
// Per-thread size-class cache of aligned buffers (see allocator.hpp for the policy).
#include "flowtape/runtime/allocator.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace flowtape::detail {
namespace {

constexpr std::size_t kMinBlock = 64;
constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 30;  // per thread
constexpr int kClasses = 4 * 64;

// Class index and size: 64-byte multiples up to 256 B, then 4 steps per power of two
// (2^k, 1.25 2^k, 1.5 2^k, 1.75 2^k).
int size_class(std::size_t bytes, std::size_t& size) {
  // Above PTRDIFF_MAX the rounded size would wrap to a small block.
  if (bytes > static_cast<std::size_t>(PTRDIFF_MAX)) throw std::bad_alloc();
  if (bytes <= 4 * kMinBlock) {
    const std::size_t q = bytes <= kMinBlock ? 1 : (bytes + kMinBlock - 1) / kMinBlock;
    size = q * kMinBlock;
    return static_cast<int>(q);  // 1..4
  }
  const int k = std::bit_width(bytes - 1) - 1;  // 2^k < bytes <= 2^(k+1)
  const std::size_t quarter = std::size_t{1} << (k - 2);
  const std::size_t steps = (bytes - (std::size_t{1} << k) + quarter - 1) / quarter;  // 1..4
  size = (std::size_t{1} << k) + steps * quarter;
  return 4 * (k - 6) + static_cast<int>(steps) + 4;  // k >= 8 here: classes 13 and up
}

struct Cache {
  std::array<std::vector<void*>, kClasses> free;
  std::size_t bytes = 0;
  void release() {
    for (auto& list : free) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    bytes = 0;
  }
  ~Cache();
};

// Tensors owned by other thread_local or static objects may be freed after this thread's
// cache is gone; they then go straight to the system. 0: not yet built, 1: alive, 2: gone.
thread_local int t_cache_state = 0;
Cache::~Cache() {
  release();
  t_cache_state = 2;
}

// nullptr once the thread's cache has been destroyed.
Cache* cache() {
  if (t_cache_state == 2) return nullptr;
  thread_local Cache c;
  t_cache_state = 1;
  return &c;
}

std::atomic<std::size_t> g_live{0}, g_peak{0};

void count_alloc(std::size_t capacity) {
  const std::size_t now = g_live.fetch_add(capacity, std::memory_order_relaxed) + capacity;
  std::size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

void* cached_alloc(std::size_t bytes, std::size_t& capacity) {
  const int cls = size_class(bytes, capacity);
  Cache* c = cls < kClasses ? cache() : nullptr;
  if (c) {
    auto& list = c->free[static_cast<std::size_t>(cls)];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      c->bytes -= capacity;
      count_alloc(capacity);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, capacity);
  if (!p) throw std::bad_alloc();
  count_alloc(capacity);
  return p;
}

void cached_free(void* p, std::size_t capacity) {
  if (!p) return;
  g_live.fetch_sub(capacity, std::memory_order_relaxed);
  std::size_t size = 0;
  const int cls = size_class(capacity, size);
  Cache* c = cls < kClasses && size == capacity ? cache() : nullptr;
  if (c && c->bytes + capacity <= kMaxCachedBytes) {
    c->free[static_cast<std::size_t>(cls)].push_back(p);
    c->bytes += capacity;
    return;
  }
  std::free(p);
}

void release_cached_memory() {
  if (Cache* c = cache()) c->release();
}
std::size_t cached_bytes() {
  const Cache* c = cache();
  return c ? c->bytes : 0;
}

std::size_t live_bytes() {
  return g_live.load(std::memory_order_relaxed);
}
std::size_t peak_live_bytes() {
  return g_peak.load(std::memory_order_relaxed);
}
void reset_peak_live_bytes() {
  g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace flowtape::detail

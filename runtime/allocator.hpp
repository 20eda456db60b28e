// SPDX-License-Identifier: MIT
// The caching allocator behind tensor Storage: freed CPU buffers go to a per-thread cache of
// size classes and are handed out again by the next allocation of the same class, so a
// training step (which allocates the same shapes as the previous one) makes no heap calls and
// touches no fresh pages. PyTorch's CUDA caching allocator and glibc's tcache are the models.
//
// Thread-local, so no locks: a buffer freed on another thread than the one that allocated it
// simply joins that thread's cache (all blocks come from the same aligned_alloc). Each thread
// caches at most kMaxCachedBytes; past that, frees go back to the system. A thread's cache is
// released when the thread exits. Size classes are 4 per power of two (at most 25% rounding).
#pragma once

#include <cstddef>

namespace flowtape::detail {

// At least `bytes` of 64-byte aligned memory; `capacity` receives the block's real size, to be
// passed back to cached_free.
void* cached_alloc(std::size_t bytes, std::size_t& capacity);
void cached_free(void* p, std::size_t capacity);
// Returns this thread's cached blocks to the system (tests; memory-tight phases).
void release_cached_memory();
// Bytes cached (free, ready for reuse) by the calling thread.
std::size_t cached_bytes();
// Bytes of CPU tensor memory in use (handed out and not yet freed), over all threads, and the
// most since the last reset: what a computation holds, for tests and benchmarks of memory.
// (Device memory has its own allocator and is not counted.)
std::size_t live_bytes();
std::size_t peak_live_bytes();
void reset_peak_live_bytes();

}  // namespace flowtape::detail

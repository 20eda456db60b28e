// SPDX-License-Identifier: MIT
// Recycling of the small heap blocks every op allocates: a TensorImpl and a Storage, each in
// one block with its shared_ptr control block (std::allocate_shared with PoolAllocator). The
// tensors' data already comes from a caching allocator (allocator.hpp); these blocks went to
// malloc, whose per-thread cache keeps 7 blocks of a size, while a training step frees
// hundreds at once when its tape ends, so most took malloc's slow path (~13% of a batch-8
// step). Each thread keeps a free list per block size. A block joins the list of the thread
// that frees it, whichever thread allocated it, which is harmless: blocks of a size are
// interchangeable. Under AddressSanitizer the pool is off, so every object stays visible to it.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define FLOWTAPE_OBJECT_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOWTAPE_OBJECT_POOL 0
#endif
#endif
#ifndef FLOWTAPE_OBJECT_POOL
#define FLOWTAPE_OBJECT_POOL 1
#endif

namespace flowtape::detail {

// The free blocks of one size on this thread, as an intrusive list. The state is trivially
// destructible so that it stays usable until the thread ends; a guard object drains it at
// thread exit and closes it, after which freed blocks go straight back to the heap.
template <std::size_t Size>
class BlockFreeList {
 public:
  static void* pop() noexcept {
    State& s = state();
    if (s.head == nullptr || s.closed) return nullptr;
    Link* b = s.head;
    s.head = b->next;
    --s.count;
    return b;
  }
  // False when the block was not kept (the list is full or closed): the caller frees it.
  static bool push(void* p) noexcept {
    State& s = state();
    if (s.closed || s.count >= kMaxBlocks) return false;
    guard();  // registers the drain at thread exit, once
    s.head = new (p) Link{s.head};
    ++s.count;
    return true;
  }

 private:
  static_assert(Size >= sizeof(void*), "a free block holds the link to the next one");
  // Enough for the tensors of a large step; beyond it blocks go back to malloc.
  static constexpr std::size_t kMaxBlocks = 16384;
  struct Link {
    Link* next;
  };
  struct State {
    Link* head;
    std::size_t count;
    bool closed;
  };
  struct Guard {
    ~Guard() {
      State& s = state();
      s.closed = true;
      while (s.head != nullptr) {
        Link* next = s.head->next;
        ::operator delete(static_cast<void*>(s.head));
        s.head = next;
      }
      s.count = 0;
    }
  };
  static State& state() noexcept {
    thread_local State s{nullptr, 0, false};
    return s;
  }
  static void guard() noexcept { thread_local Guard g; }
};

// A std allocator for allocate_shared: single objects come from BlockFreeList, arrays and
// over-aligned types from operator new.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if constexpr (FLOWTAPE_OBJECT_POOL && alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__)
      if (n == 1)
        if (void* p = BlockFreeList<sizeof(T)>::pop()) return static_cast<T*>(p);
    if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
      return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
    else
      return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      ::operator delete(static_cast<void*>(p), std::align_val_t(alignof(T)));
    } else {
      if constexpr (FLOWTAPE_OBJECT_POOL)
        if (n == 1 && BlockFreeList<sizeof(T)>::push(p)) return;
      ::operator delete(static_cast<void*>(p));
    }
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

// std::make_shared through the pool.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace flowtape::detail

// SPDX-License-Identifier: MIT
// FunctionRef<R(A...)>: a non-owning reference to a callable, two pointers wide, that never
// allocates. parallel_for takes its task this way: a task is a lambda capturing a kernel's
// pointers and sizes by reference, too large for std::function's inline buffer, so with
// std::function each threaded kernel call was a heap call. The callable must outlive the
// call it is passed to, which a synchronous parallel_for guarantees. (C++26 adds
// std::function_ref for the same job.)
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace flowtape::kernels::cpu {

template <class Signature>
class FunctionRef;

// F can be referred to as a FunctionRef<R(Args...)>: callable so, and not a FunctionRef itself
// (which the copy constructor takes).
template <class F, class Ref, class R, class... Args>
concept ReferableAs =
    !std::is_same_v<std::remove_cvref_t<F>, Ref> && std::is_invocable_r_v<R, F&, Args...>;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  // Implicit, as std::function's constructor is.
  template <ReferableAs<FunctionRef, R, Args...> F>
  FunctionRef(F&& f) noexcept
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          auto& callable = *static_cast<std::remove_reference_t<F>*>(object);
          if constexpr (std::is_void_v<R>)
            callable(std::forward<Args>(args)...);  // a result, if any, is dropped
          else
            return callable(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace flowtape::kernels::cpu

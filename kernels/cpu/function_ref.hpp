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

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
           std::is_invocable_r_v<R, F&, Args...>) FunctionRef(F&& f)
  noexcept  // NOLINT: implicit, like std::function's
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace flowtape::kernels::cpu

// SPDX-License-Identifier: MIT
// TensorList: the inputs (or outputs, or tangents) of one op, held inside the object (no heap
// call) when there are at most kInline of them, as for every primitive but a concat of many
// tensors.
//
// apply() takes one per op, the tape keeps one in each node, and forward mode builds one of
// tangents per op: with std::vector each of those was a heap call, two or three per op in a
// training step. A step now makes the same heap calls whatever the number of its ops (see
// tests/heap/test_heap_calls.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <utility>
#include <vector>

#include "flowtape/runtime/tensor.hpp"

namespace flowtape {

class TensorList {
 public:
  static constexpr std::size_t kInline = 5;

  TensorList() = default;
  // One tensor is a list of one (what a single-output op's JVP rule returns).
  TensorList(Tensor x) : size_(1) { inline_[0] = std::move(x); }
  // n undefined tensors.
  explicit TensorList(std::size_t n) : size_(n) {
    if (n > kInline) heap_.resize(n);
  }
  TensorList(std::span<const Tensor> xs) : size_(xs.size()) {
    if (size_ > kInline)
      heap_.assign(xs.begin(), xs.end());
    else
      for (std::size_t i = 0; i < size_; ++i) inline_[i] = xs[i];
  }
  TensorList(std::initializer_list<Tensor> xs)
      : TensorList(std::span<const Tensor>(xs.begin(), xs.size())) {}
  TensorList(const std::vector<Tensor>& xs) : TensorList(std::span<const Tensor>(xs)) {}

  TensorList(const TensorList&) = default;
  TensorList& operator=(const TensorList&) = default;
  // A moved-from list is empty (the defaults would keep its size over moved-out handles).
  TensorList(TensorList&& other) noexcept
      : inline_(std::move(other.inline_)),
        heap_(std::move(other.heap_)),
        size_(std::exchange(other.size_, 0)) {}
  TensorList& operator=(TensorList&& other) noexcept {
    if (this != &other) {
      inline_ = std::move(other.inline_);
      heap_ = std::move(other.heap_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~TensorList() = default;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Tensor* data() { return size_ > kInline ? heap_.data() : inline_.data(); }
  const Tensor* data() const { return size_ > kInline ? heap_.data() : inline_.data(); }
  Tensor& operator[](std::size_t i) { return data()[i]; }
  const Tensor& operator[](std::size_t i) const { return data()[i]; }
  Tensor* begin() { return data(); }
  Tensor* end() { return data() + size_; }
  const Tensor* begin() const { return data(); }
  const Tensor* end() const { return data() + size_; }
  operator std::span<const Tensor>() const { return {data(), size_}; }

 private:
  std::array<Tensor, kInline> inline_{};
  std::vector<Tensor> heap_;  // used instead when there are more than kInline
  std::size_t size_ = 0;
};

}  // namespace flowtape

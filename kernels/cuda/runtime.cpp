// SPDX-License-Identifier: MIT
// CUDA runtime wrappers (see runtime.hpp for the stream policy).
#include "flowtape/kernels/cuda/runtime.hpp"

#include <atomic>

#include "flowtape/kernels/cuda/check.hpp"

namespace flowtape::kernels::cuda {

namespace {
std::atomic<std::uint64_t> g_host_waits{0};
}

std::uint64_t host_waits() {
  return g_host_waits.load(std::memory_order_relaxed);
}

int device_count() {
  int n = 0;
  // No driver, or a driver without devices, is an answer here, not an error.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

void check_launch(const char* what) {
  check(cudaGetLastError(), what);
}

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  if (!bytes) return;
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy host to device");
}

void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  if (!bytes) return;
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy device to host");
}

void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes)
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), "copy device to device");
}

void zero_device(void* dst, std::size_t bytes) {
  if (bytes) check(cudaMemsetAsync(dst, 0, bytes, 0), "memset");
}

void set_device(int index) {
  check(cudaSetDevice(index), "select device");
}

int current_device() {
  int index = 0;
  check(cudaGetDevice(&index), "current device");
  return index;
}

void synchronize() {
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  check(cudaDeviceSynchronize(), "synchronize");
}

}  // namespace flowtape::kernels::cuda

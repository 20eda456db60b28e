// SPDX-License-Identifier: MIT
// The CUDA runtime calls flowtape needs, behind a plain C++ interface (no CUDA headers), so
// .cpp files compiled by the host compiler can use them.
//
// Stream policy: every kernel and every device-side copy goes to the legacy default stream
// (stream 0). It orders all work from all host threads, which is what makes the caching
// allocator correct by construction: a block freed after its last kernel was enqueued can be
// handed to any later kernel without an event. Only copies to the host synchronise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowtape::kernels::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();

// Throws std::runtime_error naming `what` if the last launch (or an earlier asynchronous
// error) failed. Cheap: it does not synchronise.
void check_launch(const char* what);

void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);    // waits for the data
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);  // asynchronous
void zero_device(void* dst, std::size_t bytes);                             // asynchronous
void synchronize();  // waits for all queued work; for benchmarks and tests
// cudaSetDevice: the calling host thread's device (each thread has its own; a new thread
// starts on device 0).
void set_device(int index);
int current_device();  // cudaGetDevice

// How many times the host has waited for the device so far: copies to or from the host
// (cudaMemcpy orders after all queued work) and synchronize(). Tests use it to show that a
// training step waits for nothing and a solve once per step.
std::uint64_t host_waits();

}  // namespace flowtape::kernels::cuda

// SPDX-License-Identifier: MIT
// The `flowtape` command's side of data-parallel training: under an MPI launcher (`mpirun -n 4
// flowtape train ...`) join_ranks() returns this process's rank of the job, otherwise null (one
// process; no MPI call is made). A build without MPI refuses to run under a launcher rather
// than train N separate copies.
#pragma once

#include <chrono>
#include <memory>

#include "flowtape/train/collective.hpp"

namespace flowtape::app {

std::shared_ptr<train::Collective> join_ranks(std::chrono::milliseconds timeout);
// For a run on GPUs: gives each rank of `host` its own GPU (its rank on the host, modulo the
// GPUs there) and, where this build has NCCL, NCCL for the gradients (else they go through the
// host collective). Call before any CUDA tensor exists.
std::shared_ptr<train::Collective> join_gpu_ranks(std::shared_ptr<train::Collective> host,
                                                  std::chrono::milliseconds timeout);
// Ends every rank with `code` when this process joined a job of several ranks; else returns.
void abort_ranks(int code);
// Meets every rank once more within the rank timeout (CollectiveError when one does not come),
// then leaves the job (MPI_Finalize), so that rank 0's evaluation runs alone. Every collective
// built on the job must be done with (Trainer::distribute(nullptr), NCCL destroyed) first.
void leave_ranks();

}  // namespace flowtape::app

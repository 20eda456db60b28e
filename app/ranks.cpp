// SPDX-License-Identifier: MIT
// join_ranks and friends, over MpiCollective when this build has MPI; see ranks.hpp.
#include "app/ranks.hpp"

#include <stdexcept>
#include <string>

#if FLOWTAPE_APP_MPI
#include "flowtape/train/mpi_collective.hpp"
#endif
#if FLOWTAPE_APP_NCCL
#include "flowtape/train/nccl_collective.hpp"
#endif

namespace flowtape::app {
namespace {
#if FLOWTAPE_APP_MPI
std::shared_ptr<train::MpiCollective> g_ranks;
bool g_left = false;  // after MPI_Finalize no MPI call may follow, MPI_Abort included
#endif
}  // namespace

std::shared_ptr<train::Collective> join_ranks(std::chrono::milliseconds timeout) {
#if FLOWTAPE_APP_MPI
  if (!train::started_by_mpi_launcher()) return nullptr;
  g_ranks = std::make_shared<train::MpiCollective>(timeout);
  return g_ranks;
#else
  (void)timeout;
  if (train::started_by_mpi_launcher())
    throw std::runtime_error(
        "started by an MPI launcher, but this flowtape was built without MPI: install "
        "libopenmpi-dev and build again (CMake finds it; -DFLOWTAPE_MPI=ON to require it)");
  return nullptr;
#endif
}

std::shared_ptr<train::Collective> join_gpu_ranks(std::shared_ptr<train::Collective> host,
                                                  std::chrono::milliseconds timeout) {
  const int gpus = cuda_device_count();
  if (gpus == 0) return host;  // the trainer refuses device cuda, saying why
  const int local = train::launcher_local_rank();
#if FLOWTAPE_APP_NCCL
  // NCCL refuses two ranks on one GPU: say so in words, before its init fails.
  if (local >= gpus)
    throw std::invalid_argument("local rank " + std::to_string(local) + " but " +
                                std::to_string(gpus) +
                                " GPU(s) on this host: start at most one rank per GPU");
#endif
  cuda_select_device((local >= 0 ? local : host->rank()) % gpus);
#if FLOWTAPE_APP_NCCL
  return std::make_shared<train::NcclCollective>(std::move(host), timeout);
#else
  (void)timeout;
  return host;
#endif
}

void abort_ranks(int code) {
#if FLOWTAPE_APP_MPI
  if (g_ranks && !g_left && g_ranks->size() > 1) g_ranks->abort(code);
#else
  (void)code;
#endif
}

void leave_ranks() {
#if FLOWTAPE_APP_MPI
  if (g_ranks) g_ranks->leave();  // a rank that does not come: CollectiveError, exit 4
  g_left = true;
#endif
}

}  // namespace flowtape::app

// SPDX-License-Identifier: MIT
// Links flowtape::mpi from an installed flowtape (tests/consumer/run.sh builds it, never runs
// it: MpiCollective needs mpirun). Taking the constructor's address pulls in the library and
// with it MPI.
#include <flowtape/train/mpi_collective.hpp>

int main() {
  flowtape::train::MpiCollective* (*make)() = [] { return new flowtape::train::MpiCollective(); };
  return make == nullptr;
}

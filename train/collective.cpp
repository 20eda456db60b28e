// SPDX-License-Identifier: MIT
// The fixed-order reductions over a Collective, and LocalCollective; see collective.hpp.
#include "flowtape/train/collective.hpp"

#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>

#include "flowtape/autodiff/autodiff.hpp"

namespace flowtape::train {

struct LocalCollective::Shared {
  int n = 0;
  std::chrono::milliseconds timeout{0};
  std::mutex m;
  std::condition_variable cv;
  struct Gather {
    std::vector<std::vector<std::byte>> parts;
    int arrived = 0, read = 0;
  };
  std::map<std::uint64_t, Gather> gathers;                                 // by call number
  std::map<std::pair<int, int>, std::deque<std::vector<std::byte>>> mail;  // (from, to)
  std::vector<std::uint64_t> calls;  // all_gather calls made by each rank
};

std::vector<std::shared_ptr<Collective>> LocalCollective::make(int n,
                                                               std::chrono::milliseconds timeout) {
  if (n < 1) throw std::invalid_argument("LocalCollective: needs at least one rank");
  auto shared = std::make_shared<Shared>();
  shared->n = n;
  shared->timeout = timeout;
  shared->calls.assign(static_cast<std::size_t>(n), 0);
  std::vector<std::shared_ptr<Collective>> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(std::make_shared<LocalCollective>(shared, r));
  return ranks;
}

int LocalCollective::size() const {
  return shared_->n;
}

namespace {
[[noreturn]] void timed_out(int rank, const std::string& what, std::chrono::milliseconds t) {
  throw CollectiveError("rank " + std::to_string(rank) + ": " + what + " did not arrive within " +
                        std::to_string(t.count()) + " ms");
}
}  // namespace

std::vector<std::byte> LocalCollective::all_gather(std::span<const std::byte> mine) {
  Shared& s = *shared_;
  std::unique_lock<std::mutex> lk(s.m);
  const std::uint64_t call = s.calls[static_cast<std::size_t>(rank_)]++;
  Shared::Gather& g = s.gathers[call];
  g.parts.resize(static_cast<std::size_t>(s.n));
  g.parts[static_cast<std::size_t>(rank_)].assign(mine.begin(), mine.end());
  ++g.arrived;
  s.cv.notify_all();
  if (!s.cv.wait_for(lk, s.timeout, [&] { return g.arrived == s.n; }))
    timed_out(rank_, "another rank's part of a gather", s.timeout);
  std::vector<std::byte> all;
  for (const auto& part : g.parts) {
    if (part.size() != mine.size())
      throw CollectiveError("all_gather: the ranks passed different lengths");
    all.insert(all.end(), part.begin(), part.end());
  }
  if (++g.read == s.n) s.gathers.erase(call);
  return all;
}

std::vector<std::byte> LocalCollective::exchange(int peer, std::span<const std::byte> mine) {
  Shared& s = *shared_;
  if (peer < 0 || peer >= s.n || peer == rank_)
    throw std::invalid_argument("exchange: bad peer " + std::to_string(peer));
  std::unique_lock<std::mutex> lk(s.m);
  s.mail[{rank_, peer}].emplace_back(mine.begin(), mine.end());
  s.cv.notify_all();
  auto& inbox = s.mail[{peer, rank_}];
  if (!s.cv.wait_for(lk, s.timeout, [&] { return !inbox.empty(); }))
    timed_out(rank_, "rank " + std::to_string(peer) + "'s half of an exchange", s.timeout);
  std::vector<std::byte> theirs = std::move(inbox.front());
  inbox.pop_front();
  if (theirs.size() != mine.size())
    throw CollectiveError("exchange: rank " + std::to_string(peer) + " sent another length");
  return theirs;
}

Tensor Collective::exchange_tensor(int peer, const Tensor& mine) {
  const Tensor host = to_host(mine);
  const std::vector<std::byte> got = exchange(peer, {static_cast<const std::byte*>(host.raw_data()),
                                                     static_cast<std::size_t>(host.nbytes())});
  Tensor theirs = empty(mine.shape(), mine.dtype(), Device::cpu);
  std::memcpy(theirs.mutable_raw_data(), got.data(), got.size());
  return mine.device() == Device::cpu ? theirs : theirs.to(mine.device());
}

Tensor tree_sum(std::vector<Tensor> blocks) {
  const std::size_t n = blocks.size();
  if (!std::has_single_bit(n)) throw std::invalid_argument("tree_sum: needs 2^k blocks");
  NoGrad no_grad;
  for (std::size_t stride = 1; stride < n; stride *= 2)
    for (std::size_t i = 0; i + stride < n; i += 2 * stride)
      blocks[i] = add(blocks[i], blocks[i + stride]);
  return blocks[0];
}

Tensor all_reduce_tree(Collective& c, Tensor partial) {
  const int n = c.size(), me = c.rank();
  if (!std::has_single_bit(static_cast<unsigned>(n)))
    throw std::invalid_argument("all_reduce_tree: the rank count must be a power of two");
  NoGrad no_grad;
  for (int level = 1; level < n; level *= 2) {
    const int peer = me ^ level;
    const Tensor theirs = c.exchange_tensor(peer, partial);
    // The lower block's sum plus the higher one's, as the tree adds them (commutativity makes
    // the partner's sum the same bits).
    partial = me < peer ? add(partial, theirs) : add(theirs, partial);
  }
  return partial;
}

std::vector<double> all_gather_values(Collective& c, std::span<const double> mine) {
  const std::vector<std::byte> all = c.all_gather(std::as_bytes(mine));
  std::vector<double> values(all.size() / sizeof(double));
  std::memcpy(values.data(), all.data(), all.size());
  return values;
}

bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

int launcher_local_rank() {
  for (const char* name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return -1;
}

void require_agreement(Collective& c, const std::string& text, const std::string& what) {
  // FNV-1a of the text: equal texts give equal hashes; a collision among a handful of
  // configurations is not a practical concern.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  h ^= text.size();
  const std::vector<std::byte> all = c.all_gather(std::as_bytes(std::span(&h, 1)));
  std::vector<std::uint64_t> hashes(static_cast<std::size_t>(c.size()));
  std::memcpy(hashes.data(), all.data(), all.size());
  std::string differ;
  for (std::size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (!differ.empty())
    throw CollectiveError("the ranks disagree on " + what + ": rank(s) " + differ +
                          " differ from rank 0 (start every rank with the same arguments)");
}

}  // namespace flowtape::train

// SPDX-License-Identifier: MIT
// Sharded steps on a GPU and NcclCollective (train/nccl_collective.hpp): a single-rank NCCL
// group still passes its gathers and exchanges through NCCL and trains the bits of one GPU
// without it; a sharded GPU step computes the CPU's loss to rounding. Skipped without a GPU
// (CI). Several GPUs need one process each (the device allocator serves one device per
// process): scripts/gpu_check.sh, on a machine with two, trains on two GPU ranks under mpirun
// and compares the weights' bytes with one GPU's.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "flowtape/train/nccl_collective.hpp"
#include "flowtape/train/trainer.hpp"
#include "gpu.hpp"

using namespace flowtape;
using namespace flowtape::train;

namespace {

TrainSpec gpu_spec(Loss loss) {
  TrainSpec c;
  c.dataset = "rings";
  c.loss = loss;
  c.hidden = 32;
  c.depth = 2;
  c.batch = 64;
  c.shards = 4;
  c.steps = 3;
  c.schedule = LrSchedule::constant;
  c.lr = 1e-3;
  c.lambda_max = 1.0;
  c.ramp_end = 0;
  c.device = Device::cuda;
  return c;
}

bool same_weights(Trainer& a, Trainer& b) {
  const auto pa = a.module().parameters(), pb = b.module().parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    const Tensor x = to_host(pa[i]), y = to_host(pb[i]);
    if (std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sharded_gpu, *test::needs_gpu())

BOOST_AUTO_TEST_CASE(one_rank_through_nccl) {
  NcclCollective nccl(LocalCollective::make(1).front());
  Generator gen(3);
  const Tensor t = randn({1000}, gen).to(Device::cuda);
  const Tensor back = nccl.exchange_tensor(0, t);  // to itself, through ncclSend / ncclRecv
  BOOST_TEST(back.device() == Device::cuda);
  BOOST_TEST(std::memcmp(to_host(back).raw_data(), to_host(t).raw_data(), t.nbytes()) == 0);
  const double mine[3] = {1, 2, 3};
  BOOST_TEST((all_gather_values(nccl, mine) == std::vector<double>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(nccl_trains_the_bits_of_one_gpu) {
  for (Loss loss : {Loss::cfm, Loss::entropic, Loss::fdm}) {
    BOOST_TEST_CONTEXT(name_of(loss)) {
      Trainer plain(gpu_spec(loss)), grouped(gpu_spec(loss));
      grouped.distribute(std::make_shared<NcclCollective>(LocalCollective::make(1).front()));
      plain.train();
      grouped.train();
      BOOST_TEST(same_weights(plain, grouped));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_sharded_gpu_step_is_the_cpu_step) {
  for (Loss loss : {Loss::cfm, Loss::entropic}) {
    TrainSpec g = gpu_spec(loss), c = gpu_spec(loss);
    c.device = Device::cpu;
    Trainer on_gpu(g), on_cpu(c);
    const StepReport a = on_gpu.step(), b = on_cpu.step();
    BOOST_TEST(std::abs(a.loss - b.loss) <= 1e-4 * std::abs(b.loss), a.loss << " vs " << b.loss);
    BOOST_TEST(std::abs(a.grad_norm - b.grad_norm) <= 1e-4 * b.grad_norm);
  }
}

BOOST_AUTO_TEST_SUITE_END()

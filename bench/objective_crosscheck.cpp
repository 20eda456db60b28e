// SPDX-License-Identifier: MIT
// flowtape's side of the objectives cross-check (scripts/objective_crosscheck.py runs torchcfm
// and Meta's flow_matching on the same inputs and compares): reads x0, x1, t, z and an affine
// velocity v(x, t) = x W + t b from .npy files in DIR (f32), and prints one JSON object with
// every path's x_t and u_t, the CFM loss of v on the rectified path, the minibatch-OT
// assignment and its cost, and the samples of v from x0 by Euler, midpoint, RK4 (10 steps)
// and dopri5.
//   objective_crosscheck DIR > flowtape.json
#include <cstdio>
#include <string>
#include <vector>

#include "flowtape/flows/flows.hpp"

using namespace flowtape;
using namespace flowtape::flows;

namespace {

void print_tensor(const char* key, const Tensor& x, bool last = false) {
  const std::vector<double> v = x.to_vector();
  std::printf("\"%s\":[", key);
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.9g", i ? "," : "", v[i]);
  std::printf("]%s\n", last ? "" : ",");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: objective_crosscheck DIR (with x0, x1, t, z, W, b .npy)\n");
    return 2;
  }
  const std::string dir = argv[1];
  const auto load = [&](const char* name) { return read_npy(dir + "/" + name + ".npy"); };
  const Tensor x0 = load("x0"), x1 = load("x1"), t = load("t"), z = load("z");
  const Tensor w = load("W"), b = load("b");
  const VelocityField v = [&](const Tensor& x, const Tensor& tc) { return matmul(x, w) + tc * b; };

  std::printf("{\n");
  const std::vector<std::pair<const char*, Path>> paths = {{"rectified", Path::rectified()},
                                                           {"lipman", Path::lipman(0.01)},
                                                           {"independent", Path::independent(0.1)},
                                                           {"vp_cosine", Path::vp_cosine()}};
  for (const auto& [name, path] : paths) {
    const PathSample s =
        path.sample(x0, x1, t, path.kind() == PathKind::independent ? z : Tensor());
    print_tensor((std::string(name) + "_xt").c_str(), s.xt);
    print_tensor((std::string(name) + "_ut").c_str(), s.ut);
  }
  const PathSample r = Path::rectified().sample(x0, x1, t);
  print_tensor("cfm_loss", cfm_loss(v(r.xt, t), r.ut));

  // Minibatch OT: x1's rows reordered so that row i is x0's row i's partner; recover the
  // permutation by matching rows.
  const Pair ot = couple(CouplingKind::minibatch_ot, x0, x1);
  const auto a = ot.x1.to_vector(), orig = x1.to_vector();
  const std::int64_t n = x1.size(0), d = x1.size(1);
  std::vector<double> perm;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      bool same = true;
      for (std::int64_t k = 0; k < d; ++k) same = same && a[i * d + k] == orig[j * d + k];
      if (same) {
        perm.push_back(static_cast<double>(j));
        break;
      }
    }
  print_tensor("ot_permutation",
               from_vector(std::span<const double>(perm),
                           Shape({static_cast<std::int64_t>(perm.size())}), DType::f64));
  print_tensor("ot_cost", sum(square(ot.x1 - ot.x0)));

  for (const auto& [name, method] :
       {std::pair{"euler", solvers::Method::euler},
        std::pair{"midpoint", solvers::Method::midpoint}, std::pair{"rk4", solvers::Method::rk4},
        std::pair{"dopri5", solvers::Method::dopri5}}) {
    SampleOptions o;
    o.solver.method = method;
    if (method == solvers::Method::dopri5) {
      o.solver.rtol = 1e-5;
      o.solver.atol = 1e-5;
    } else {
      o.solver.n_steps = 10;
    }
    print_tensor((std::string("sample_") + name).c_str(), sample(v, x0, o).x,
                 method == solvers::Method::dopri5);
  }
  std::printf("}\n");
  return 0;
}

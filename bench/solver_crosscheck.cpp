// SPDX-License-Identifier: MIT
// flowtape's side of the solver cross-check (scripts/solver_crosscheck.py runs scipy,
// torchdiffeq and diffrax on the same problems and prints the joint table): for each problem,
// method, tolerance and step-size controller (the default PI, and the I controller scipy,
// torchdiffeq and diffrax use by default), one JSON line with the work (NFE, accepted and
// rejected steps), the state at t1 and the dense output at 200 interior times. f64 throughout.
//   solver_crosscheck > flowtape.jsonl
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/solvers/solvers.hpp"

using namespace flowtape;
using namespace flowtape::solvers;

namespace {

struct Problem {
  const char* name;
  std::vector<double> y0;
  double t1;
  std::vector<double> (*f)(double t, const std::vector<double>& y);
};

std::vector<double> rotation(double, const std::vector<double>& y) {
  return {-y[1], y[0]};
}

// Hairer, Norsett & Wanner's AREN: the Arenstorf orbit of the restricted three-body problem,
// periodic with period t1 (so the exact end state is y0).
std::vector<double> arenstorf(double, const std::vector<double>& y) {
  constexpr double mu = 0.012277471, mup = 1 - mu;
  const double d1 = std::pow((y[0] + mu) * (y[0] + mu) + y[1] * y[1], 1.5);
  const double d2 = std::pow((y[0] - mup) * (y[0] - mup) + y[1] * y[1], 1.5);
  return {y[2], y[3], y[0] + 2 * y[3] - mup * (y[0] + mu) / d1 - mu * (y[0] - mup) / d2,
          y[1] - 2 * y[2] - mup * y[1] / d1 - mu * y[1] / d2};
}

Tensor tensor_of(const std::vector<double>& v) {
  return from_vector(std::span<const double>(v), Shape({static_cast<std::int64_t>(v.size())}),
                     DType::f64);
}

void print_array(const std::vector<double>& v) {
  std::printf("[");
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.17g", i ? "," : "", v[i]);
  std::printf("]");
}

}  // namespace

int main() {
  const std::vector<Problem> problems = {
      {"rotation", {1.0, 0.0}, 20.0, rotation},
      {"arenstorf",
       {0.994, 0.0, 0.0, -2.00158510637908252240537862224},
       17.0652165601579625588917206249,
       arenstorf},
  };
  for (const Problem& p : problems) {
    const VectorField f = [&](double t, const Tensor& y) {
      return tensor_of(p.f(t, y.to_vector()));
    };
    for (Method m : {Method::dopri5, Method::tsit5, Method::dopri8, Method::dop853}) {
      for (double tol : {1e-3, 1e-6, 1e-9}) {
        for (const char* controller : {"PI", "I"}) {
          IntegrateOptions o;
          o.method = m;
          o.rtol = o.atol = tol;
          o.max_steps = 1000000;
          if (std::string(controller) == "I") {
            o.pcoeff = 0;
            o.icoeff = 1;
          }
          const Solution s = integrate(f, tensor_of(p.y0), 0.0, p.t1, o);
          // The dense output at 200 interior times, from a separate solve so the counts above are
          // those of a plain solve.
          o.dense = true;
          const Solution d = integrate(f, tensor_of(p.y0), 0.0, p.t1, o);
          std::printf(
              "{\"problem\":\"%s\",\"method\":\"%s\",\"tol\":%g,\"controller\":\"%s\","
              "\"nfe\":%ld,\"accepted\":%ld,\"rejected\":%ld,\"y1\":",
              p.name, std::string(method_name(m)).c_str(), tol, controller, s.stats.nfe,
              s.stats.accepted, s.stats.rejected);
          print_array(s.ys.back().to_vector());
          std::printf(",\"dense\":[");
          for (int i = 0; i < 200; ++i) {
            if (i) std::printf(",");
            print_array(d.evaluate(p.t1 * (i + 0.5) / 200).to_vector());
          }
          std::printf("]}\n");
        }
      }
    }
  }
  return 0;
}

// SPDX-License-Identifier: MIT
// Evaluation and run-folder outputs; see evaluate.hpp.
#include "app/evaluate.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "app/plot.hpp"
#include "flowtape/flows/likelihood.hpp"
#include "flowtape/flows/metrics.hpp"
#include "flowtape/nn/atomic_file.hpp"
#include "flowtape/solvers/tableau.hpp"

namespace flowtape::app {

solvers::IntegrateOptions solver_options(const train::TrainSpec& c) {
  solvers::IntegrateOptions o;
  o.method = c.solver;
  o.rtol = c.rtol;
  o.atol = c.atol;
  if (!solvers::tableau(o.method).adaptive()) o.n_steps = c.euler_steps;
  return o;
}

flows::SampleResult generate(const flows::VelocityField& v, std::int64_t n, std::int64_t dim,
                             const train::TrainSpec& c, Generator& gen, int trajectory_points) {
  NoGrad no_grad;
  flows::SampleOptions o;
  o.solver = solver_options(c);
  o.trajectory_points = trajectory_points;
  return flows::sample(v, randn({n, dim}, gen), o);
}

nlohmann::json sample_metrics(const flows::Dataset& ds, const Tensor& samples,
                              const Tensor& reference, Generator& gen) {
  nlohmann::json m;
  // O(n^2) metrics on at most 2000 points each.
  const std::int64_t k = std::min<std::int64_t>({samples.shape()[0], reference.shape()[0], 2000});
  const Tensor s = slice(samples, 0, 0, k), r = slice(reference, 0, 0, k);
  m["mmd_rbf"] = flows::mmd_rbf(s, r);
  m["energy_distance"] = flows::energy_distance(s, r);
  m["sliced_w2"] = flows::sliced_wasserstein(s, r, 128, gen);
  if (const auto* rings = dynamic_cast<const flows::Rings*>(&ds)) {
    const flows::RingMetrics rm = flows::ring_metrics(*rings, samples, reference);
    m["angular_spread_error"] = rm.angular_spread_error;
    m["gap_violation_rate"] = rm.gap_violation_rate;
    m["mode_concentration"] = rm.mode_concentration;
    m["variance_error"] = rm.variance_error;
    m["radial_std_error"] = rm.radial_std_error;
  }
  return m;
}

nlohmann::json nll_metrics(const flows::VelocityField& v, const flows::Dataset& ds,
                           const train::TrainSpec& c, Generator& gen) {
  const Tensor x = ds.sample(c.nll_samples, gen);
  flows::LikelihoodOptions o;
  o.solver.rtol = c.rtol;
  o.solver.atol = c.atol;
  const flows::LikelihoodResult r = flows::log_likelihood(v, x, o);
  nlohmann::json m;
  const double nll = flows::mean_nll(r);
  m["nll_nats"] = nll;
  m["nll_bits_per_dim"] = flows::bits_per_dim(nll, ds.dim());
  if (ds.has_log_density())
    m["true_nll_nats"] = -mean(ds.log_density(to_dtype(x, DType::f64))).item();
  return m;
}

void write_text_file(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  nn::write_file_atomic(path, text);
}

void write_csv(const std::string& path, const Tensor& points) {
  if (points.rank() != 2) throw std::invalid_argument("write_csv: needs [n, d] points");
  std::ostringstream s;
  s.precision(9);
  const std::vector<double> v = points.to_vector();
  const std::int64_t d = points.shape()[1];
  // dim0, dim1, ...: x0 and x1 would read as the noise and the data in flow-matching notation.
  for (std::int64_t j = 0; j < d; ++j) s << (j ? ",dim" : "dim") << j;
  s << '\n';
  for (std::size_t i = 0; i < v.size(); ++i) s << v[i] << ((i + 1) % d ? ',' : '\n');
  write_text_file(path, s.str());
}

nlohmann::json evaluate_to_folder(const flows::VelocityField& v, const flows::Dataset& ds,
                                  const train::TrainSpec& c, const std::string& folder,
                                  const nlohmann::json& extra) {
  std::filesystem::create_directories(folder);
  Generator gen(c.seed, 7);  // evaluation's own stream: independent of training
  const flows::SampleResult s = generate(v, c.eval_samples, ds.dim(), c, gen, 41);
  const Tensor reference = ds.sample(c.eval_samples, gen);
  nlohmann::json m = extra;
  m["config"] = nlohmann::json::parse(train::to_json(c));
  m["metrics"] = sample_metrics(ds, s.x, reference, gen);
  m["sampling"] = {
      {"nfe", s.stats.nfe}, {"accepted", s.stats.accepted}, {"rejected", s.stats.rejected}};
  if (c.nll) m["metrics"].update(nll_metrics(v, ds, c, gen));
  write_csv(folder + "/samples.csv", s.x);
  if (ds.dim() == 2) {
    const Frame f = frame_of(reference);
    scatter_plot(s.x, reference, f).save_png(folder + "/samples.png");
    density_plot(s.x, f).save_png(folder + "/density.png");
    trajectory_plot(s.trajectory, f).save_png(folder + "/trajectories.png");
  } else if (ds.dim() == 1) {
    histogram_plot(s.x, reference).save_png(folder + "/histogram.png");
  }
  write_text_file(folder + "/metrics.json", m.dump(2) + "\n");
  return m;
}

}  // namespace flowtape::app

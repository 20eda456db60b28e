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
    m["spread_ratio"] = rm.spread_ratio;
    m["minority_share"] = rm.minority_share;
    m["radius_bias"] = rm.radius_bias;
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
  write_csv(path, points, Tensor());
}

void write_csv(const std::string& path, const Tensor& points, const Tensor& labels) {
  if (points.rank() != 2) throw std::invalid_argument("write_csv: needs [n, d] points");
  if (labels.defined() && (labels.rank() != 1 || labels.size(0) != points.shape()[0]))
    throw std::invalid_argument("write_csv: needs one label per point");
  std::ostringstream s;
  s.precision(9);
  const std::vector<double> v = points.to_vector();
  const std::vector<double> l = labels.defined() ? labels.to_vector() : std::vector<double>{};
  const std::int64_t d = points.shape()[1];
  // dim0, dim1, ...: x0 and x1 would read as the noise and the data in flow-matching notation.
  for (std::int64_t j = 0; j < d; ++j) s << (j ? ",dim" : "dim") << j;
  s << (labels.defined() ? ",class\n" : "\n");
  for (std::size_t i = 0; i < v.size(); ++i) {
    s << v[i];
    if ((i + 1) % static_cast<std::size_t>(d) != 0) {
      s << ',';
    } else {
      if (labels.defined()) s << ',' << static_cast<long long>(l[i / static_cast<std::size_t>(d)]);
      s << '\n';
    }
  }
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

nlohmann::json evaluate_to_folder(const train::Trainer& t, const std::string& folder,
                                  const nlohmann::json& extra) {
  const train::TrainSpec& c = t.spec();
  if (!c.conditional && c.data.empty())
    return evaluate_to_folder(t.field(), t.dataset(), c, folder, extra);
  std::filesystem::create_directories(folder);
  Generator gen(c.seed, 7);  // evaluation's own stream: independent of training
  const train::Standardization& st = t.standardization();
  // The reference points (data space) and their conditions.
  Tensor reference, conditions;
  if (t.heldout_points().defined()) {
    const std::int64_t k = std::min(c.eval_samples, t.heldout_points().shape()[0]);
    reference = slice(t.heldout_points(), 0, 0, k);
    if (t.heldout_conditions().defined()) conditions = slice(t.heldout_conditions(), 0, 0, k);
  } else {
    const flows::Dataset::Labeled l =
        c.conditional ? t.dataset().sample_labeled(c.eval_samples, gen)
                      : flows::Dataset::Labeled{t.dataset().sample(c.eval_samples, gen), Tensor()};
    reference = st.undo(l.x);
    conditions = l.c;
  }
  if (!c.conditional) conditions = Tensor();
  const std::int64_t n = reference.shape()[0], dim = reference.shape()[1];
  const flows::VelocityField v = c.conditional ? t.field_for(conditions) : t.field();
  flows::SampleResult s = generate(v, n, dim, c, gen, dim == 2 ? 41 : 0);
  s.x = st.undo(s.x);
  for (Tensor& x : s.trajectory) x = st.undo(x);
  nlohmann::json m = extra;
  m["config"] = nlohmann::json::parse(train::to_json(c));
  m["reference"] = t.heldout_points().defined() ? "held-out rows" : "training data";
  m["metrics"] = sample_metrics(t.dataset(), s.x, reference, gen);
  m["sampling"] = {
      {"nfe", s.stats.nfe}, {"accepted", s.stats.accepted}, {"rejected", s.stats.rejected}};
  if (c.conditional) m["sampling"]["guidance"] = c.guidance;
  if (c.nll) {
    // The density of data-space points: the model's density of the standardised points, times
    // the standardisation's Jacobian 1 / prod(scale).
    const std::int64_t k = std::min(c.nll_samples, n);
    const Tensor x = st.apply(slice(reference, 0, 0, k));
    const flows::VelocityField vl =
        c.conditional ? flows::bind(t.conditional_field(), slice(conditions, 0, 0, k)) : t.field();
    flows::LikelihoodOptions o;
    o.solver.rtol = c.rtol;
    o.solver.atol = c.atol;
    const double nll = flows::mean_nll(flows::log_likelihood(vl, x, o)) + st.log_scale();
    m["metrics"]["nll_nats"] = nll;
    m["metrics"]["nll_bits_per_dim"] = flows::bits_per_dim(nll, dim);
    if (c.conditional) m["metrics"]["nll_given"] = "each point's own condition";
  }
  write_csv(folder + "/samples.csv", s.x,
            c.conditional && conditions.dtype() == DType::i64 ? conditions : Tensor());
  if (dim == 2) {
    const Frame f = frame_of(reference);
    scatter_plot(s.x, reference, f).save_png(folder + "/samples.png");
    density_plot(s.x, f).save_png(folder + "/density.png");
    trajectory_plot(s.trajectory, f).save_png(folder + "/trajectories.png");
  } else if (dim == 1) {
    histogram_plot(s.x, reference).save_png(folder + "/histogram.png");
  }
  write_text_file(folder + "/metrics.json", m.dump(2) + "\n");
  return m;
}

}  // namespace flowtape::app

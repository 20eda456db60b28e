// SPDX-License-Identifier: MIT
// The training loop behind `flowtape train` and the examples; see trainer.hpp.
#include "examples/app/trainer.hpp"

#include <cmath>
#include <sstream>

#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::app {

namespace {

bool all_finite(const Tensor& x) {
  if (x.device() != Device::cpu) return all_finite(to_host(x));
  bool ok = true;
  dispatch(x.dtype(), [&]<class T>() {
    const T* p = x.data<T>();
    for (std::int64_t i = 0, n = x.numel(); i < n && ok; ++i) ok = std::isfinite(p[i]);
  });
  return ok;
}

// The fields of a config that change what training computes (everything but the step count,
// the schedule's horizon, which a resumed run may extend on purpose, and the evaluation
// settings): a resumed run must agree on these.
nlohmann::json training_identity(const TrainConfig& c) {
  nlohmann::json j = to_json(c);
  for (const char* k : {"steps", "schedule_steps", "checkpoint_every", "solver", "rtol", "atol",
                        "euler_steps", "eval_samples", "nll", "nll_samples", "device"}) {
    j.erase(k);
  }
  return j;
}

Device device_from_name(const std::string& name) {
  if (name != "cuda") return Device::cpu;
  if (!cuda_built())
    throw std::invalid_argument(
        "device 'cuda': this build has no CUDA backend (nvcc was not found when it was "
        "configured, or FLOWTAPE_CUDA=OFF); use device 'cpu'");
  if (cuda_device_count() == 0)
    throw std::invalid_argument(
        "device 'cuda': no CUDA device found (no NVIDIA driver or GPU on this machine); use "
        "device 'cpu'");
  return Device::cuda;
}

}  // namespace

namespace {
TrainConfig config_from_metadata(const nn::Metadata& meta, const std::string& path) {
  const auto it = meta.find("config");
  if (it == meta.end())
    throw std::invalid_argument(
        path + " is not a flowtape training checkpoint (no config in its metadata)");
  try {
    return config_from_json(nlohmann::json::parse(it->second));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(path +
                                ": the config in its metadata is not valid JSON: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}
}  // namespace

TrainConfig config_from_checkpoint(const nn::SafetensorsContents& file, const std::string& source) {
  const TrainConfig c = config_from_metadata(file.metadata, source);
  // The model that config describes must fit the values the file holds, checked before the
  // model is built: a small file whose config claims hidden = 60000 would otherwise allocate
  // gigabytes before its tensors' shapes are compared. Its hidden layers alone hold
  // (depth - 1) hidden^2 weights.
  std::uint64_t values = 0;
  for (const auto& [name, t] : file.tensors) values += static_cast<std::uint64_t>(t.numel());
  const double hidden = static_cast<double>(c.hidden);
  const double least = static_cast<double>(c.depth - 1) * hidden * hidden + hidden;
  if (least > static_cast<double>(values))
    throw std::invalid_argument(source + ": its config describes a model of at least " +
                                std::to_string(static_cast<std::uint64_t>(least)) +
                                " parameters (hidden " + std::to_string(c.hidden) + ", depth " +
                                std::to_string(c.depth) + ") but the file holds " +
                                std::to_string(values) + " values");
  return c;
}

TrainConfig config_from_checkpoint(const std::string& checkpoint_path) {
  return config_from_checkpoint(nn::load_safetensors(checkpoint_path), checkpoint_path);
}

Trainer::Trainer(TrainConfig config)
    : config_((validate(config), std::move(config))),
      dataset_(flows::make_dataset(config_.dataset)),
      path_(flows::Path::from_name(config_.path, config_.sigma)),
      device_(device_from_name(config_.device)),
      gen_(config_.seed, 0) {
  // Separate streams for the training set and the initial weights, so that changing one
  // setting (say train_size) does not change the others' draws.
  Generator data_gen(config_.seed, 1), init_gen(config_.seed, 2);
  const std::int64_t d = dataset_->dim();
  if (config_.train_size > 0) {
    train_x1_ = dataset_->sample(config_.train_size, data_gen);
    if (config_.coupling == "fixed") train_x0_ = randn({config_.train_size, d}, data_gen);
  }
  nn::VelocityMLPOptions mo;
  mo.activation = nn::activation_from_name(config_.activation);
  mo.time_embedding = nn::time_embedding_from_name(config_.time_embedding);
  model_ = std::make_shared<nn::VelocityMLP>(d, config_.hidden, config_.depth, init_gen, mo);
  nn::to_device(*model_, device_);  // before the optimizer, whose state follows the parameters
  if (config_.weight_decay > 0) {
    optimizer_ = std::make_unique<nn::AdamW>(
        model_->parameters(),
        nn::AdamWOptions{.lr = config_.lr, .weight_decay = config_.weight_decay});
  } else {
    optimizer_ =
        std::make_unique<nn::Adam>(model_->parameters(), nn::AdamOptions{.lr = config_.lr});
  }
  if (config_.schedule == "constant") {
    schedule_ = nn::constant_lr(config_.lr);
  } else if (config_.schedule == "warmup") {
    schedule_ = nn::linear_warmup(config_.lr, std::max<std::int64_t>(config_.warmup, 1));
  } else {
    schedule_ = nn::cosine_decay(config_.lr, schedule_horizon(config_), config_.warmup);
  }
}

double Trainer::lambda_at(std::int64_t step) const {
  if (config_.loss != "entropic") return 0.0;
  if (config_.ramp_end == 0) return config_.lambda_max;
  const auto n = static_cast<double>(schedule_horizon(config_));
  const auto start = static_cast<std::int64_t>(std::llround(config_.ramp_start * n));
  const auto end =
      std::max(start + 1, static_cast<std::int64_t>(std::llround(config_.ramp_end * n)));
  return flows::LambdaSchedule::linear_ramp(config_.lambda_max, start, end)(step);
}

Tensor Trainer::batch_targets(std::int64_t b) {
  if (!train_x1_.defined()) return dataset_->sample(b, gen_);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(b));
  const auto n = static_cast<double>(train_x1_.shape()[0]);
  for (auto& i : idx) i = static_cast<std::int64_t>(gen_.uniform() * n);
  return flows::take_rows(train_x1_, idx);
}

flows::VelocityField Trainer::field() const {
  if (device_ == Device::cpu) return model_->as_function();
  // Host in, host out: evaluation, sampling and likelihoods hand the field host tensors, and
  // get host tensors back; tensors already on the device pass through untouched (to_device of
  // a tensor to its own device is the tensor). Both moves are differentiable ops, so the
  // divergence JVPs of the likelihood run through them.
  const flows::VelocityField on_device = model_->as_function();
  const Device dev = device_;
  return [on_device, dev](const Tensor& x, const Tensor& t) {
    return to_device(on_device(to_device(x, dev), to_device(t, dev)), x.device());
  };
}

Tensor Trainer::loss_for(const Tensor& x0, const Tensor& x1, const Tensor& t, double lambda) {
  const Tensor z =
      path_.kind() == flows::PathKind::independent ? randn(x0.shape(), gen_).to(device_) : Tensor();
  const flows::PathSample ps = path_.sample(x0, x1, t, z);
  const nn::VelocityMLP& model = *model_;
  if (config_.loss == "fdm") {
    flows::FdmOptions o;
    o.w_div = config_.fdm_weight;
    o.exact_divergence = config_.exact_divergence;
    o.probes = config_.probes;
    o.probe = flows::probe_from_name(config_.probe);
    const flows::FdmLoss l = flows::fdm_loss(field(), ps, t, gen_, o);
    last_cfm_ = l.cfm;
    last_divergence_ = l.cdm;
    return l.total;
  }
  const Tensor v = model(ps.xt, t);
  if (config_.loss == "entropic")
    return flows::entropic_loss(flows::per_sample_loss(v, ps.ut), lambda);
  if (config_.loss == "efm") {
    const double sigma_min = path_.kind() == flows::PathKind::lipman ? path_.sigma() : 0.0;
    const Tensor extra =
        config_.efm_extra > 0 ? batch_targets(config_.efm_extra).to(device_) : Tensor();
    return flows::cfm_loss(v, flows::efm_target(ps.xt, t, x1, extra, sigma_min));
  }
  return flows::cfm_loss(v, ps.ut);
}

void Trainer::read_step(const Tensor& loss, const std::vector<Tensor>& grads,
                        StepReport& report) const {
  // The loss, its parts and each gradient's sum of squares, in one read (one wait for a device
  // per step). A finite total proves every gradient entry finite; a non-finite one may also be
  // an f32 overflow of finite entries, so the per-parameter search below decides.
  NoGrad no_grad;
  const auto f64_scalar = [](const Tensor& x) { return to_dtype(reshape(x, {1}), DType::f64); };
  std::vector<Tensor> parts = {f64_scalar(loss)};
  const bool fdm = last_cfm_.defined();
  if (fdm) {
    parts.push_back(f64_scalar(last_cfm_));
    parts.push_back(f64_scalar(last_divergence_));
  }
  // In f64 (an f32 sum of squares overflows for gradients above ~1.8e19 that are still finite),
  // by the gradient's backend, as clip_grad_norm sums them.
  for (const Tensor& g : grads) parts.push_back(reshape(backend_of(g).sum_of_squares(g), {1}));
  const std::vector<double> read = concat(parts, 0).to_vector();
  std::size_t at = 0;
  const double value = read[at++];
  report.loss = value;
  if (fdm) {
    report.cfm = read[at++];
    report.divergence = read[at++];
  }
  double squares = 0;
  for (; at < read.size(); ++at) squares += read[at];
  report.grad_norm = std::sqrt(squares);
  const bool grads_known_finite = std::isfinite(squares);
  const std::int64_t step = report.step;
  std::ostringstream m;
  if (!std::isfinite(value)) {
    m << "training stopped at step " << step << ": the loss is " << value;
    throw TrainingError(m.str(), step);
  }
  if (grads_known_finite) return;
  const auto named = model_->named_parameters();
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!all_finite(grads[i])) {
      m << "training stopped at step " << step << ": the gradient of " << named[i].first
        << " is not finite (loss " << value << ")";
      throw TrainingError(m.str(), step);
    }
  }
}

StepReport Trainer::step() {
  const std::int64_t s = optimizer_->steps();  // updates already taken
  const std::int64_t b = config_.batch, d = dataset_->dim();
  Tensor x0, x1;
  if (config_.coupling == "fixed") {
    std::vector<std::int64_t> idx(static_cast<std::size_t>(b));
    const auto n = static_cast<double>(train_x1_.shape()[0]);
    for (auto& i : idx) i = static_cast<std::int64_t>(gen_.uniform() * n);
    x0 = flows::take_rows(train_x0_, idx);
    x1 = flows::take_rows(train_x1_, idx);
  } else {
    x1 = batch_targets(b);
    x0 = randn({b, d}, gen_);
    if (config_.coupling == "ot") x1 = flows::couple(flows::CouplingKind::minibatch_ot, x0, x1).x1;
  }
  // Drawn on the host from gen_ whatever the device (the same batches as a cpu run), then moved.
  x0 = x0.to(device_);
  x1 = x1.to(device_);
  const Tensor t = rand({b, 1}, gen_).to(device_);
  const double lambda = lambda_at(s);
  const double lr = schedule_(s);
  optimizer_->set_lr(lr);
  last_cfm_ = last_divergence_ = Tensor();
  auto [loss, grads] =
      nn::loss_and_grad(model_->parameters(), [&] { return loss_for(x0, x1, t, lambda); });
  StepReport report{s + 1, 0.0, lambda, lr};
  read_step(loss, grads, report);
  if (config_.grad_clip > 0) nn::clip_grad_norm(grads, config_.grad_clip);
  optimizer_->step(grads);
  return report;
}

void Trainer::train(const std::function<void(const StepReport&)>& on_step,
                    const std::string& checkpoint_path) {
  while (steps_done() < config_.steps) {
    const StepReport r = step();
    if (on_step) on_step(r);
    if (!checkpoint_path.empty() && config_.checkpoint_every > 0 &&
        r.step % config_.checkpoint_every == 0 && r.step < config_.steps) {
      save(checkpoint_path);
    }
  }
  if (!checkpoint_path.empty()) save(checkpoint_path);
}

nlohmann::json Trainer::architecture() const {
  nlohmann::json a;
  a["model"] = "VelocityMLP";
  a["input_dim"] = dataset_->dim();
  a["hidden"] = config_.hidden;
  a["depth"] = config_.depth;
  a["activation"] = config_.activation;
  a["time_embedding"] = config_.time_embedding;
  a["forward"] =
      "v(x, t) = net([x, emb(t)]): emb is t itself (raw) or the named embedding; net is depth "
      "hidden Linear layers, each followed by the activation, then a Linear to input_dim; "
      "Linear(x) = x W^T + b as in torch.nn.Linear";
  nlohmann::json shapes = nlohmann::json::object();
  for (const auto& [name, p] : model_->named_parameters()) {
    nlohmann::json dims = nlohmann::json::array();
    for (int d = 0; d < p.rank(); ++d) dims.push_back(p.shape()[d]);
    shapes[name] = dims;
  }
  a["parameters"] = shapes;
  return a;
}

void Trainer::save(const std::string& path) const {
  // "The last good checkpoint" must be good: weights that an update made non-finite are not
  // written, and the file keeps the previous checkpoint.
  for (const auto& [name, p] : model_->named_parameters())
    for (double v : p.to_vector())
      if (!std::isfinite(v)) {
        std::ostringstream m;
        m << "training stopped at step " << steps_done() << ": the parameter '" << name << "' is "
          << v << " after the update; " << path << " was not overwritten";
        throw TrainingError(m.str(), steps_done());
      }
  nn::Metadata meta;
  meta["config"] = to_json(config_).dump();
  meta["architecture"] = architecture().dump();
  std::ostringstream g;
  g << gen_.key() << ' ' << gen_.counter() << ' ' << gen_.stream();
  meta["generator"] = g.str();
  meta["trainer_step"] = std::to_string(steps_done());
  nn::save_checkpoint(path, *model_, optimizer_.get(), meta);
}

void Trainer::resume(const std::string& checkpoint_path) {
  resume(nn::load_safetensors(checkpoint_path), checkpoint_path);
}

void Trainer::resume(const nn::SafetensorsContents& file, const std::string& checkpoint_path) {
  // Check the file's config before touching the model, so a mismatch changes nothing.
  const nn::Metadata& meta = file.metadata;
  if (!meta.count("config") || !meta.count("generator")) {
    throw std::invalid_argument("resume: " + checkpoint_path +
                                " is not a flowtape training checkpoint (no config or generator "
                                "state in its metadata)");
  }
  const TrainConfig saved = config_from_metadata(meta, checkpoint_path);
  if (training_identity(saved) != training_identity(config_)) {
    throw std::invalid_argument("resume: " + checkpoint_path +
                                " was written by a different training configuration:\n  file: " +
                                training_identity(saved).dump() +
                                "\n  this run: " + training_identity(config_).dump());
  }
  std::uint64_t key = 0, counter = 0, stream = 0;
  std::istringstream g(meta.at("generator"));
  if (!(g >> key >> counter >> stream)) {
    throw std::invalid_argument("resume: bad generator state '" + meta.at("generator") + "' in " +
                                checkpoint_path);
  }
  nn::load_checkpoint(file, checkpoint_path, *model_, optimizer_.get());
  gen_ = Generator::from_state(key, counter, stream);
}

}  // namespace flowtape::app

// SPDX-License-Identifier: MIT
// The training loop behind `flowtape train` and the examples; see trainer.hpp.
#include "flowtape/train/trainer.hpp"

#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "flowtape/flows/coupling.hpp"
#include "flowtape/flows/losses.hpp"
#include "flowtape/runtime/backend.hpp"

namespace flowtape::train {

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
nlohmann::json training_identity(const TrainSpec& c) {
  nlohmann::json j = nlohmann::json::parse(to_json(c));
  // (The data's paths too: a moved file with the same values, checked by its fingerprint, is
  // the same data.)
  for (const char* k : {"steps", "schedule_steps", "checkpoint_every", "solver", "rtol", "atol",
                        "euler_steps", "eval_samples", "nll", "nll_samples", "device", "guidance",
                        "data", "labels", "context", "shard_threads"}) {
    j.erase(k);
  }
  // Settings the run's schedule does not read: a constant rate ignores the warm-up, and only
  // the step schedule decays.
  if (c.schedule != LrSchedule::step) {
    j.erase("lr_decay");
    j.erase("lr_decay_every");
  }
  if (c.schedule == LrSchedule::constant) j.erase("warmup");
  return j;
}

// What the ranks of a data-parallel run must share: everything that changes what any rank
// computes or when it stops - the training identity plus the step count, the schedule's
// horizon, the checkpoint interval (rank 0's checkpoints check the weights) and the device -
// but not where a rank reads its data from (its fingerprint is compared), its thread count,
// nor the evaluation settings, which only rank 0 uses.
nlohmann::json rank_identity(const TrainSpec& c) {
  nlohmann::json j = training_identity(c);
  const nlohmann::json all = nlohmann::json::parse(to_json(c));
  for (const char* k : {"steps", "schedule_steps", "checkpoint_every", "device"}) j[k] = all[k];
  return j;
}

void require_usable(Device device) {
  if (device != Device::cuda) return;
  if (!cuda_built())
    throw std::invalid_argument(
        "device 'cuda': this build has no CUDA backend (nvcc was not found when it was "
        "configured, or FLOWTAPE_CUDA=OFF); use device 'cpu'");
  if (cuda_device_count() == 0)
    throw std::invalid_argument(
        "device 'cuda': no CUDA device found (no NVIDIA driver or GPU on this machine); use "
        "device 'cpu'");
}

flows::Path make_path(flows::PathKind kind, double sigma) {
  switch (kind) {
    case flows::PathKind::rectified:
      return flows::Path::rectified();
    case flows::PathKind::lipman:
      return flows::Path::lipman(sigma);
    case flows::PathKind::independent:
      return flows::Path::independent(sigma);
    case flows::PathKind::vp_cosine:
      return flows::Path::vp_cosine();
  }
  throw std::invalid_argument("unknown path kind");
}

TrainSpec spec_from_metadata(const nn::Metadata& meta, const std::string& path) {
  const auto it = meta.find("config");
  if (it == meta.end())
    throw std::invalid_argument(
        path + " is not a flowtape training checkpoint (no config in its metadata)");
  try {
    return spec_from_json(it->second);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

// Copies the data and the model or makes the built-in ones; the spec is validated first, so
// nothing is built for a bad one.
std::shared_ptr<const flows::Dataset> data_or_builtin(const TrainSpec& spec,
                                                      std::shared_ptr<const flows::Dataset> data,
                                                      LoadedData& loaded) {
  validate(spec);
  require_usable(spec.device);
  if (data) return data;
  if (!spec.data.empty()) {
    loaded = load_data(spec);
    return loaded.train;
  }
  return flows::make_dataset(spec.dataset);
}

nlohmann::json condition_json(const flows::ConditionSpec& c) {
  return {{"kind", c.kind == flows::ConditionKind::labels    ? "labels"
                   : c.kind == flows::ConditionKind::context ? "context"
                                                             : "none"},
          {"classes", c.classes},
          {"dim", c.dim}};
}

// {"name": [dims...], ...} in the module's order.
nlohmann::ordered_json shapes_of(const nn::NamedTensors& tensors) {
  nlohmann::ordered_json shapes = nlohmann::ordered_json::object();
  for (const auto& [name, t] : tensors) {
    nlohmann::json dims = nlohmann::json::array();
    for (int d = 0; d < t.rank(); ++d) dims.push_back(t.shape()[d]);
    shapes[name] = dims;
  }
  return shapes;
}

}  // namespace

VelocityModel velocity_mlp(const TrainSpec& spec, std::int64_t dim, Generator& gen,
                           const flows::ConditionSpec& condition) {
  nn::VelocityMLPOptions mo;
  mo.activation = spec.activation;
  mo.time_embedding = spec.time_embedding;
  if (condition.kind == flows::ConditionKind::labels) {
    mo.classes = condition.classes;
    mo.condition_dim = spec.condition_dim;
  } else if (condition.kind == flows::ConditionKind::context) {
    mo.context_dim = condition.dim;
  }
  mo.film = condition.kind != flows::ConditionKind::none && spec.conditioning == Conditioning::film;
  auto model = std::make_shared<nn::VelocityMLP>(dim, spec.hidden, spec.depth, gen, mo);
  nlohmann::ordered_json a;
  a["model"] = "VelocityMLP";
  a["input_dim"] = dim;
  a["hidden"] = spec.hidden;
  a["depth"] = spec.depth;
  a["activation"] = name_of(spec.activation);
  a["time_embedding"] = name_of(spec.time_embedding);
  a["time_embedding_dim"] = spec.time_embedding == nn::TimeEmbeddingKind::raw ? 1 : mo.time_dim;
  if (condition.kind != flows::ConditionKind::none) {
    a["condition"] = condition_json(condition);
    a["conditioning"] = name_of(spec.conditioning);
    a["condition_formula"] =
        std::string(condition.kind == flows::ConditionKind::labels
                        ? "e(c) = row c of condition_embedding.weight (row classes for c = -1, "
                          "no condition)"
                        : "e(c) = [c, 1] ([0, 0] for a row of NaN, no condition)") +
        (mo.film ? "; after each hidden layer's activation h = h (1 + gamma_l) + beta_l, where "
                   "film(e(c)) = [gamma_0, beta_0, gamma_1, beta_1, ...], each hidden wide"
                 : "; concatenated after emb(t)");
  }
  a["forward"] =
      "v(x, t) = net([x, emb(t)]): x is [B, input_dim], t is [B, 1]; net is depth hidden Linear "
      "layers (net.layers.0 .. net.layers.<depth-1>), each followed by the activation, then "
      "net.layers.<depth>, a Linear to input_dim; Linear(z) = z W^T + b as in torch.nn.Linear; "
      "gelu is the tanh approximation";
  switch (spec.time_embedding) {
    case nn::TimeEmbeddingKind::raw:
      a["time_embedding_formula"] = "emb(t) = t";
      break;
    case nn::TimeEmbeddingKind::sinusoidal:
      a["time_embedding_formula"] =
          "emb(t) = [cos(1000 t f), sin(1000 t f)], f_k = exp(-ln(10000) k / h), k = 0 .. h-1, "
          "h = time_embedding_dim / 2";
      break;
    case nn::TimeEmbeddingKind::fourier:
      a["time_embedding_formula"] =
          "emb(t) = [cos(2 pi t f), sin(2 pi t f)], f = the buffer time_embedding.freqs";
      break;
  }
  a["parameters"] = shapes_of(model->named_parameters());
  a["buffers"] = shapes_of(model->named_buffers());
  return VelocityModel::of(std::move(model), a.dump());
}

TrainSpec spec_from_checkpoint(const nn::SafetensorsContents& file, const std::string& source) {
  TrainSpec c = spec_from_metadata(file.metadata, source);
  // A checkpoint written before guidance needed a conditional model trained with condition
  // dropout may hold guidance without them: such a model samples unguided (validate() refuses
  // a --guidance given for it now).
  if (!c.conditional || c.cond_drop == 0) c.guidance = 0;
  // The model that config describes must fit the values the file holds, checked before the
  // model is built: a small file whose config claims hidden = 60000 would otherwise allocate
  // gigabytes before its tensors' shapes are compared. Its hidden layers alone hold
  // (depth - 1) hidden^2 weights.
  std::uint64_t values = 0;
  for (const auto& [name, t] : file.tensors) values += static_cast<std::uint64_t>(t.numel());
  const double hidden = static_cast<double>(c.hidden);
  double least = static_cast<double>(c.depth - 1) * hidden * hidden + hidden;
  // The input and output layers and the condition's table (or FiLM map), where the file's
  // metadata gives their sizes. Each must be a size: a negative one would lower the bound.
  const auto size_in = [&](const nlohmann::json& j, const char* key, double absent) {
    if (!j.contains(key)) return absent;
    const nlohmann::json& v = j.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
        v.get<std::int64_t>() > (std::int64_t{1} << 31))
      throw std::invalid_argument(source + ": metadata " + key + " = " + v.dump() +
                                  " is not a size (a whole number in [0, 2^31])");
    return static_cast<double>(v.get<std::int64_t>());
  };
  try {
    if (const auto it = file.metadata.find("architecture"); it != file.metadata.end()) {
      const nlohmann::json a = nlohmann::json::parse(it->second);
      const double d = size_in(a, "input_dim", 0), tdim = size_in(a, "time_embedding_dim", 1);
      least += (2 * d + tdim) * hidden;
    }
    if (const auto it = file.metadata.find("condition"); it != file.metadata.end()) {
      const nlohmann::json j = nlohmann::json::parse(it->second);
      const double classes = size_in(j, "classes", 0);
      const double code = classes > 0 ? double(c.condition_dim) : size_in(j, "dim", 0) + 1;
      least += classes * double(c.condition_dim) +
               (c.conditioning == Conditioning::film ? code * 2 * hidden * c.depth : code * hidden);
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(source + ": unreadable architecture or condition metadata (" +
                                e.what() + ")");
  }
  if (least > static_cast<double>(values))
    throw std::invalid_argument(source + ": its config describes a model of at least " +
                                std::to_string(static_cast<std::uint64_t>(least)) +
                                " parameters (hidden " + std::to_string(c.hidden) + ", depth " +
                                std::to_string(c.depth) + ") but the file holds " +
                                std::to_string(values) + " values");
  return c;
}

TrainSpec spec_from_checkpoint(const std::string& checkpoint_path) {
  return spec_from_checkpoint(nn::load_safetensors(checkpoint_path), checkpoint_path);
}

namespace {
nn::Schedule lr_schedule_of(const TrainSpec& spec) {
  switch (spec.schedule) {
    case LrSchedule::constant:
      return nn::constant_lr(spec.lr);
    case LrSchedule::warmup:
      return nn::linear_warmup(spec.lr, std::max<std::int64_t>(spec.warmup, 1));
    case LrSchedule::cosine:
      return nn::cosine_decay(spec.lr, schedule_horizon(spec), spec.warmup);
    case LrSchedule::step:
      return nn::step_decay(spec.lr, spec.lr_decay, spec.lr_decay_every, spec.warmup);
  }
  throw std::invalid_argument("unknown learning-rate schedule");
}
}  // namespace

Trainer::Trainer(TrainSpec spec) : Trainer(std::move(spec), nullptr, VelocityModel{}) {}

Trainer::Trainer(TrainSpec spec, std::shared_ptr<const flows::Dataset> data, VelocityModel model)
    : spec_(std::move(spec)),
      dataset_(data_or_builtin(spec_, std::move(data), loaded_)),
      path_(make_path(spec_.path, spec_.sigma)),
      gen_(spec_.seed, 0),
      model_(std::move(model)) {
  spec_.dataset = dataset_->name();
  // A user dataset's own name replaces the spec's: checked as the spec's was, or the
  // checkpoint's config would not load again.
  validate(spec_);
  standardization_ = loaded_.standardization;
  heldout_x_ = loaded_.heldout_x;
  heldout_c_ = loaded_.heldout_c;
  data_fingerprint_ = loaded_.fingerprint;
  loaded_ = {};
  if (spec_.conditional) {
    condition_ = dataset_->condition();
    if (condition_.kind == flows::ConditionKind::none)
      throw std::invalid_argument("conditional: the dataset " + dataset_->name() +
                                  " has no labels or context vectors");
    if (condition_.kind == flows::ConditionKind::context && spec_.coupling == Coupling::ot)
      throw std::invalid_argument(
          "coupling ot pairs within a class; with context vectors use independent");
    if (condition_.kind == flows::ConditionKind::context && spec_.loss == Loss::efm)
      throw std::invalid_argument(
          "loss efm is a closed form per class; with context vectors use cfm, entropic or fdm");
  }
  // Separate streams for the training set and the initial weights, so that changing one
  // setting (say train_size) does not change the others' draws.
  Generator data_gen(spec_.seed, 1), init_gen(spec_.seed, 2);
  const std::int64_t d = dataset_->dim();
  // From a finite dataset a training set that fits is drawn without replacement.
  const auto* finite = dynamic_cast<const flows::TensorDataset*>(dataset_.get());
  const bool distinct = finite && spec_.train_size <= finite->size();
  if (spec_.train_size > 0 && spec_.conditional) {
    flows::Dataset::Labeled set = distinct ? finite->subset(spec_.train_size, data_gen)
                                           : dataset_->sample_labeled(spec_.train_size, data_gen);
    train_x1_ = set.x;
    train_c_ = set.c;
  } else if (spec_.train_size > 0) {
    train_x1_ = distinct ? finite->subset(spec_.train_size, data_gen).x
                         : dataset_->sample(spec_.train_size, data_gen);
    if (spec_.coupling == Coupling::fixed) train_x0_ = randn({spec_.train_size, d}, data_gen);
  }
  if (spec_.train_size > 0) {
    training_set_fingerprint_ = fingerprint_of({&train_x1_, &train_x0_, &train_c_});
    training_set_distinct_ = distinct;
  }
  if (!model_.module) model_ = velocity_mlp(spec_, d, init_gen, condition_);
  if (!model_.forward) throw std::invalid_argument("Trainer: the model has no forward function");
  if (spec_.conditional && !model_.conditional)
    throw std::invalid_argument(
        "Trainer: conditional training needs a model with a conditional "
        "forward v(x, t, c)");
  nn::to_device(*model_.module, spec_.device);  // before the optimizer: its state follows
  if (spec_.weight_decay > 0) {
    optimizer_ = std::make_unique<nn::AdamW>(
        model_.module->parameters(),
        nn::AdamWOptions{.lr = spec_.lr, .weight_decay = spec_.weight_decay});
  } else {
    optimizer_ =
        std::make_unique<nn::Adam>(model_.module->parameters(), nn::AdamOptions{.lr = spec_.lr});
  }
  schedule_ = lr_schedule_of(spec_);
  // What save() writes must be JSON: a dataset name that is not UTF-8 fails here, not at the
  // first checkpoint after the run.
  try {
    static_cast<void>(to_json(spec_));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("the training configuration cannot be saved: ") +
                                e.what());
  }
}

double Trainer::lambda_at(std::int64_t step) const {
  if (spec_.loss != Loss::entropic) return 0.0;
  if (spec_.ramp_end == 0) return spec_.lambda_max;
  const auto n = static_cast<double>(schedule_horizon(spec_));
  const auto start = static_cast<std::int64_t>(std::llround(spec_.ramp_start * n));
  const auto end = std::max(start + 1, static_cast<std::int64_t>(std::llround(spec_.ramp_end * n)));
  return flows::LambdaSchedule::linear_ramp(spec_.lambda_max, start, end)(step);
}

flows::Dataset::Labeled Trainer::draw_batch(std::int64_t b) {
  if (!spec_.conditional) return {batch_targets(b), Tensor()};
  if (!train_x1_.defined()) return dataset_->sample_labeled(b, gen_);
  const std::vector<std::int64_t> idx = training_rows(b);
  return {flows::take_rows(train_x1_, idx), flows::take_rows(train_c_, idx)};
}

Tensor Trainer::batch_targets(std::int64_t b) {
  if (!train_x1_.defined()) return dataset_->sample(b, gen_);
  return flows::take_rows(train_x1_, training_rows(b));
}

std::vector<std::int64_t> Trainer::training_rows(std::int64_t b) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(b));
  const auto n = static_cast<double>(train_x1_.shape()[0]);
  for (auto& i : idx) i = static_cast<std::int64_t>(gen_.uniform() * n);
  return idx;
}

flows::ConditionalField Trainer::conditional_field() const {
  if (!model_.conditional)
    throw std::logic_error("conditional_field: the model is not conditional");
  if (spec_.device == Device::cpu) return model_.conditional;
  const flows::ConditionalField on_device = model_.conditional;
  const Device dev = spec_.device;
  return [on_device, dev](const Tensor& x, const Tensor& t, const Tensor& c) {
    return to_device(on_device(to_device(x, dev), to_device(t, dev), c.to(dev)), x.device());
  };
}

flows::VelocityField Trainer::field_for(const Tensor& c) const {
  // (validate() refused guidance without a null condition trained by condition dropout.)
  return flows::guided(conditional_field(), c, condition_, spec_.guidance);
}

flows::VelocityField Trainer::field() const {
  if (spec_.conditional) {
    const flows::ConditionalField f = conditional_field();
    const flows::ConditionSpec spec = condition_;
    return [f, spec](const Tensor& x, const Tensor& t) {
      return f(x, t, flows::null_condition(spec, x.size(0), x.dtype()));
    };
  }
  if (spec_.device == Device::cpu) return model_.forward;
  // Host in, host out: evaluation, sampling and likelihoods hand the field host tensors, and
  // get host tensors back; tensors already on the device pass through untouched (to_device of
  // a tensor to its own device is the tensor). Both moves are differentiable ops, so the
  // divergence JVPs of the likelihood run through them.
  const flows::VelocityField on_device = model_.forward;
  const Device dev = spec_.device;
  return [on_device, dev](const Tensor& x, const Tensor& t) {
    return to_device(on_device(to_device(x, dev), to_device(t, dev)), x.device());
  };
}

Tensor Trainer::extra_references() {
  return spec_.efm_extra > 0 ? batch_targets(spec_.efm_extra).to(device()) : Tensor();
}

Tensor Trainer::loss_for(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& c,
                         const Tensor& labels, double lambda) {
  const Tensor z = path_.kind() == flows::PathKind::independent
                       ? randn(x0.shape(), gen_).to(device())
                       : Tensor();
  const flows::PathSample ps = path_.sample(x0, x1, t, z);
  if (spec_.loss == Loss::fdm) {
    const flows::FdmLoss l =
        flows::fdm_loss(spec_.conditional ? flows::bind(conditional_field(), c) : field(), ps, t,
                        gen_, fdm_options(ps.xt.shape()[1]));
    last_cfm_ = l.cfm;
    last_divergence_ = l.cdm;
    return l.total;
  }
  const Tensor v = spec_.conditional ? model_.conditional(ps.xt, t, c) : model_.forward(ps.xt, t);
  if (tilts_across_rows()) return tilted_loss(flows::per_sample_loss(v, ps.ut), t, lambda);
  const References refs = draw_references();
  if (spec_.loss == Loss::entropic) {  // the per-point tilt
    return flows::per_point_entropic_loss(
        v, ps.xt, t, refs.points.defined() ? concat({x1, refs.points}, 0) : x1, lambda);
  }
  if (spec_.loss == Loss::efm && spec_.conditional) {
    // Per class: each row's target is the closed form over the references of its class (of
    // all of them for a row whose class was dropped).
    const flows::Dataset::Labeled& extra = refs.class_points;
    const Tensor reference_labels = extra.x.defined() ? concat({labels, extra.c}, 0) : labels;
    return flows::cfm_loss(v, flows::efm_target_by_class(
                                  ps.xt, t, x1, extra.x.defined() ? extra.x.to(device()) : Tensor(),
                                  reference_labels, c, efm_sigma_min()));
  }
  if (spec_.loss == Loss::efm)
    return flows::cfm_loss(v, flows::efm_target(ps.xt, t, x1, refs.points, efm_sigma_min()));
  return flows::cfm_loss(v, ps.ut);
}

Trainer::References Trainer::draw_references() {
  References refs;
  if (spec_.loss == Loss::efm && spec_.conditional) {
    if (spec_.efm_extra > 0) refs.class_points = draw_batch(spec_.efm_extra);
  } else if (spec_.loss == Loss::efm ||
             (spec_.loss == Loss::entropic && spec_.tilt == EntropicTilt::point)) {
    refs.points = extra_references();
  }
  return refs;
}

Tensor Trainer::tilted_loss(const Tensor& per_sample, const Tensor& t, double lambda) const {
  switch (spec_.tilt) {
    case EntropicTilt::time_bins:
      return flows::grouped_entropic_loss(per_sample, flows::time_bin_groups(t, spec_.tilt_bins),
                                          lambda);
    case EntropicTilt::late:
      return flows::grouped_entropic_loss(per_sample, flows::late_groups(t, spec_.tilt_from),
                                          lambda);
    default:  // batch (the per-point tilt does not aggregate rows)
      return flows::entropic_loss(per_sample, lambda);
  }
}

flows::FdmOptions Trainer::fdm_options(std::int64_t dim) const {
  flows::FdmOptions o = spec_.fdm_official ? flows::fdm_official_options(dim, spec_.fdm_weight)
                                           : flows::FdmOptions{.w_div = spec_.fdm_weight};
  o.exact_divergence = spec_.exact_divergence;
  o.probes = spec_.probes;
  o.probe = spec_.probe;
  return o;
}

double Trainer::efm_sigma_min() const {
  return path_.kind() == flows::PathKind::lipman ? path_.sigma() : 0.0;
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
  // A sharded step forms the loss and its parts on the host from the shards' values, while
  // the gradients' sums stay where they are: every part goes to the gradients' device first.
  const Device where = grads.empty() ? parts[0].device() : parts.back().device();
  for (Tensor& part : parts)
    if (part.device() != where) part = part.to(where);
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
  const auto named = model_.module->named_parameters();
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
  const std::int64_t b = spec_.batch, d = dataset_->dim();
  Tensor x0, x1, c;
  if (spec_.coupling == Coupling::fixed) {
    const std::vector<std::int64_t> idx = training_rows(b);
    x0 = flows::take_rows(train_x0_, idx);
    x1 = flows::take_rows(train_x1_, idx);
  } else {
    flows::Dataset::Labeled batch = draw_batch(b);
    x1 = batch.x;
    c = batch.c;
    x0 = randn({b, d}, gen_);
    if (spec_.coupling == Coupling::ot && condition_.kind == flows::ConditionKind::labels)
      x1 = flows::couple_within_classes(x0, x1, c).x1;  // a row keeps its label
    else if (spec_.coupling == Coupling::ot)
      x1 = flows::couple(flows::CouplingKind::minibatch_ot, x0, x1).x1;
  }
  const Tensor labels = c;  // before dropout: the data's own classes (conditional EFM's references)
  if (spec_.conditional && spec_.cond_drop > 0) {
    // Condition dropout: these rows learn the null condition, which guidance contrasts with.
    std::vector<bool> keep(static_cast<std::size_t>(b));
    for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = gen_.uniform() >= spec_.cond_drop;
    c = flows::drop_condition(condition_, c, keep);
  }
  // Drawn on the host from gen_ whatever the device (the same batches as a cpu run), then moved.
  x0 = x0.to(device());
  x1 = x1.to(device());
  const Tensor t = rand({b, 1}, gen_).to(device());
  const double lambda = lambda_at(s);
  const double lr = schedule_(s);
  optimizer_->set_lr(lr);
  last_cfm_ = last_divergence_ = Tensor();
  if (spec_.shards > 1) return sharded_step({x0, x1, t, c, labels}, s, lambda, lr);
  auto [loss, grads] = nn::loss_and_grad(model_.module->parameters(),
                                         [&] { return loss_for(x0, x1, t, c, labels, lambda); });
  StepReport report{s + 1, 0.0, lambda, lr};
  read_step(loss, grads, report);
  if (spec_.grad_clip > 0) nn::clip_grad_norm(grads, spec_.grad_clip);
  optimizer_->step(grads);
  return report;
}

TrainOutcome Trainer::train(const TrainCallbacks& callbacks) {
  const auto checkpoint = [&] {
    if (callbacks.checkpoint) callbacks.checkpoint(*this);
  };
  while (steps_done() < spec_.steps) {
    const StepReport r = step();
    if (callbacks.on_step) callbacks.on_step(r);
    const bool last = r.step >= spec_.steps;
    if (!last && spec_.checkpoint_every > 0 && r.step % spec_.checkpoint_every == 0) checkpoint();
    if (callbacks.evaluate && callbacks.evaluate_every > 0 &&
        r.step % callbacks.evaluate_every == 0)
      callbacks.evaluate(*this);
    bool stop = !last && callbacks.stop && callbacks.stop();
    if (!last && collective_ && collective_->size() > 1) {
      // Every rank stops at the same step, or the others would wait for it forever: any
      // rank's stop (a signal reaches them at different steps) stops all.
      const double mine = stop ? 1.0 : 0.0;
      for (double v : all_gather_values(*collective_, {&mine, 1})) stop = stop || v != 0;
    }
    if (stop) {
      checkpoint();
      return TrainOutcome::stopped;
    }
  }
  checkpoint();
  return TrainOutcome::finished;
}

void Trainer::distribute(std::shared_ptr<Collective> collective) {
  if (!collective) {
    collective_.reset();
    return;
  }
  // First the agreement (every rank reaches it, whatever its spec), then the checks that
  // depend on the spec, which all ranks then share.
  require_agreement(
      *collective,
      rank_identity(spec_).dump() + "\n" + data_fingerprint_ + "\n" + training_set_fingerprint_,
      "the training configuration and data");
  std::ostringstream state;
  state << steps_done() << ' ' << gen_.key() << ' ' << gen_.counter() << ' ' << gen_.stream();
  require_agreement(*collective, state.str(),
                    "the training state (step and random stream: resume every rank from the "
                    "same checkpoint)");
  const int n = collective->size();
  if (n > 1 && (!std::has_single_bit(static_cast<unsigned>(n)) || spec_.shards % n != 0))
    throw std::invalid_argument(
        std::to_string(n) + " ranks: the rank count must be a power of two dividing shards (" +
        std::to_string(spec_.shards) +
        "); set shards (--shards) to a multiple of it. The shard count fixes the computation: "
        "shards 4 on 1, 2 or 4 ranks writes the same checkpoint");
  collective_ = std::move(collective);
}

void Trainer::save(const std::string& path) const {
  // "The last good checkpoint" must be good: weights that an update made non-finite are not
  // written, and the file keeps the previous checkpoint.
  for (const auto& [name, p] : model_.module->named_parameters())
    for (double v : p.to_vector())
      if (!std::isfinite(v)) {
        std::ostringstream m;
        m << "training stopped at step " << steps_done() << ": the parameter '" << name << "' is "
          << v << " after the update; " << path << " was not overwritten";
        throw TrainingError(m.str(), steps_done());
      }
  nn::Metadata meta;
  meta["config"] = to_json(spec_);
  if (!model_.architecture.empty()) meta["architecture"] = model_.architecture;
  std::ostringstream g;
  g << gen_.key() << ' ' << gen_.counter() << ' ' << gen_.stream();
  meta["generator"] = g.str();
  meta["trainer_step"] = std::to_string(steps_done());
  if (!standardization_.empty())
    meta["standardization"] =
        nlohmann::json{{"mean", standardization_.mean}, {"scale", standardization_.scale}}.dump();
  if (!data_fingerprint_.empty()) meta["data_fingerprint"] = data_fingerprint_;
  if (!training_set_fingerprint_.empty()) meta["training_set"] = training_set_fingerprint_;
  if (spec_.conditional) meta["condition"] = condition_json(condition_).dump();
  nn::save_checkpoint(path, *model_.module, optimizer_.get(), meta);
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
  const TrainSpec saved = spec_from_metadata(meta, checkpoint_path);
  if (training_identity(saved) != training_identity(spec_)) {
    throw std::invalid_argument("resume: " + checkpoint_path +
                                " was written by a different training configuration:\n  file: " +
                                training_identity(saved).dump() +
                                "\n  this run: " + training_identity(spec_).dump());
  }
  std::uint64_t key = 0, counter = 0, stream = 0;
  std::istringstream g(meta.at("generator"));
  if (!(g >> key >> counter >> stream)) {
    throw std::invalid_argument("resume: bad generator state '" + meta.at("generator") + "' in " +
                                checkpoint_path);
  }
  const auto fingerprint = meta.find("data_fingerprint");
  if (fingerprint != meta.end() && !data_fingerprint_.empty() &&
      fingerprint->second != data_fingerprint_)
    throw std::invalid_argument("resume: " + checkpoint_path + " was trained on other data than " +
                                spec_.data + " holds now (its values changed)");
  // The fixed training set is drawn again from the seed; it must be the one trained on. A
  // checkpoint without the record predates drawing it without replacement from a finite
  // dataset, so that draw differs now.
  if (const auto set = meta.find("training_set"); !training_set_fingerprint_.empty()) {
    if (set != meta.end() ? set->second != training_set_fingerprint_ : training_set_distinct_)
      throw std::invalid_argument("resume: " + checkpoint_path +
                                  " was trained on another fixed training set than this run "
                                  "draws (written by an older flowtape, or from other data)");
  }
  Standardization standardization = standardization_;
  if (const auto it = meta.find("standardization"); it != meta.end()) {
    try {
      const nlohmann::json j = nlohmann::json::parse(it->second);
      standardization.mean = j.at("mean").get<std::vector<double>>();
      standardization.scale = j.at("scale").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument("resume: " + checkpoint_path +
                                  ": unreadable standardization: " + e.what());
    }
    const auto d = static_cast<std::size_t>(dataset_->dim());
    bool ok = standardization.mean.size() == d && standardization.scale.size() == d;
    for (double s : standardization.scale) ok = ok && std::isfinite(s) && s > 0;
    for (double m : standardization.mean) ok = ok && std::isfinite(m);
    if (!ok)
      throw std::invalid_argument("resume: " + checkpoint_path +
                                  ": its standardization does not fit " + std::to_string(d) +
                                  " finite columns with positive scales");
  }
  nn::load_checkpoint(file, checkpoint_path, *model_.module, optimizer_.get());
  gen_ = Generator::from_state(key, counter, stream);
  standardization_ = std::move(standardization);
  // Resumed with other steps, the run keeps its schedule's horizon unless schedule_steps sets
  // one (spec.hpp), as the command line does: the decay and the lambda ramp go on from where
  // they were instead of jumping back.
  if (spec_.schedule_steps == 0 && has_horizon(spec_) &&
      schedule_horizon(saved) != schedule_horizon(spec_)) {
    spec_.schedule_steps = schedule_horizon(saved);
    schedule_ = lr_schedule_of(spec_);
  }
}

}  // namespace flowtape::train

// SPDX-License-Identifier: MIT
// The Trainer's reliability contract (train/trainer.hpp): a non-finite loss or gradient
// stops training naming the step and the quantity and leaves the last checkpoint as it was;
// a resumed run ends bit-identical to one that was never interrupted.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "flowtape/flows/condition.hpp"
#include "flowtape/flows/sample.hpp"
#include "flowtape/nn/atomic_file.hpp"
#include "flowtape/train/metrics_log.hpp"
#include "flowtape/train/run_folder.hpp"
#include "train/support.hpp"

using namespace flowtape;
using namespace flowtape::train;
using namespace flowtape::train::test;

BOOST_AUTO_TEST_SUITE(trainer)

// Adam moves every weight by about lr per step, so lr = 1e30 overflows float32 activations
// within a couple of steps: a real divergence, no test hook.
BOOST_AUTO_TEST_CASE(non_finite_loss_stops_and_keeps_the_last_checkpoint) {
  Scratch scratch;
  const std::string ckpt = scratch / "model.safetensors";
  TrainSpec c = small_config("cfm");
  c.lr = 1e30;
  c.steps = 50;
  c.checkpoint_every = 1;
  Trainer trainer(c);
  std::int64_t stopped_at = 0;
  std::string message;
  try {
    trainer.train({.checkpoint = [&](const Trainer& t) { t.save(ckpt); }});
  } catch (const TrainingError& e) {
    stopped_at = e.step();
    message = e.what();
  }
  BOOST_TEST_MESSAGE("message: " << message);
  BOOST_REQUIRE_MESSAGE(stopped_at >= 2, "training did not stop (or stopped at step 1)");
  BOOST_TEST(message.find("training stopped at step " + std::to_string(stopped_at)) !=
             std::string::npos);
  BOOST_TEST((message.find("the loss is") != std::string::npos ||
              message.find("the gradient of ") != std::string::npos));
  // The bad update was not applied ...
  BOOST_TEST(trainer.steps_done() == stopped_at - 1);
  // ... and the file holds exactly the checkpoint of the last good step: the same bytes as an
  // independent run stopped there.
  TrainSpec good = c;
  Trainer reference(good);
  for (std::int64_t s = 1; s < stopped_at; ++s) reference.step();
  reference.save(scratch / "reference.safetensors");
  BOOST_TEST((read_bytes(ckpt) == read_bytes(scratch / "reference.safetensors")));
  // No temporary of a refused save is left (write_file_atomic names them PATH.tmp.PID.N).
  for (const auto& entry : std::filesystem::directory_iterator(scratch.dir))
    BOOST_TEST(entry.path().filename().string().find(".tmp.") == std::string::npos,
               "left behind: " << entry.path());
}

BOOST_AUTO_TEST_CASE(step_reports_the_gradient_or_loss_of_a_poisoned_model) {
  // A NaN weight makes the very first loss non-finite: the error names step 1.
  Trainer trainer(small_config("cfm"));
  Tensor w = trainer.module().parameters().front();
  w.mutable_data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  BOOST_CHECK_EXCEPTION(trainer.step(), TrainingError, [](const TrainingError& e) {
    BOOST_TEST_MESSAGE("message: " << e.what());
    return e.step() == 1 &&
           std::string(e.what()).find("training stopped at step 1: the loss is") == 0;
  });
  BOOST_TEST(trainer.steps_done() == 0);
}

// Trains N steps with a checkpoint every N/2 in one Trainer; a fresh Trainer resumes from the
// N/2 checkpoint and trains to N: the weights must have the same bits.
void check_resume(const std::string& loss) {
  Scratch scratch;
  TrainSpec c = small_config(loss);
  c.steps = 6;
  c.checkpoint_every = 3;
  const std::string ckpt = scratch / "model.safetensors", half = scratch / "half.safetensors";
  Trainer full(c);
  full.train({
      .on_step =
          [&](const StepReport& r) {
            // At step 4 the file still holds the step-3 checkpoint (rewritten at the end).
            if (r.step == 4) std::filesystem::copy_file(ckpt, half);
          },
      .checkpoint = [&](const Trainer& t) { t.save(ckpt); },
  });
  BOOST_REQUIRE(std::filesystem::exists(half));

  Trainer resumed(c);
  resumed.resume(half);
  BOOST_TEST(resumed.steps_done() == 3);
  BOOST_TEST(!same_weights(resumed.module(), full.module()));  // the test can fail
  resumed.train();
  BOOST_TEST(resumed.steps_done() == 6);
  BOOST_TEST(same_weights(resumed.module(), full.module()), loss << ": resumed run differs");
}

// Resumed with more steps, a run keeps its cosine horizon (the learning rate goes on from
// where it was instead of jumping back up), unless schedule_steps sets another.
BOOST_AUTO_TEST_CASE(a_resumed_run_keeps_its_schedule_horizon) {
  Scratch scratch;
  TrainSpec c = small_config("cfm");
  c.schedule = LrSchedule::cosine;
  c.steps = 4;
  Trainer first(c);
  first.train();
  first.save(scratch / "four.safetensors");
  TrainSpec longer = c;
  longer.steps = 8;
  Trainer resumed(longer);
  resumed.resume(scratch / "four.safetensors");
  BOOST_TEST(resumed.spec().schedule_steps == 4);
  TrainSpec stretched = longer;
  stretched.schedule_steps = 8;
  Trainer own(stretched);
  own.resume(scratch / "four.safetensors");
  BOOST_TEST(own.spec().schedule_steps == 8);
  // The steps after the resume use that horizon, not only the field: an entropic run with a
  // cosine learning rate and a lambda ramp, resumed from 4 to 8 steps, takes each step's lr and
  // lambda from an uninterrupted run whose horizon is 4.
  TrainSpec e = small_config("entropic");
  e.schedule = LrSchedule::cosine;
  e.lambda_max = 1.0;
  e.ramp_end = 1.0;
  e.steps = 4;
  Trainer short_run(e);
  short_run.train();
  short_run.save(scratch / "entropic.safetensors");
  e.steps = 8;
  Trainer continued(e);
  continued.resume(scratch / "entropic.safetensors");
  TrainSpec pinned = e;
  pinned.schedule_steps = 4;
  Trainer whole(pinned);
  std::vector<std::pair<double, double>> want, got;
  whole.train({.on_step = [&](const StepReport& r) {
    if (r.step > 4) want.emplace_back(r.lr, r.lambda);
  }});
  continued.train({.on_step = [&](const StepReport& r) { got.emplace_back(r.lr, r.lambda); }});
  BOOST_TEST_REQUIRE(got.size() == 4u);
  BOOST_TEST_REQUIRE(want.size() == 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(got[i].first == want[i].first, "lr at step " << i + 5);
    BOOST_TEST(got[i].second == want[i].second, "lambda at step " << i + 5);
  }
  BOOST_TEST(got.back().second == 1.0);  // the ramp ended at step 4
}

BOOST_AUTO_TEST_CASE(resume_is_bit_identical_cfm) {
  check_resume("cfm");
}
BOOST_AUTO_TEST_CASE(resume_is_bit_identical_entropic) {
  check_resume("entropic");
}
BOOST_AUTO_TEST_CASE(resume_is_bit_identical_fdm) {
  check_resume("fdm");
}
BOOST_AUTO_TEST_CASE(resume_is_bit_identical_efm) {
  check_resume("efm");
}

// --fdm-official: the official code's loss (its report's loss is its weighted sum, not
// cfm + fdm_weight * divergence), differs from the paper-level FDM, and the step schedule's
// learning rates are StepLR's after the warm-up.
BOOST_AUTO_TEST_CASE(official_fdm_loss_and_step_schedule) {
  TrainSpec c = small_config("fdm");
  c.steps = 12;
  c.schedule = LrSchedule::step;
  c.warmup = 2;
  c.lr_decay = 0.5;
  c.lr_decay_every = 5;
  std::vector<StepReport> paper, official;
  Trainer a(c);
  a.train({.on_step = [&](const StepReport& r) { paper.push_back(r); }});
  c.fdm_official = true;
  Trainer b(c);
  b.train({.on_step = [&](const StepReport& r) { official.push_back(r); }});
  BOOST_REQUIRE(official.size() == 12u);
  // Same weights at step 1, so the same cfm and divergence terms, but a different total.
  BOOST_TEST(official[0].cfm == paper[0].cfm);
  BOOST_TEST(official[0].divergence == paper[0].divergence);
  BOOST_TEST(std::abs(paper[0].loss - (paper[0].cfm + 0.1 * paper[0].divergence)) <
             1e-6 * paper[0].loss);
  BOOST_TEST(official[0].loss > 0.7 * official[0].cfm + 0.1 * official[0].divergence);
  const std::vector<double> lr = {0.5, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25};
  for (std::size_t i = 0; i < lr.size(); ++i)
    BOOST_TEST(official[i].lr == c.lr * lr[i], boost::test_tools::tolerance(1e-15));
}

// A fixed training set is drawn again from the seed on resume; a checkpoint records which one
// it trained on, and one without the record (written before training sets were drawn without
// replacement from a finite dataset) is refused rather than resumed on other rows.
BOOST_AUTO_TEST_CASE(resume_checks_the_fixed_training_set) {
  Scratch scratch;
  const std::string ckpt = scratch / "model.safetensors";
  Generator gen(4);
  const auto data = std::make_shared<flows::TensorDataset>(randn({40, 2}, gen));
  TrainSpec c = small_config("cfm");
  c.train_size = 16;
  c.steps = 3;
  Trainer a(c, data, {});
  a.train();
  a.save(ckpt);
  nn::SafetensorsContents file = nn::load_safetensors(ckpt);
  BOOST_REQUIRE(file.metadata.count("training_set") == 1u);
  Trainer b(c, data, {});
  b.resume(file, ckpt);  // the same draw: accepted
  BOOST_TEST(b.steps_done() == 3);
  file.metadata.erase("training_set");
  Trainer old(c, data, {});
  BOOST_CHECK_EXCEPTION(
      old.resume(file, ckpt), std::invalid_argument, [](const std::invalid_argument& e) {
        return std::string(e.what()).find("another fixed training set") != std::string::npos;
      });
}

// A user dataset's name becomes the run's dataset name, so it is held to the spec's rule (1
// to 64 characters): an empty one trained and saved, and then its checkpoint did not load.
BOOST_AUTO_TEST_CASE(a_user_datasets_name_is_checked) {
  Generator gen(4);
  const TrainSpec c = small_config("cfm");
  for (const std::string& bad : {std::string(), std::string(65, 'n')}) {
    const auto data = std::make_shared<flows::TensorDataset>(randn({40, 2}, gen), Tensor(), bad);
    BOOST_CHECK_EXCEPTION(
        Trainer(c, data, {}), std::invalid_argument, [](const std::invalid_argument& e) {
          return std::string(e.what()).find("a name of 1 to 64 characters") != std::string::npos;
        });
  }
  const auto named = std::make_shared<flows::TensorDataset>(randn({40, 2}, gen), Tensor(), "mine");
  BOOST_TEST(Trainer(c, named, {}).spec().dataset == "mine");
}

// The entropic tilt variants are different objectives: the same seed trains different weights
// under each, and a late tilt that starts at t = 0.999 (almost no row tilted) stays close to
// plain CFM while the batch tilt does not.
BOOST_AUTO_TEST_CASE(entropic_tilt_variants_train_differently) {
  const auto trained = [](Loss loss, EntropicTilt tilt, double from) {
    TrainSpec c = small_config("entropic");
    c.loss = loss;
    c.lambda_max = tilt == EntropicTilt::point ? 0.4 : 1.0;  // the point tilt needs < 1/2
    c.ramp_end = 0;
    c.tilt = tilt;
    c.tilt_from = from;
    c.steps = 20;
    Trainer t(c);
    t.train();
    return t.module().parameters()[0].to_vector();
  };
  const auto cfm = trained(Loss::cfm, EntropicTilt::batch, 0.8);
  const auto batch = trained(Loss::entropic, EntropicTilt::batch, 0.8);
  const auto bins = trained(Loss::entropic, EntropicTilt::time_bins, 0.8);
  const auto late = trained(Loss::entropic, EntropicTilt::late, 0.8);
  const auto hardly = trained(Loss::entropic, EntropicTilt::late, 0.999);
  const auto point = trained(Loss::entropic, EntropicTilt::point, 0.8);
  const auto gap = [](const std::vector<double>& a, const std::vector<double>& b) {
    double g = 0;
    for (std::size_t i = 0; i < a.size(); ++i) g = std::max(g, std::abs(a[i] - b[i]));
    return g;
  };
  BOOST_TEST(gap(batch, bins) > 0);
  BOOST_TEST(gap(batch, late) > 0);
  BOOST_TEST(gap(bins, late) > 0);
  BOOST_TEST(gap(point, batch) > 0);
  BOOST_TEST(gap(hardly, cfm) < 0.1 * gap(batch, cfm));
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_different_configuration) {
  Scratch scratch;
  Trainer a(small_config("cfm"));
  a.step();
  a.save(scratch / "a.safetensors");
  TrainSpec other = small_config("cfm");
  other.hidden = 8;
  Trainer b(other);
  BOOST_CHECK_EXCEPTION(b.resume(scratch / "a.safetensors"), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("different training configuration") !=
                                 std::string::npos;
                        });
  BOOST_TEST(b.steps_done() == 0);
  // Settings the run's schedule does not read are not compared: a constant-rate run resumes
  // with another step decay and warm-up (it trains the same), a step-decay run does not.
  TrainSpec same = small_config("cfm");
  same.lr_decay = 0.5;
  same.lr_decay_every = 3;
  same.warmup = 2;
  Trainer c(same);
  BOOST_CHECK_NO_THROW(c.resume(scratch / "a.safetensors"));
  TrainSpec decaying = small_config("cfm");
  decaying.schedule = LrSchedule::step;
  Trainer d(decaying);
  d.step();
  d.save(scratch / "d.safetensors");
  decaying.lr_decay = 0.5;
  Trainer e(decaying);
  BOOST_CHECK_THROW(e.resume(scratch / "d.safetensors"), std::invalid_argument);
}

// A checkpoint's recorded config is input too: missing or broken, it is refused naming the
// file (it used to escape as std::out_of_range "map::at" or a bare nlohmann parse error).
BOOST_AUTO_TEST_CASE(a_checkpoint_without_a_readable_config_is_refused_by_name) {
  Scratch scratch;
  Trainer a(small_config("cfm"));
  const std::string plain = scratch / "plain.safetensors", broken = scratch / "broken.safetensors";
  nn::save_checkpoint(plain, a.module());
  nn::save_checkpoint(broken, a.module(), nullptr,
                      {{"config", "{\"lr\": 1e400}"}, {"generator", "1 2 3"}});
  auto says = [](const std::string& part) {
    return [part](const std::invalid_argument& e) {
      BOOST_TEST_MESSAGE("message: " << e.what());
      return std::string(e.what()).find(part) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(train::spec_from_checkpoint(plain), std::invalid_argument,
                        says("plain.safetensors is not a flowtape training checkpoint"));
  BOOST_CHECK_EXCEPTION(train::spec_from_checkpoint(broken), std::invalid_argument,
                        says("broken.safetensors: config: not valid JSON"));
  BOOST_CHECK_EXCEPTION(a.resume(broken), std::invalid_argument,
                        says("broken.safetensors: config: not valid JSON"));
}

// A model of the user's own (any module with operator()(x, t)) on a dataset of the user's own:
// the same loop trains it, checkpoints it (with no architecture recorded) and resumes it.
namespace {
class ShiftField : public nn::Module {  // v(x, t) = x A + b: enough to learn a mean shift
 public:
  explicit ShiftField(Generator& gen)
      : layer_(register_module("layer", std::make_shared<nn::Linear>(2, 2, gen))) {}
  Tensor operator()(const Tensor& x, const Tensor& /*t*/) const { return (*layer_)(x); }

 private:
  std::shared_ptr<nn::Linear> layer_;
};
}  // namespace

BOOST_AUTO_TEST_CASE(trains_a_users_model_on_a_users_dataset) {
  Scratch scratch;
  TrainSpec c = small_config("cfm");
  c.steps = 300;
  c.lr = 0.05;
  c.batch = 128;
  auto data = std::make_shared<flows::Gaussian>(std::vector<double>{3.0, -2.0},
                                                std::vector<double>{1.0, 0.0, 0.0, 1.0});
  Generator init(5);
  auto make = [&] { return VelocityModel::of(std::make_shared<ShiftField>(init)); };
  Trainer trainer(c, data, make());
  BOOST_TEST(trainer.spec().dataset == "gaussian");
  BOOST_TEST(trainer.architecture().empty());
  int evaluations = 0;
  trainer.train({.evaluate_every = 100, .evaluate = [&](Trainer&) { ++evaluations; }});
  BOOST_TEST(evaluations == 3);
  // Independent coupling, rectified path: the optimal affine field moves N(0, I) onto
  // N(m, I), so samples end near the mean m = (3, -2).
  Generator gen(6);
  const Tensor x1 = flows::sample(trainer.field(), randn({2000, 2}, gen)).x;
  const std::vector<double> m = mean(x1, 0).to_vector();
  BOOST_TEST(std::abs(m[0] - 3.0) < 0.15);
  BOOST_TEST(std::abs(m[1] + 2.0) < 0.15);

  trainer.save(scratch / "own.safetensors");
  BOOST_TEST(!nn::load_safetensors(scratch / "own.safetensors").metadata.count("architecture"));
  Trainer again(c, data, make());
  again.resume(scratch / "own.safetensors");
  BOOST_TEST(same_weights(again.module(), trainer.module()));
}

// A conditional run on 8gaussians' component labels: samples asked for class k land on
// component k. A model that ignored its condition would put every class's mean near the
// origin, 5 from each centre.
BOOST_AUTO_TEST_CASE(a_conditional_model_follows_its_condition) {
  TrainSpec c = small_config("cfm");
  c.dataset = "8gaussians";
  c.conditional = true;
  c.coupling = Coupling::ot;  // within classes
  c.hidden = 64;
  c.batch = 256;
  c.steps = 600;
  c.lr = 3e-3;
  Trainer trainer(c);
  BOOST_TEST((trainer.condition() == flows::ConditionSpec{flows::ConditionKind::labels, 8, 0}));
  BOOST_TEST(nlohmann::json::parse(trainer.architecture()).at("condition").at("classes") == 8);
  trainer.train();
  Generator gen(11);
  for (const int k : {0, 3, 6}) {
    const Tensor label = from_vector(std::vector<double>{double(k)}, Shape{1}, DType::i64);
    const Tensor labels = flows::repeat_condition(trainer.condition(), label, 400);
    const std::vector<double> m =
        mean(flows::sample(trainer.field_for(labels), randn({400, 2}, gen)).x, 0).to_vector();
    const double angle = 2 * 3.141592653589793 * k / 8;
    const double gap = std::hypot(m[0] - 5 * std::cos(angle), m[1] - 5 * std::sin(angle));
    BOOST_TEST_MESSAGE("class " << k << ": mean (" << m[0] << ", " << m[1] << "), " << gap
                                << " from its centre");
    BOOST_TEST(gap < 1.0);
  }
  // Trained with condition dropout, the null condition gives the whole mixture.
  const std::vector<double> all =
      mean(flows::sample(trainer.field(), randn({2000, 2}, gen)).x, 0).to_vector();
  BOOST_TEST(std::hypot(all[0], all[1]) < 1.5);
}

// Context vectors: points at (3 c, 0) plus noise, for a scalar context c in [-1, 1]. Asked for
// c = 1 and c = -1, the model's samples sit at x = 3 and x = -3 (ignoring c: near 0).
BOOST_AUTO_TEST_CASE(a_context_conditioned_model_follows_its_context) {
  Generator data_gen(4);
  const std::int64_t n = 4000;
  const Tensor context = rand({n, 1}, data_gen) * 2.0 - 1.0;
  const Tensor points = concat({context * 3.0, zeros({n, 1})}, 1) + randn({n, 2}, data_gen) * 0.3;
  auto data = std::make_shared<flows::TensorDataset>(points, context, "shifted");
  BOOST_TEST((data->condition() == flows::ConditionSpec{flows::ConditionKind::context, 0, 1}));
  TrainSpec c = small_config("cfm");
  c.conditional = true;
  c.hidden = 64;
  c.batch = 256;
  c.steps = 600;
  c.lr = 3e-3;
  Trainer trainer(c, data, {});
  trainer.train();
  Generator gen(12);
  for (const double want : {1.0, -1.0}) {
    const Tensor ctx = full(Shape{400, 1}, want);
    const std::vector<double> m =
        mean(flows::sample(trainer.field_for(ctx), randn({400, 2}, gen)).x, 0).to_vector();
    BOOST_TEST_MESSAGE("context " << want << ": mean (" << m[0] << ", " << m[1] << ")");
    BOOST_TEST(std::abs(m[0] - 3 * want) < 0.5);
  }
  // A row is "no condition" only when all of it is NaN; an infinite context is refused.
  const Tensor infinite =
      from_vector(std::vector<double>{0.5, std::numeric_limits<double>::infinity()}, Shape{2, 1});
  BOOST_CHECK_THROW(trainer.conditional_field()(randn({2, 2}, gen), rand({2, 1}, gen), infinite),
                    std::invalid_argument);
  // Guidance needs the null condition trained: with cond_drop 0 it is refused when the trainer
  // is made, not at the first sample after training.
  TrainSpec no_drop = c;
  no_drop.cond_drop = 0;
  no_drop.guidance = 2;
  no_drop.steps = 1;
  BOOST_CHECK_EXCEPTION(Trainer(no_drop, data, {}), std::invalid_argument, [](const auto& e) {
    return std::string(e.what()).find("cond_drop > 0") != std::string::npos;
  });
  // OT cannot pair within a context: refused with the reason.
  c.coupling = Coupling::ot;
  BOOST_CHECK_EXCEPTION(Trainer(c, data, {}), std::invalid_argument, [](const auto& e) {
    return std::string(e.what()).find("within a class") != std::string::npos;
  });
}

// Conditional EFM: the closed form per class over a fixed training set also puts each class
// on its component.
BOOST_AUTO_TEST_CASE(conditional_efm_follows_its_class) {
  TrainSpec c = small_config("efm");
  c.dataset = "8gaussians";
  c.conditional = true;
  c.train_size = 512;
  c.efm_extra = 128;
  c.hidden = 64;
  c.batch = 256;
  c.steps = 600;
  c.lr = 3e-3;
  Trainer trainer(c);
  trainer.train();
  Generator gen(14);
  const Tensor labels = full(Shape{400}, 6.0, DType::i64);  // component 6 sits at (0, -5)
  const std::vector<double> m =
      mean(flows::sample(trainer.field_for(labels), randn({400, 2}, gen)).x, 0).to_vector();
  BOOST_TEST_MESSAGE("class 6: mean (" << m[0] << ", " << m[1] << ")");
  BOOST_TEST(std::hypot(m[0], m[1] + 5) < 1.0);
}

// FiLM conditioning trains through the same loop and also follows its class.
BOOST_AUTO_TEST_CASE(film_conditioning_follows_its_class) {
  TrainSpec c = small_config("fdm");  // FDM: the divergence of v(., t, c) on each row's class
  c.dataset = "8gaussians";
  c.conditional = true;
  c.conditioning = Conditioning::film;
  c.hidden = 64;
  c.batch = 256;
  c.steps = 600;
  c.lr = 3e-3;
  Trainer trainer(c);
  BOOST_TEST(nlohmann::json::parse(trainer.architecture()).at("conditioning") == "film");
  trainer.train();
  Generator gen(13);
  const Tensor labels = full(Shape{400}, 4.0, DType::i64);  // component 4 sits at (-5, 0)
  const std::vector<double> m =
      mean(flows::sample(trainer.field_for(labels), randn({400, 2}, gen)).x, 0).to_vector();
  BOOST_TEST_MESSAGE("class 4: mean (" << m[0] << ", " << m[1] << ")");
  BOOST_TEST(std::hypot(m[0] + 5, m[1]) < 1.0);
}

// stop() ends training early, after a final checkpoint; the outcome says so.
BOOST_AUTO_TEST_CASE(stop_ends_training_after_a_checkpoint) {
  TrainSpec c = small_config("cfm");
  c.steps = 20;
  Trainer trainer(c);
  std::vector<std::int64_t> checkpoints;
  const TrainOutcome outcome = trainer.train({
      .checkpoint = [&](const Trainer& t) { checkpoints.push_back(t.steps_done()); },
      .stop = [&] { return trainer.steps_done() == 7; },
  });
  BOOST_TEST((outcome == TrainOutcome::stopped));
  BOOST_TEST(trainer.steps_done() == 7);
  BOOST_TEST((checkpoints == std::vector<std::int64_t>{7}));
  c.checkpoint_every = 4;
  Trainer every(c);
  checkpoints.clear();
  BOOST_TEST((every.train({.checkpoint = [&](const Trainer& t) {
    checkpoints.push_back(t.steps_done());
  }}) == TrainOutcome::finished));
  BOOST_TEST((checkpoints == std::vector<std::int64_t>{4, 8, 12, 16, 20}));
}

// A checkpoint records the architecture: sizes, activation, time embedding and every
// parameter's name and shape, each matching a tensor in the file.
BOOST_AUTO_TEST_CASE(checkpoint_records_the_architecture) {
  Scratch scratch;
  TrainSpec c = small_config("cfm");
  c.hidden = 12;
  c.depth = 3;
  Trainer trainer(c);
  trainer.save(scratch / "model.safetensors");
  const nn::SafetensorsContents file = nn::load_safetensors(scratch / "model.safetensors");
  const nlohmann::json a = nlohmann::json::parse(file.metadata.at("architecture"));
  BOOST_TEST(a.at("model").get<std::string>() == "VelocityMLP");
  BOOST_TEST(a.at("hidden").get<std::int64_t>() == 12);
  BOOST_TEST(a.at("depth").get<std::int64_t>() == 3);
  BOOST_TEST(a.at("input_dim").get<std::int64_t>() == trainer.dataset().dim());
  BOOST_TEST(a.at("parameters").size() == trainer.module().named_parameters().size());
  for (const auto& [name, dims] : a.at("parameters").items()) {
    bool found = false;
    for (const auto& [tensor_name, t] : file.tensors) {
      if (tensor_name.size() < name.size() ||
          tensor_name.compare(tensor_name.size() - name.size(), name.size(), name) != 0)
        continue;
      found = true;
      BOOST_TEST(dims.size() == static_cast<std::size_t>(t.rank()), name);
      for (int d = 0; d < t.rank(); ++d)
        BOOST_TEST(dims[static_cast<std::size_t>(d)].get<std::int64_t>() == t.shape()[d], name);
    }
    BOOST_TEST(found, "no tensor for parameter " << name);
  }
}

// A resumed log keeps the rows up to the checkpoint's step, and stops at a row left half
// written, so that it never holds a truncated row.
BOOST_AUTO_TEST_CASE(a_resumed_metrics_log_keeps_whole_rows_up_to_the_checkpoint) {
  const Scratch scratch;
  const std::string path = scratch / "metrics.csv";
  const std::string header = std::string(MetricsLog::kHeader) + "\n";
  const std::string row1 = "1,0.5,2,,,0.001,0,3\n", row2 = "2,1,1.5,,,0.001,0,2\n";
  nn::write_file_atomic(path, header + row1 + row2 + "3,1.5,1.2,,,0.001,0,1\n");
  { MetricsLog log(path, 2); }
  BOOST_TEST(read_bytes(path) == header + row1 + row2);
  nn::write_file_atomic(path, header + row1 + "2,1,1.5\n" + row2);
  { MetricsLog log(path, 2); }
  BOOST_TEST(read_bytes(path) == header + row1);
  // Every column there, the last one cut short: no newline, so not kept.
  nn::write_file_atomic(path, header + row1 + "2,1,1.5,,,0.001,0,1.2");
  { MetricsLog log(path, 2); }
  BOOST_TEST(read_bytes(path) == header + row1);
}

// Keeping fewer than one numbered checkpoint is refused (0 deleted the one just written, and
// a negative count wrapped to keeping all).
BOOST_AUTO_TEST_CASE(save_checkpoint_needs_keep_of_at_least_one) {
  const Scratch scratch;
  Trainer t(small_config("cfm"));
  t.step();
  const RunFolder folder(scratch / "run", RunFolder::Existing::refuse);
  BOOST_CHECK_THROW(folder.save_checkpoint(t, 1, 0), std::invalid_argument);
  BOOST_CHECK_THROW(folder.save_checkpoint(t, 1, -1), std::invalid_argument);
  folder.save_checkpoint(t, 1, 1);
  BOOST_TEST(std::filesystem::exists(scratch / "run/checkpoints/step-1.safetensors"));
}

BOOST_AUTO_TEST_SUITE_END()

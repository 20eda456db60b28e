// SPDX-License-Identifier: MIT
// safetensors checkpoints: exact round trips, every refusal named, atomic saves, and interop
// with an independent numpy reader/writer (tests/nn/safetensors_numpy.py).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "flowtape/nn/nn.hpp"

using namespace flowtape;
using namespace flowtape::nn;
namespace fs = std::filesystem;

namespace {

// A scratch directory per process (ctest runs the suites in parallel).
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("flowtape_nn_test_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A file from a header text and a data section, with the 8-byte length prefix.
std::string craft(const std::string& header, const std::string& data) {
  const std::uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

auto says(const std::string& part) {
  return [part](const std::exception& e) {
    const bool ok = std::string(e.what()).find(part) != std::string::npos;
    if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
    return ok;
  };
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(),
                     static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

bool bit_equal(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !bit_equal(a[i].second, b[i].second)) return false;
  return true;
}

VelocityMLP make_model(std::uint64_t seed, DType dtype, std::int64_t hidden = 8) {
  Generator gen(seed);
  VelocityMLPOptions o;
  o.time_embedding = TimeEmbeddingKind::fourier;  // so a buffer is saved too
  o.time_dim = 4;
  o.dtype = dtype;
  return VelocityMLP(2, hidden, 2, gen, o);
}

void train(VelocityMLP& model, Optimizer& opt, EMA* ema, int steps, std::uint64_t seed) {
  Generator gen(seed);
  const DType dt = model.parameters()[0].dtype();
  for (int s = 0; s < steps; ++s) {
    const Tensor x = randn({16, 2}, gen, dt), t = rand({16}, gen, dt);
    auto [loss, grads] =
        loss_and_grad(model.parameters(), [&] { return mean(square(model(x, t) + x)); });
    opt.step(grads);
    if (ema) ema->update(model.parameters());
  }
}

// The tensors safetensors_numpy.py's fixture() also builds.
NamedTensors fixture_tensors() {
  std::vector<double> a(6);
  for (int i = 0; i < 6; ++i) a[i] = (i - 2.5) / 3.0;
  return {{"layer.weight", from_vector(a, {2, 3}, DType::f32)},
          {"layer.bias",
           from_vector(std::vector<double>{1.0 / 3.0, -2.0e-300, 1.0e300, std::numbers::pi}, {4},
                       DType::f64)},
          {"scale", scalar(7.25, DType::f64)},
          {"empty", zeros({0, 3})}};
}

void check_fixture(const SafetensorsContents& got) {
  const NamedTensors want = fixture_tensors();
  BOOST_TEST_REQUIRE(got.tensors.size() == want.size());
  for (const auto& [name, t] : want) {
    const Tensor* g = find(got.tensors, name);
    BOOST_TEST_REQUIRE(g != nullptr, name);
    BOOST_TEST(bit_equal(*g, t), name);
  }
  BOOST_TEST(got.metadata.at("step") == "7");
  BOOST_TEST(got.metadata.at("note") == "numpy");
}

// A python3 with numpy, or "" (then the interop checks are skipped, saying so).
std::string find_python_with_numpy() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FLOWTAPE_PYTHON")) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& py : candidates)
    if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

const std::string& python_with_numpy() {
  static const std::string py = find_python_with_numpy();  // looked up once per process
  return py;
}

const std::string kScript = std::string(FLOWTAPE_NN_TEST_DIR) + "/safetensors_numpy.py";

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(round_trip_is_bit_exact) {
  Scratch scratch;
  for (DType dt : {DType::f32, DType::f64}) {
    BOOST_TEST_CONTEXT(dtype_name(dt)) {
      VelocityMLP model = make_model(1, dt);
      Adam opt(model.parameters(), AdamOptions{1e-2});
      EMA ema(model.parameters(), 0.9);
      train(model, opt, &ema, 3, 7);
      const std::string path = scratch / "ckpt.safetensors";
      save_checkpoint(path, model, &opt, {{"run", "test"}}, &ema);

      VelocityMLP other = make_model(2, dt);  // different weights and Fourier frequencies
      Adam opt2(other.parameters(), AdamOptions{1e-2});
      EMA ema2(other.parameters(), 0.9);
      const Metadata meta = load_checkpoint(path, other, &opt2, &ema2);
      BOOST_TEST(meta.at("run") == "test");
      BOOST_TEST(meta.at("step") == "3");
      BOOST_TEST(meta.at("format") == "flowtape.checkpoint");
      BOOST_TEST(bit_equal(other.state_dict(), model.state_dict()));
      BOOST_TEST(bit_equal(opt2.state(), opt.state()));
      BOOST_TEST(bit_equal(ema2.state(), ema.state()));
      const auto saved_weights = model.state_dict();

      // Resuming gives exactly the run that was not interrupted.
      train(model, opt, &ema, 2, 8);
      train(other, opt2, &ema2, 2, 8);
      BOOST_TEST(bit_equal(other.state_dict(), model.state_dict()));

      // Weights only (inference): the optimizer part of the file is ignored.
      VelocityMLP third = make_model(3, dt);
      BOOST_TEST(!bit_equal(third.state_dict(), saved_weights));  // another seed: other weights
      load_checkpoint(path, third);
      BOOST_TEST(bit_equal(third.state_dict(), saved_weights));  // the file's, not the seed's
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_files_are_refused_by_name) {
  Scratch scratch;
  const std::string path = scratch / "bad.safetensors";
  auto load_bytes = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return load_safetensors(path);
  };
  const std::string good =
      encode_safetensors({{"w", from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2})}});
  BOOST_TEST(load_bytes(good).tensors.size() == 1u);

  BOOST_CHECK_EXCEPTION(load_bytes(good.substr(0, 5)), CheckpointError,
                        says("truncated file: 5 bytes"));
  BOOST_CHECK_EXCEPTION(load_bytes(good.substr(0, good.size() - 4)), CheckpointError,
                        says("out of range: the data section has 12 bytes (truncated file?)"));
  std::string huge = good;
  const std::uint64_t n = 1 << 20;
  std::memcpy(huge.data(), &n, 8);
  BOOST_CHECK_EXCEPTION(load_bytes(huge), CheckpointError,
                        says("header length 1048576 runs beyond the end of the file"));
  BOOST_CHECK_EXCEPTION(load_bytes(craft("{\"w\": {", "")), CheckpointError,
                        says("invalid JSON header"));
  const std::string data(16, '\0');
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", data)),
      CheckpointError, says("tensor 'w': unsupported dtype 'F16'"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": 3, "shape": [2], "data_offsets": [0, 8]}})", data)),
      CheckpointError, says("dtype is not a string"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                       data)),
      CheckpointError, says("overlapping data_offsets: tensor 'a' [0, 8) and tensor 'b' [4, 12)"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", data)),
      CheckpointError, says("hold 8 bytes but shape [3] of F32 needs 12"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(
          craft(R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}})", data)),
      CheckpointError, says("is not a list of extents"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 4]}})", data)),
      CheckpointError, says("end before they begin"));
  BOOST_CHECK_EXCEPTION(load_bytes(craft(R"({"w": {"dtype": "F32", "shape": [2]}})", data)),
                        CheckpointError, says("has no \"data_offsets\""));
  BOOST_CHECK_EXCEPTION(load_bytes(craft(R"({"__metadata__": {"k": 1}})", "")), CheckpointError,
                        says("__metadata__ value of 'k' is not a string"));
  // A name given twice (the second would silently replace the first), and data the tensors do
  // not index whole: a gap before, between or after them (the format forbids holes).
  const std::string eight(8, '\0');
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                           "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                       eight)),
      CheckpointError, says("appears more than once"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", eight)),
      CheckpointError, says("data_offsets leave bytes [0, 4) of the data section to no tensor"));
  BOOST_CHECK_EXCEPTION(
      load_bytes(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                       data)),
      CheckpointError, says("leave bytes [4, 8)"));
  BOOST_CHECK_EXCEPTION(
      decode_safetensors(
          craft(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", eight), "x"),
      CheckpointError, says("tensors end at byte 4"));
  BOOST_CHECK_EXCEPTION(load_bytes(good + "trailing"), CheckpointError,
                        says("bytes after the last tensor's data belong to no tensor"));
  // A header of 200 000 names is refused at its first entry after a parse of its size, not
  // of its size squared (an ordered JSON object scanned every earlier key on each insert).
  std::string many = "{";
  for (int i = 0; i < 200000; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  many += "}";
  BOOST_CHECK_EXCEPTION(load_bytes(craft(many, "")), CheckpointError,
                        says("header entry is not an object"));
  BOOST_CHECK_EXCEPTION(load_safetensors(scratch / "absent.safetensors"), CheckpointError,
                        says("cannot open"));
}

BOOST_AUTO_TEST_CASE(checkpoint_must_match_the_model) {
  Scratch scratch;
  const std::string path = scratch / "ckpt.safetensors";
  VelocityMLP small = make_model(1, DType::f32, 8);
  Adam opt(small.parameters());
  save_checkpoint(path, small, &opt);

  VelocityMLP wide = make_model(1, DType::f32, 16);
  const NamedTensors before = wide.state_dict();
  BOOST_CHECK_EXCEPTION(
      load_checkpoint(path, wide), CheckpointError,
      says("tensor 'net.layers.0.weight' has shape [8, 6] in the file but [16, 6] in the model"));
  BOOST_TEST(bit_equal(wide.state_dict(), before));  // nothing was written

  VelocityMLP f64 = make_model(1, DType::f64, 8);
  BOOST_CHECK_EXCEPTION(load_checkpoint(path, f64), CheckpointError,
                        says("has dtype f32 in the file but f64 in the model"));

  // Missing and unexpected tensors, by rewriting the file without / with one.
  SafetensorsContents file = load_safetensors(path);
  NamedTensors fewer(file.tensors.begin() + 1, file.tensors.end());
  save_safetensors(path, fewer);
  VelocityMLP same = make_model(4, DType::f32, 8);
  BOOST_CHECK_EXCEPTION(load_checkpoint(path, same), CheckpointError,
                        says("missing tensor 'net.layers.0.weight' of the model"));
  NamedTensors more = file.tensors;
  more.emplace_back("extra.weight", zeros({2}));
  save_safetensors(path, more);
  BOOST_CHECK_EXCEPTION(load_checkpoint(path, same), CheckpointError,
                        says("unexpected tensor 'extra.weight'"));
  // A model-only file cannot restore an optimizer.
  save_checkpoint(path, small);
  Adam opt2(same.parameters());
  BOOST_CHECK_EXCEPTION(load_checkpoint(path, same, &opt2), CheckpointError,
                        says("missing tensor 'optimizer.step' of the optimizer"));
}

// Names and metadata go into the JSON header, which must be UTF-8: a CheckpointError, not a
// JSON library's exception.
BOOST_AUTO_TEST_CASE(non_utf8_names_are_a_checkpoint_error) {
  Scratch scratch;
  BOOST_CHECK_THROW(save_safetensors(scratch / "a.safetensors", {{"caf\xe9", ones({1})}}),
                    CheckpointError);
  BOOST_CHECK_THROW(
      save_safetensors(scratch / "b.safetensors", {{"w", ones({1})}}, {{"note", "\xff"}}),
      CheckpointError);
}

BOOST_AUTO_TEST_CASE(failed_save_keeps_the_old_file) {
  Scratch scratch;
  const std::string path = scratch / "model.safetensors";
  save_safetensors(path, {{"w", ones({4})}});
  const std::string old_bytes = read_bytes(path);

  // A write that fails halfway: the file-size limit makes write() fail with EFBIG.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 4096;
  BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  try {
    save_safetensors(path, {{"w", ones({100000})}});  // 400 kB, far over the limit
  } catch (const CheckpointError& e) {
    threw = std::string(e.what()).find("write failed after") != std::string::npos;
    BOOST_TEST_MESSAGE("refused: " << e.what());
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, SIG_DFL);
  BOOST_TEST(threw);
  BOOST_TEST(read_bytes(path) == old_bytes);  // the old file is intact
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(scratch.dir)) entries += e.exists();
  BOOST_TEST(entries == 1u);  // and no temporary is left behind

  BOOST_CHECK_EXCEPTION(save_safetensors(scratch / "no/such/dir/x.safetensors", {{"w", ones({1})}}),
                        CheckpointError, says("cannot create"));
}

BOOST_AUTO_TEST_CASE(numpy_reads_our_files) {
  const std::string py = python_with_numpy();
  if (py.empty()) {
    BOOST_TEST_MESSAGE("skipped: no python3 with numpy (set FLOWTAPE_PYTHON)");
    std::printf("nn checkpoint/numpy_reads_our_files: skipped, no python3 with numpy\n");
    return;
  }
  Scratch scratch;
  const std::string path = scratch / "ours.safetensors";
  save_safetensors(path, fixture_tensors(), {{"step", "7"}, {"note", "numpy"}});
  BOOST_TEST(std::system((py + " " + kScript + " read " + path).c_str()) == 0);
  // The numpy reader also rejects a file that differs (the check can fail).
  NamedTensors changed = fixture_tensors();
  changed[2].second = scalar(7.5, DType::f64);
  save_safetensors(path, changed, {{"step", "7"}, {"note", "numpy"}});
  BOOST_TEST(std::system((py + " " + kScript + " read " + path + " >/dev/null").c_str()) != 0);
}

BOOST_AUTO_TEST_CASE(we_read_numpy_files) {
  // The committed fixture, written by safetensors_numpy.py (always checked) ...
  check_fixture(
      load_safetensors(std::string(FLOWTAPE_NN_TEST_DIR) + "/data/numpy_written.safetensors"));
  // ... and a fresh one when python3 with numpy is here.
  const std::string py = python_with_numpy();
  if (py.empty()) {
    std::printf("nn checkpoint/we_read_numpy_files: live writer skipped, no python3 with numpy\n");
    return;
  }
  Scratch scratch;
  const std::string path = scratch / "theirs.safetensors";
  BOOST_TEST_REQUIRE(std::system((py + " " + kScript + " write " + path).c_str()) == 0);
  check_fixture(load_safetensors(path));
}

// Inputs that crashed the loader, kept as regression files in the fuzzer's corpus
// (fuzz/corpus/safetensors/regress_*): each must now be refused with a message.
BOOST_AUTO_TEST_CASE(fuzzer_findings_are_refused_by_name) {
  const std::string dir = std::string(FLOWTAPE_FUZZ_CORPUS_DIR) + "/safetensors/";
  // Shape::numel() of [2^62, 4, 0] overflowed int64 (UBSan: signed overflow) although the
  // tensor holds no bytes.
  BOOST_CHECK_EXCEPTION(
      load_safetensors(dir + "regress_shape_overflow.safetensors"), CheckpointError,
      says("shape starting [4611686018427387904, 4] has more than 2^63 elements"));
  // A shape nested 40 000 lists deep (80 kB): nlohmann's ordered_json deep-copies a parsed
  // value when an object's key vector grows, and that recursion overflowed the stack inside
  // Json::parse under ASan (the old error message's json::dump() recursed the same way).
  BOOST_CHECK_EXCEPTION(load_safetensors(dir + "regress_deep_shape.safetensors"), CheckpointError,
                        says("invalid JSON header: nested more than 32 levels deep"));
  // A number beyond double: nlohmann throws out_of_range, not parse_error, and it escaped the
  // loader as a non-CheckpointError (found by fuzz_safetensors).
  BOOST_CHECK_EXCEPTION(load_safetensors(dir + "regress_number_overflow.safetensors"),
                        CheckpointError, says("invalid JSON header: [json.exception.out_of_range"));
  // The limit counts brackets outside strings only, and a flat but wrong value is still named.
  const std::string deep = std::string(33, '[') + std::string(33, ']');
  BOOST_CHECK_EXCEPTION(decode_safetensors(craft(
                            R"({"w":{"dtype":"F32","shape":[],"data_offsets":)" + deep + "}}", "")),
                        CheckpointError, says("nested more than 32 levels deep"));
  BOOST_CHECK_EXCEPTION(decode_safetensors(craft(
                            R"({"w[[[[":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}})",
                            std::string(4, '\0'))),
                        CheckpointError,
                        says("tensor 'w[[[[': shape (a JSON array of 1 entries) is not a list"));
}

// The optimizer's step count is read from the file as a double; a NaN, negative, fractional or
// huge value was converted to an integer unchecked (undefined behaviour).
BOOST_AUTO_TEST_CASE(optimizer_step_must_be_a_count) {
  const std::string path =
      std::string(FLOWTAPE_FUZZ_CORPUS_DIR) + "/safetensors/regress_optimizer_step_nan.safetensors";
  // fuzz::SmallModel: VelocityMLP(2, 8, 1) with sinusoidal time from Generator(7), and Adam.
  Generator gen(7);
  VelocityMLP model(2, 8, 1, gen, {.time_embedding = TimeEmbeddingKind::sinusoidal});
  Adam opt(model.parameters(), AdamOptions{});
  const NamedTensors before = model.state_dict();
  BOOST_CHECK_EXCEPTION(load_checkpoint(path, model, &opt), CheckpointError,
                        says("'step' is nan, not a step count"));
  BOOST_TEST(opt.steps() == 0);
  BOOST_TEST(bit_equal(model.state_dict(), before));  // nothing was written

  Scratch scratch;
  for (double bad : {-1.0, 2.5, 1e300}) {
    SafetensorsContents file = load_safetensors(path);
    for (auto& [name, t] : file.tensors)
      if (name == "optimizer.step") t = scalar(bad, DType::f64);
    save_safetensors(scratch / "bad.safetensors", file.tensors, file.metadata);
    BOOST_CHECK_EXCEPTION(load_checkpoint(scratch / "bad.safetensors", model, &opt),
                          CheckpointError, says("not a step count"));
  }
}

// write_file_atomic respects what is at the path: a symbolic link is written through (the link
// stays), a FIFO is written into (not replaced by a file), a directory is refused with nothing
// left behind; and remove_stale_temporaries removes only temporaries of dead writers.
BOOST_AUTO_TEST_CASE(atomic_writes_respect_links_devices_and_folders) {
  Scratch scratch;
  // Only floating-point tensors are written (safetensors' I64 / BOOL are not read back).
  BOOST_CHECK_EXCEPTION(save_safetensors(scratch / "i.safetensors", {{"i", arange(3, DType::i64)}}),
                        CheckpointError, says("is i64; flowtape writes F32 and F64 tensors only"));
  write_file_atomic(scratch / "plain.txt", "one");
  write_file_atomic(scratch / "plain.txt", "two");
  BOOST_TEST(read_bytes(scratch / "plain.txt") == "two");

  fs::create_symlink(scratch / "target.txt", scratch / "link.txt");
  write_file_atomic(scratch / "link.txt", "through");
  BOOST_TEST(fs::is_symlink(scratch / "link.txt"));
  BOOST_TEST(read_bytes(scratch / "target.txt") == "through");

  BOOST_REQUIRE(::mkfifo((scratch / "fifo").c_str(), 0600) == 0);
  // The reader end opened first (non-blocking), so the writer's open does not wait; five bytes
  // fit in the pipe's buffer.
  const int reader = ::open((scratch / "fifo").c_str(), O_RDONLY | O_NONBLOCK);
  BOOST_REQUIRE(reader >= 0);
  write_file_atomic(scratch / "fifo", "piped");
  char got[16] = {};
  const ssize_t n = ::read(reader, got, sizeof got);
  ::close(reader);
  BOOST_TEST(std::string(got, n > 0 ? static_cast<std::size_t>(n) : 0) == "piped");
  BOOST_TEST(fs::is_fifo(scratch / "fifo"));

  fs::create_directories(scratch / "folder");
  BOOST_CHECK_EXCEPTION(write_file_atomic(scratch / "folder", "x"), FileWriteError,
                        says("it is a directory"));
  BOOST_CHECK_EXCEPTION(write_file_atomic(scratch / "missing/x.txt", "x"), FileWriteError,
                        says("cannot create"));

  write_bytes(scratch / "a.tmp.999999999", "");    // beyond any pid: its writer is gone
  write_bytes(scratch / "d.tmp.999999999.7", "");  // the same, as writes are named now
  write_bytes(scratch / "b.tmp", "");              // a bare NAME.tmp may be the user's: kept
  const std::string mine = scratch / ("c.tmp." + std::to_string(::getpid()) + ".3");
  write_bytes(mine, "");  // a live writer's
  write_bytes(scratch / "notes.tmpl", "");
  write_bytes(scratch / "user.tmp", "");  // not a name the caller owns: kept
  const auto ours = [](const std::string& name) { return name != "user"; };
  BOOST_TEST(remove_stale_temporaries(scratch.dir.string(), ours) == 2);
  BOOST_TEST(fs::exists(scratch / "user.tmp"));
  BOOST_TEST(fs::exists(mine));
  BOOST_TEST(fs::exists(scratch / "notes.tmpl"));
  BOOST_TEST(fs::exists(scratch / "b.tmp"));
  BOOST_TEST(!fs::exists(scratch / "a.tmp.999999999"));
  BOOST_TEST(!fs::exists(scratch / "d.tmp.999999999.7"));
}

// A replaced file keeps its permissions, private ones included; a name too long to take the
// temporary's suffix within NAME_MAX is still written (its temporary's name is cut), with
// nothing left beside it.
BOOST_AUTO_TEST_CASE(atomic_writes_keep_permissions_and_take_long_names) {
  const Scratch scratch;
  const std::string path = scratch / "private.bin";
  write_file_atomic(path, "one");
  BOOST_REQUIRE(::chmod(path.c_str(), 0640) == 0);
  write_file_atomic(path, "two");
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
  BOOST_TEST(read_bytes(path) == "two");

  // The folder's NAME_MAX (255 on most file systems): the file's own name fits, the suffix not.
  const long name_max = ::pathconf(scratch.dir.c_str(), _PC_NAME_MAX);
  const std::string longest(static_cast<std::size_t>(name_max > 0 ? name_max : 255), 'n');
  write_file_atomic(scratch / longest, "long");
  BOOST_TEST(read_bytes(scratch / longest) == "long");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(scratch.dir)) ++entries;
  BOOST_TEST(entries == 2);  // private.bin and the long name: no temporary left
}

// Two threads writing one path at once: each has its own temporary (the shared name made one
// remove the other's and rename a half-written file), so the result is one of them, whole.
BOOST_AUTO_TEST_CASE(concurrent_writes_to_one_path_leave_one_whole_file) {
  const Scratch scratch;
  const std::string path = scratch / "shared.bin";
  const std::string a(1 << 20, 'a'), b(1 << 20, 'b');
  for (int round = 0; round < 20; ++round) {
    std::thread first([&] { write_file_atomic(path, a); });
    std::thread second([&] { write_file_atomic(path, b); });
    first.join();
    second.join();
    const std::string got = read_bytes(path);
    BOOST_TEST((got == a || got == b), "round " << round);
  }
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(scratch.dir))
    left += e.path().filename() != "shared.bin";
  BOOST_TEST(left == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

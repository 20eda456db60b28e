// Philox-4x32-10 and the samplers built on it. Uniforms take the top bits of each word
// (24 for f32, 53 for f64); normals use Box-Muller in double precision, so f32 and f64
// samples from the same seed agree to f32 rounding.
#include "autodiff/random.hpp"

#include <cmath>
#include <numbers>

namespace flowtape {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> c, std::uint64_t key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

Generator::Generator(std::uint64_t seed, std::uint64_t stream) : key_(seed), stream_(stream) {}

Generator Generator::from_state(std::uint64_t key, std::uint64_t counter, std::uint64_t stream) {
  Generator g(key, stream);
  g.counter_ = counter;
  return g;
}

std::array<std::uint32_t, 4> Generator::next_block() {
  const std::uint64_t n = counter_++;
  return philox4x32({static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32),
                     static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)},
                    key_);
}

Generator Generator::split() {
  const auto b = next_block();
  const std::uint64_t child_key = (static_cast<std::uint64_t>(b[0]) << 32) | b[1];
  const std::uint64_t child_stream = (static_cast<std::uint64_t>(b[2]) << 32) | b[3];
  return Generator(child_key, child_stream);
}

namespace {
inline float to_unit_f32(std::uint32_t w) { return static_cast<float>(w >> 8) * 0x1.0p-24f; }
inline double to_unit_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}
// One Box-Muller pair from two uniforms in [0, 1); 1 - u1 is in (0, 1], so the log is finite.
inline void box_muller(double u1, double u2, double& z0, double& z1) {
  const double r = std::sqrt(-2.0 * std::log(1.0 - u1));
  const double a = 2.0 * std::numbers::pi * u2;
  z0 = r * std::cos(a);
  z1 = r * std::sin(a);
}
}  // namespace

void Generator::fill_uniform(float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 4) {
    const auto b = next_block();
    for (std::int64_t j = 0; j < 4 && i + j < n; ++j) out[i + j] = to_unit_f32(b[j]);
  }
}

void Generator::fill_uniform(double* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 2) {
    const auto b = next_block();
    out[i] = to_unit_f64(b[0], b[1]);
    if (i + 1 < n) out[i + 1] = to_unit_f64(b[2], b[3]);
  }
}

double Generator::uniform() {
  const auto b = next_block();
  return to_unit_f64(b[0], b[1]);
}

double Generator::normal() {
  const auto b = next_block();
  double z0, z1;
  box_muller(to_unit_f64(b[0], b[1]), to_unit_f64(b[2], b[3]), z0, z1);
  return z0;
}

template <class T>
static void fill_normal_impl(Generator& g, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 2) {
    const auto b = g.next_block();
    double z0, z1;
    box_muller(to_unit_f64(b[0], b[1]), to_unit_f64(b[2], b[3]), z0, z1);
    out[i] = static_cast<T>(z0);
    if (i + 1 < n) out[i + 1] = static_cast<T>(z1);
  }
}

void Generator::fill_normal(float* out, std::int64_t n) { fill_normal_impl(*this, out, n); }
void Generator::fill_normal(double* out, std::int64_t n) { fill_normal_impl(*this, out, n); }

}  // namespace flowtape

// SPDX-License-Identifier: MIT
// Adaptive solves: global error against known solutions across tolerances, NFE falling as the
// tolerance loosens, dopri5's NFE against Boost.Odeint's controlled runge_kutta_dopri5,
// backward integration, and a batched [1024, 2] state under both error norms.
#include <boost/numeric/odeint.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

#include "support/solver_problems.hpp"

using namespace flowtape;
using namespace flowtape::solvers;
using namespace flowtape::test;

BOOST_AUTO_TEST_SUITE(adaptive)

BOOST_AUTO_TEST_CASE(error_tracks_tolerance) {
  struct Problem {
    const char* name;
    VectorField f;
    Tensor y0;
    std::vector<double> exact;  // at t = 1
  };
  const Tensor r0 = reshape(vec({1.0, 0.5}), {1, 2});
  const std::vector<Problem> problems = {
      {"decay", decay_field, vec({1.0}), {std::exp(-1.0)}},
      {"rotation", rotation_field, r0, rotated(r0, 1.0)},
      {"cos", cos_field, vec({1.0}), {std::exp(std::sin(1.0))}},
  };
  for (Method m : {Method::bosh3, Method::dopri5, Method::tsit5, Method::dopri8, Method::dop853}) {
    for (const Problem& p : problems) {
      long prev_nfe = -1;
      for (double rtol : {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3}) {
        IntegrateOptions o;
        o.method = m;
        o.rtol = rtol;
        o.atol = rtol * 1e-2;
        const Solution s = integrate(p.f, p.y0, 0.0, 1.0, o);
        const double err = max_abs_diff(s.ys.back().to_vector(), p.exact);
        BOOST_TEST(err < 10 * rtol,
                   method_name(m) << " on " << p.name << ", rtol " << rtol << ": error " << err);
        // Looser tolerance, no more work (strictly less over the whole sweep, checked below).
        if (prev_nfe >= 0)
          BOOST_TEST(s.stats.nfe <= prev_nfe, method_name(m)
                                                  << " on " << p.name << ", rtol " << rtol);
        prev_nfe = s.stats.nfe;
      }
      IntegrateOptions tight, loose;
      tight.method = loose.method = m;
      tight.rtol = 1e-8;
      tight.atol = 1e-10;
      loose.rtol = 1e-3;
      loose.atol = 1e-5;
      BOOST_TEST(integrate(p.f, p.y0, 0.0, 1.0, loose).stats.nfe <
                 integrate(p.f, p.y0, 0.0, 1.0, tight).stats.nfe);
    }
  }
}

// NFE of our dopri5 against Boost.Odeint's controlled dopri5 (integrate_adaptive) with the
// same tolerances, the same first step and the same error scale atol + rtol |x| (odeint's
// a_dxdt set to 0). On a scalar problem the norms coincide (odeint takes the max over
// components, we the RMS), so NFE must agree within 20%; on the 2-D Van der Pol the RMS norm is
// up to sqrt(2) looser, so there we only require no more than 20% above odeint.
namespace {

struct NfePair {
  long ours, theirs;
  std::vector<double> y_ours, y_theirs;
};

template <class Sys>
NfePair compare_with_odeint(const VectorField& f, Sys sys, std::vector<double> x0, double t1,
                            double tol) {
  namespace ode = boost::numeric::odeint;
  using State = std::vector<double>;
  using Stepper = ode::runge_kutta_dopri5<State>;
  using Checker =
      ode::default_error_checker<double, Stepper::algebra_type, Stepper::operations_type>;
  using Controlled = ode::controlled_runge_kutta<Stepper, Checker>;
  long calls = 0;
  State x = x0;
  auto counted = [&](const State& s, State& dxdt, double t) {
    ++calls;
    sys(s, dxdt, t);
  };
  ode::integrate_adaptive(Controlled(Checker(tol, tol, 1.0, 0.0)), counted, x, 0.0, t1, 0.01);
  IntegrateOptions o;
  o.rtol = o.atol = tol;
  o.dt0 = 0.01;
  const Tensor y0 = from_vector(std::span<const double>(x0),
                                Shape({static_cast<std::int64_t>(x0.size())}), DType::f64);
  const Solution s = integrate(f, y0, 0.0, t1, o);
  return {s.stats.nfe, calls, s.ys.back().to_vector(), x};
}

}  // namespace

BOOST_AUTO_TEST_CASE(dopri5_nfe_vs_odeint) {
  for (double tol : {1e-4, 1e-6, 1e-8}) {
    // y' = cos(t) y on [0, 20]: y = exp(sin t), four oscillations.
    const NfePair scalar = compare_with_odeint(
        cos_field,
        [](const std::vector<double>& s, std::vector<double>& d, double t) {
          d[0] = std::cos(t) * s[0];
        },
        {1.0}, 20.0, tol);
    const double r1 = static_cast<double>(scalar.ours) / static_cast<double>(scalar.theirs);
    BOOST_TEST_MESSAGE("y' = cos(t) y, tol " << tol << ": flowtape nfe " << scalar.ours
                                             << ", odeint " << scalar.theirs);
    BOOST_TEST(std::abs(r1 - 1) < 0.2,
               "scalar, tol " << tol << ": nfe " << scalar.ours << " vs odeint " << scalar.theirs);
    BOOST_TEST(max_abs_diff(scalar.y_ours, scalar.y_theirs) < 100 * tol);

    // Van der Pol, mu = 1, on [0, 10] from (2, 0).
    const NfePair vdp = compare_with_odeint(
        [](double, const Tensor& y) {
          const Tensor a = slice(y, 0, 0, 1), b = slice(y, 0, 1, 2);
          return concat({b, (1.0 - square(a)) * b - a}, 0);
        },
        [](const std::vector<double>& s, std::vector<double>& d, double) {
          d[0] = s[1];
          d[1] = (1 - s[0] * s[0]) * s[1] - s[0];
        },
        {2.0, 0.0}, 10.0, tol);
    const double r2 = static_cast<double>(vdp.ours) / static_cast<double>(vdp.theirs);
    BOOST_TEST_MESSAGE("van der Pol, tol " << tol << ": flowtape nfe " << vdp.ours << ", odeint "
                                           << vdp.theirs);
    BOOST_TEST(r2 < 1.2,
               "van der Pol, tol " << tol << ": nfe " << vdp.ours << " vs odeint " << vdp.theirs);
    BOOST_TEST(max_abs_diff(vdp.y_ours, vdp.y_theirs) < 100 * tol);
  }
}

BOOST_AUTO_TEST_CASE(backward_in_time) {
  IntegrateOptions o;
  o.rtol = 1e-8;
  o.atol = 1e-10;
  o.save_at = {1.0, 0.5, 0.0};
  const Solution s = integrate(decay_field, vec({std::exp(-1.0)}), 1.0, 0.0, o);
  BOOST_TEST(s.ys.size() == 3u);
  BOOST_TEST(std::abs(s.ys[0].item() - std::exp(-1.0)) < 1e-15);
  BOOST_TEST(std::abs(s.ys[1].item() - std::exp(-0.5)) < 1e-7);
  BOOST_TEST(std::abs(s.ys[2].item() - 1.0) < 1e-7);
}

// 1024 rotations at once, with radii from 0.01 to 10: both norms solve every sample to
// tolerance; the per-sample norm is driven by the worst sample, so it takes at least as many
// steps as the RMS over the batch.
BOOST_AUTO_TEST_CASE(batched_state_both_norms) {
  Generator gen(5);
  Tensor y0 = randn({1024, 2}, gen, DType::f64);
  {
    std::vector<double> v = y0.to_vector();
    for (std::size_t i = 0; i < 1024; ++i) {
      const double r = std::pow(10.0, -2.0 + 3.0 * static_cast<double>(i) / 1023.0);
      v[2 * i] *= r;
      v[2 * i + 1] *= r;
    }
    y0 = from_vector(std::span<const double>(v), Shape({1024, 2}), DType::f64);
  }
  const auto exact = rotated(y0, 3.0);
  long accepted[2] = {0, 0};
  for (ErrorNorm norm : {ErrorNorm::rms, ErrorNorm::per_sample_rms}) {
    IntegrateOptions o;
    o.rtol = 1e-6;
    o.atol = 1e-8;
    o.norm = norm;
    const Solution s = integrate(rotation_field, y0, 0.0, 3.0, o);
    BOOST_TEST((s.ys.back().shape() == Shape({1024, 2})));
    const auto y = s.ys.back().to_vector();
    double worst = 0;  // error relative to each sample's radius
    for (std::size_t i = 0; i < 1024; ++i) {
      const double r = std::hypot(exact[2 * i], exact[2 * i + 1]);
      worst =
          std::max(worst, std::hypot(y[2 * i] - exact[2 * i], y[2 * i + 1] - exact[2 * i + 1]) / r);
    }
    BOOST_TEST(worst < 1e-4,
               "norm " << static_cast<int>(norm) << ": worst relative error " << worst);
    accepted[norm == ErrorNorm::rms ? 0 : 1] = s.stats.accepted;
  }
  BOOST_TEST(accepted[1] >= accepted[0]);
}

// The automatic first step (Hairer's) is sane: on y' = -y with rtol 1e-6 the first try is
// accepted, so a short solve has no rejections.
BOOST_AUTO_TEST_CASE(initial_step_is_accepted) {
  IntegrateOptions o;
  o.rtol = 1e-6;
  o.atol = 1e-9;
  const Solution s = integrate(decay_field, vec({1.0}), 0.0, 1.0, o);
  BOOST_TEST(s.stats.rejected == 0);
  BOOST_TEST(s.stats.accepted > 3);
  BOOST_TEST(s.stats.accepted < 40);
}

// In f32 the derivative's scaled norm overflows (2e13 / atol squared is past 3.4e38): the first
// step guess must still be positive, where 0.01 d0 / inf = 0 ended the solve at step 0.
BOOST_AUTO_TEST_CASE(an_overflowing_derivative_norm_still_gives_a_first_step) {
  const Tensor rate = from_vector(std::vector<double>{0, 2e13}, {2}, DType::f32);
  const VectorField constant = [&](double, const Tensor&) { return rate; };
  const Solution s =
      integrate(constant, from_vector(std::vector<double>{1, 0}, {2}, DType::f32), 0.0, 1.0);
  BOOST_TEST(s.ys.back().at(1) == 2e13, boost::test_tools::tolerance(1e-6));
}

// Step-size controllers: the default PI, the I controller (pcoeff 0, icoeff 1), a PID with a
// derivative term, and a controller of the user's own all reach the tolerance on the rotation;
// the user's controller is the one deciding (it is called once per trial step and its fixed
// growth shows in the step count); nonsense coefficients and a non-finite factor are refused.
BOOST_AUTO_TEST_CASE(controllers_pi_i_pid_and_your_own) {
  const Tensor y0 = reshape(vec({1.0, 0.0}), {1, 2});
  const auto run = [&](auto set) {
    IntegrateOptions o;
    o.rtol = o.atol = 1e-8;
    set(o);
    return integrate(rotation_field, y0, 0.0, 10.0, o);
  };
  const auto error_of = [&](const Solution& s) {
    return max_abs_diff(s.ys.back().to_vector(), rotated(y0, 10.0));
  };
  const Solution pi = run([](IntegrateOptions&) {});
  const Solution i = run([](IntegrateOptions& o) { o.pcoeff = 0, o.icoeff = 1; });
  const Solution pid = run([](IntegrateOptions& o) { o.dcoeff = 0.1; });
  long calls = 0;
  const Solution own = run([&](IntegrateOptions& o) {
    o.controller = [&](double err, double) -> StepDecision {
      ++calls;
      return err <= 1 ? StepDecision{true, 1.2} : StepDecision{false, 0.5};
    };
  });
  for (const Solution* s : {&pi, &i, &pid, &own}) {
    BOOST_TEST_MESSAGE("error " << error_of(*s) << ", " << s->stats.accepted << " accepted, "
                                << s->stats.rejected << " rejected");
    BOOST_TEST(error_of(*s) < 1e-6);
  }
  BOOST_TEST(calls == own.stats.accepted + own.stats.rejected);
  BOOST_TEST((pid.step_ts != pi.step_ts));  // the derivative term changes the steps
  BOOST_CHECK_THROW(run([](IntegrateOptions& o) { o.pcoeff = 0, o.icoeff = 0; }),
                    std::invalid_argument);
  BOOST_CHECK_THROW(run([](IntegrateOptions& o) {
                      o.controller = [](double, double) {
                        return StepDecision{true, std::nan("")};
                      };
                    }),
                    SolverError);
}

BOOST_AUTO_TEST_SUITE_END()

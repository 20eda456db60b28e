// SPDX-License-Identifier: MIT
// Butcher tableaus as constexpr data: the coefficients of every explicit Runge-Kutta method the
// stepper runs, with their orders, embedded error weights, FSAL flag and, where the method
// has one, its own dense-output polynomial. The stepper (stepper.hpp) is generic over these;
// adding a method is adding data here. tests/solvers/test_tableaus.cpp checks every tableau
// against the order conditions (rooted trees) up to its stated orders.
#pragma once

#include <array>
#include <string_view>

#include "flowtape/solvers/method.hpp"

namespace flowtape::solvers {

inline constexpr int kMaxStages = 16;  // dop853's 12 with its interpolation stages
inline constexpr int kMaxDenseDegree = 7;

struct Tableau {
  std::string_view name;
  int stages = 0;
  int order = 0;        // order of the solution weights b
  int error_order = 0;  // order of the embedded weights b_hat; 0: fixed-step only
  // First Same As Last: the last stage is evaluated at (t + h, y1) (its row of a is b and its
  // c is 1), so its derivative is the next step's first stage and costs nothing.
  bool fsal = false;
  std::array<double, kMaxStages> c{};
  std::array<std::array<double, kMaxStages>, kMaxStages> a{};  // strictly lower triangular
  std::array<double, kMaxStages> b{};
  std::array<double, kMaxStages> b_hat{};  // embedded weights (unused when error_order == 0)
  // A second, lower-order embedded estimate (DOP853's third-order one). With it the controller
  // reads Hairer's combination err^2 / sqrt(err^2 + 0.01 err_low^2) of the two scaled norms,
  // which behaves like h^(2 (error_order + 1) - (error_order_low + 1)). 0: none.
  int error_order_low = 0;
  std::array<double, kMaxStages> b_hat_low{};
  // The method's own interpolant, if any: y(t + theta h) = y0 + h sum_i k_i P_i(theta) with
  // P_i(theta) = sum_j dense[i][j] theta^(j + 1), i over the stages and the dense stages.
  // 0: none; cubic Hermite is used instead, or a fresh step when dense_by_restep.
  int dense_degree = 0;
  std::array<std::array<double, kMaxDenseDegree>, kMaxStages> dense{};
  // Stages the interpolant needs beyond the step's, evaluated only for steps that are
  // interpolated: the first is f(t + h, y1) itself (its row of a is b, its c is 1; FSAL-free
  // methods get it from the next step), the others by their rows of a and c.
  int dense_stages = 0;
  // No interpolant of the method's order exists (dopri8): the state inside a step is a fresh
  // step of size theta h from the step's start, as accurate as a step at stages - 1 extra
  // evaluations of f per point.
  bool dense_by_restep = false;

  constexpr bool adaptive() const { return error_order > 0; }
  // Weights of the local error estimate y1 - y1_hat = h sum_i b_err(i) k_i.
  constexpr double b_err(int i) const { return b[i] - b_hat[i]; }
  constexpr double b_err_low(int i) const { return b[i] - b_hat_low[i]; }
  // The order p the step-size controller assumes: the controlled error behaves like h^(p + 1).
  constexpr int controlled_order() const {
    return error_order_low > 0 ? 2 * (error_order + 1) - (error_order_low + 1) - 1 : error_order;
  }
};

// The tableau of a method (one static instance per method).
const Tableau& tableau(Method m);

namespace tableaus {

inline constexpr Tableau euler{.name = "euler", .stages = 1, .order = 1, .c = {0.0}, .b = {1.0}};

inline constexpr Tableau midpoint{.name = "midpoint",
                                  .stages = 2,
                                  .order = 2,
                                  .c = {0.0, 1.0 / 2},
                                  .a = {{{}, {1.0 / 2}}},
                                  .b = {0.0, 1.0}};

// Heun's method (explicit trapezoid).
inline constexpr Tableau heun{.name = "heun",
                              .stages = 2,
                              .order = 2,
                              .c = {0.0, 1.0},
                              .a = {{{}, {1.0}}},
                              .b = {1.0 / 2, 1.0 / 2}};

// The classic fourth-order Runge-Kutta method.
inline constexpr Tableau rk4{.name = "rk4",
                             .stages = 4,
                             .order = 4,
                             .c = {0.0, 1.0 / 2, 1.0 / 2, 1.0},
                             .a = {{{}, {1.0 / 2}, {0.0, 1.0 / 2}, {0.0, 0.0, 1.0}}},
                             .b = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}};

// Bogacki & Shampine, "A 3(2) pair of Runge-Kutta formulas", Appl. Math. Lett. 2(4), 1989.
inline constexpr Tableau bosh3{.name = "bosh3",
                               .stages = 4,
                               .order = 3,
                               .error_order = 2,
                               .fsal = true,
                               .c = {0.0, 1.0 / 2, 3.0 / 4, 1.0},
                               .a = {{{}, {1.0 / 2}, {0.0, 3.0 / 4}, {2.0 / 9, 1.0 / 3, 4.0 / 9}}},
                               .b = {2.0 / 9, 1.0 / 3, 4.0 / 9, 0.0},
                               .b_hat = {7.0 / 24, 1.0 / 4, 1.0 / 3, 1.0 / 8}};

// Dormand & Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6(1),
// 1980; dense output of order 4 from Hairer, Norsett & Wanner, Solving ODEs I, II.6 (the
// d_i of their DOPRI5 code, expanded into powers of theta).
inline constexpr Tableau dopri5{
    .name = "dopri5",
    .stages = 7,
    .order = 5,
    .error_order = 4,
    .fsal = true,
    .c = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0},
    .a = {{{},
           {1.0 / 5},
           {3.0 / 40, 9.0 / 40},
           {44.0 / 45, -56.0 / 15, 32.0 / 9},
           {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
           {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
           {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}}},
    .b = {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0},
    .b_hat = {5179.0 / 57600, 0.0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100,
              1.0 / 40},
    .dense_degree = 4,
    .dense = {{
        {1.0, -8048581381.0 / 2820520608, 8663915743.0 / 2820520608, -12715105075.0 / 11282082432},
        {0.0, 0.0, 0.0, 0.0},
        {0.0, 131558114200.0 / 32700410799, -68118460800.0 / 10900136933,
         87487479700.0 / 32700410799},
        {0.0, -1754552775.0 / 470086768, 14199869525.0 / 1410260304, -10690763975.0 / 1880347072},
        {0.0, 127303824393.0 / 49829197408, -318862633887.0 / 49829197408,
         701980252875.0 / 199316789632},
        {0.0, -282668133.0 / 205662961, 2019193451.0 / 616988883, -1453857185.0 / 822651844},
        {0.0, 40617522.0 / 29380423, -110615467.0 / 29380423, 69997945.0 / 29380423},
    }}};

// Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column simplifying
// assumption", Comput. Math. Appl. 62(2), 2011. The published coefficients are decimals.
inline constexpr Tableau tsit5{
    .name = "tsit5",
    .stages = 7,
    .order = 5,
    .error_order = 4,
    .fsal = true,
    .c = {0.0, 0.161, 0.327, 0.9,
          0.9800255409045096857298102862870245954942137979563024768854764293, 1.0, 1.0},
    .a =
        {{{},
          {0.161},
          {-0.008480655492356988544426874250230774675121177393430391537369234245294192976164141156943,
           0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569},
          {2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289,
           -6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366,
           4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077},
          {5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791,
           -11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589,
           7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753,
           -0.09249506636175524925650207933207191611349983406029535244034750452930469056411389539635},
          {5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748,
           -12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452,
           8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986,
           -0.07158497328140099722453054252582973869127213147363544882721139659546372402303777878835,
           -0.02826905039406838290900305721271224146717633626879770007617876201276764571291579142206},
          {0.09646076681806522951816731316512876333711995238157997181903319145764851595234062815396,
           0.01,
           0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
           1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
           -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
           2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841}}},
    .b = {0.09646076681806522951816731316512876333711995238157997181903319145764851595234062815396,
          0.01,
          0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
          1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
          -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
          2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841,
          0.0},
    .b_hat =
        {0.09468075576583945807478876255758922856117527357724631226139574065785592789071067303271,
         0.009183565540343253096776363936645313759813746240984095238905939532922955247253608687270,
         0.4877705284247615707855642599631228241516691959761363774365216240304071651579571959813,
         1.234297566930478985655109673884237654035539930748192848315425833500484878378061439761,
         -2.707712349983525454881109975059321670689605166938197378763992255714444407154902012702,
         1.866628418170587035753719399566211498666255505244122593996591602841258328965767580089,
         1.0 / 66},
    // Tsitouras's own fourth-order interpolant (the paper's b_i(theta), expanded in powers of
    // theta from its factored form; b_1's theta and b_2's coefficients are the exact values
    // the factored form rounds).
    .dense_degree = 4,
    .dense = {{{1.0, -2.7637061972748259113, 2.9132554618219127438, -1.0530884977290216},
               {0.0, 0.1317, -0.2234, 0.1017},
               {0.0, 3.9302962368947515285, -5.9410338721315047347, 2.490627285651252793},
               {0.0, -12.4110771669336769837, 30.3381886302823215982, -16.54810288924490272},
               {0.0, 37.509313416511039195, -88.1789048947664011014, 47.37952196281928122},
               {0.0, -27.8965262891972878059, 65.0918946747936715263, -34.87065786149660974},
               {0.0, 1.5, -4.0, 2.5}}}};

// Prince & Dormand, "High order embedded Runge-Kutta formulae", J. Comput. Appl. Math. 7(1),
// 1981: RK8(7)13M, an eighth-order solution with a seventh-order embedded estimate (the
// "dopri8" of torchdiffeq and diffrax). The published coefficients are rational
// approximations, as below. 13 stages, not FSAL. No continuous extension of its order is
// published without extra stages (Bogacki & Shampine's costs none but is fifth order), so
// states inside a step come from a fresh step (dense_by_restep).
inline constexpr Tableau dopri8{
    .name = "dopri8",
    .stages = 13,
    .order = 8,
    .error_order = 7,
    .c = {0.0, 1.0 / 18, 1.0 / 12, 1.0 / 8, 5.0 / 16, 3.0 / 8, 59.0 / 400, 93.0 / 200,
          5490023248.0 / 9719169821, 13.0 / 20, 1201146811.0 / 1299019798, 1.0, 1.0},
    .a = {{{},
           {1.0 / 18},
           {1.0 / 48, 1.0 / 16},
           {1.0 / 32, 0.0, 3.0 / 32},
           {5.0 / 16, 0.0, -75.0 / 64, 75.0 / 64},
           {3.0 / 80, 0.0, 0.0, 3.0 / 16, 3.0 / 20},
           {29443841.0 / 614563906, 0.0, 0.0, 77736538.0 / 692538347, -28693883.0 / 1125000000,
            23124283.0 / 1800000000},
           {16016141.0 / 946692911, 0.0, 0.0, 61564180.0 / 158732637, 22789713.0 / 633445777,
            545815736.0 / 2771057229, -180193667.0 / 1043307555},
           {39632708.0 / 573591083, 0.0, 0.0, -433636366.0 / 683701615, -421739975.0 / 2616292301,
            100302831.0 / 723423059, 790204164.0 / 839813087, 800635310.0 / 3783071287},
           {246121993.0 / 1340847787, 0.0, 0.0, -37695042795.0 / 15268766246,
            -309121744.0 / 1061227803, -12992083.0 / 490766935, 6005943493.0 / 2108947869,
            393006217.0 / 1396673457, 123872331.0 / 1001029789},
           {-1028468189.0 / 846180014, 0.0, 0.0, 8478235783.0 / 508512852,
            1311729495.0 / 1432422823, -10304129995.0 / 1701304382, -48777925059.0 / 3047939560,
            15336726248.0 / 1032824649, -45442868181.0 / 3398467696, 3065993473.0 / 597172653},
           {185892177.0 / 718116043, 0.0, 0.0, -3185094517.0 / 667107341, -477755414.0 / 1098053517,
            -703635378.0 / 230739211, 5731566787.0 / 1027545527, 5232866602.0 / 850066563,
            -4093664535.0 / 808688257, 3962137247.0 / 1805957418, 65686358.0 / 487910083},
           {403863854.0 / 491063109, 0.0, 0.0, -5068492393.0 / 434740067, -411421997.0 / 543043805,
            652783627.0 / 914296604, 11173962825.0 / 925320556, -13158990841.0 / 6184727034,
            3936647629.0 / 1978049680, -160528059.0 / 685178525, 248638103.0 / 1413531060, 0.0}}},
    .b = {14005451.0 / 335480064, 0.0, 0.0, 0.0, 0.0, -59238493.0 / 1068277825,
          181606767.0 / 758867731, 561292985.0 / 797845732, -1041891430.0 / 1371343529,
          760417239.0 / 1151165299, 118820643.0 / 751138087, -528747749.0 / 2220607170, 1.0 / 4},
    .b_hat = {13451932.0 / 455176623, 0.0, 0.0, 0.0, 0.0, -808719846.0 / 976000145,
              1757004468.0 / 5645159321, 656045339.0 / 265891186, -3867574721.0 / 1518517206,
              465885868.0 / 322736535, 53011238.0 / 667516719, 2.0 / 45, 0.0},
    .dense_by_restep = true};

}  // namespace tableaus
}  // namespace flowtape::solvers

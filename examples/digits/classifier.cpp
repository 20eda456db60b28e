// SPDX-License-Identifier: MIT
// The digit classifier; see classifier.hpp.
#include "examples/digits/classifier.hpp"

#include <vector>

#include "flowtape/flows/coupling.hpp"

namespace flowtape::examples {

DigitClassifier::DigitClassifier(Generator& init)
    : net_(std::make_shared<nn::MLP>(std::vector<std::int64_t>{64, 128, 10}, init,
                                     nn::Activation::relu)) {}

Tensor DigitClassifier::logits(const Tensor& x) const {
  return (*net_)(x);
}

void DigitClassifier::fit(const Tensor& x, const Tensor& y, int steps, Generator& gen) {
  nn::Adam opt(net_->parameters(), {.lr = 2e-3});
  const std::int64_t n = x.shape()[0], batch = std::min<std::int64_t>(128, n);
  const std::vector<double> labels = y.to_vector();
  for (int s = 0; s < steps; ++s) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(batch));
    std::vector<double> onehot(static_cast<std::size_t>(batch * 10), 0.0);
    for (std::int64_t i = 0; i < batch; ++i) {
      rows[static_cast<std::size_t>(i)] =
          std::min(static_cast<std::int64_t>(gen.uniform() * double(n)), n - 1);
      onehot[static_cast<std::size_t>(
          i * 10 + static_cast<std::int64_t>(labels[static_cast<std::size_t>(rows[i])]))] = 1.0;
    }
    const Tensor xb = flows::take_rows(x, rows), target = from_vector(onehot, Shape{batch, 10});
    auto [loss, grads] = nn::loss_and_grad(net_->parameters(), [&] {
      const Tensor z = logits(xb);
      // Cross-entropy: log sum exp z - z_label, averaged.
      return mean(logsumexp(z, 1) - sum(z * target, 1));
    });
    opt.step(grads);
  }
}

Tensor DigitClassifier::predict(const Tensor& x) const {
  NoGrad no_grad;
  return argmax(logits(x), 1);
}

double DigitClassifier::accuracy(const Tensor& x, const Tensor& y) const {
  const std::vector<double> p = predict(x).to_vector(), t = y.to_vector();
  double right = 0;
  for (std::size_t i = 0; i < p.size(); ++i) right += p[i] == t[i];
  return p.empty() ? 0.0 : right / static_cast<double>(p.size());
}

}  // namespace flowtape::examples

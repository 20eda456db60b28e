// SPDX-License-Identifier: MIT
// The consumer project's own program without flowtape: its compile line is the baseline that
// tests/consumer/run.sh compares train_moons.cpp's against.
int main() {
  return 0;
}

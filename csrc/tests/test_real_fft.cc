// The real FFT against a direct DFT in long double, for every supported size.
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "errors.h"
#include "real_fft.h"

using namespace musicedge;

static std::vector<long double> direct_power(const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  const long double pi = 3.141592653589793238462643383279L;
  std::vector<long double> cos_table(n), sin_table(n);
  for (int j = 0; j < n; ++j) {
    cos_table[j] = std::cos(-2 * pi * j / n);
    sin_table[j] = std::sin(-2 * pi * j / n);
  }
  std::vector<long double> power(n / 2 + 1);
  for (int k = 0; k <= n / 2; ++k) {
    long double re = 0, im = 0;
    for (int t = 0, j = 0; t < n; ++t, j = (j + k) % n) {  // j = k t mod n
      re += x[t] * cos_table[j];
      im += x[t] * sin_table[j];
    }
    power[k] = re * re + im * im;
  }
  return power;
}

TEST(matches_direct_dft_for_every_size) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int n = 16; n <= 8192; n *= 2) {
    const int rows = 5;  // more than one SIMD group, and a partial one
    std::vector<float> x(static_cast<size_t>(rows) * n);
    for (float& v : x) v = normal(rng);
    std::vector<double> out(static_cast<size_t>(rows) * (n / 2 + 1));
    power_spectrum_rows(x.data(), rows, n, out.data());
    for (int r = 0; r < rows; r += 2) {
      const std::vector<float> row(x.begin() + static_cast<long>(r) * n, x.begin() + static_cast<long>(r + 1) * n);
      const auto ref = direct_power(row);
      long double peak = 0;
      for (auto v : ref) peak = std::max(peak, v);
      for (int k = 0; k <= n / 2; ++k) CHECK_NEAR(out[r * (n / 2 + 1) + k] / peak, ref[k] / peak, 1e-12);
    }
  }
}

TEST(a_pure_tone_lands_in_its_bin) {
  const int n = 1024, bin = 37;
  std::vector<float> x(n);
  for (int t = 0; t < n; ++t) x[t] = static_cast<float>(std::cos(2 * M_PI * bin * t / n));
  std::vector<double> out(n / 2 + 1);
  power_spectrum_rows(x.data(), 1, n, out.data());
  CHECK_NEAR(out[bin], (n / 2.0) * (n / 2.0), 1e-3);
  for (int k = 0; k <= n / 2; ++k)
    if (k != bin) CHECK(out[k] < 1e-6);
}

TEST(refuses_sizes_that_are_not_powers_of_two) {
  CHECK_THROWS(RealFFT(1000), ParameterError);
  CHECK_THROWS(RealFFT(8), ParameterError);
}

MUSICEDGE_TEST_MAIN

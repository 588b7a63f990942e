#include "real_fft.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "errors.h"

namespace musicedge {
namespace {
constexpr double kPi = 3.14159265358979323846;

inline Lanes splat(double v) { return Lanes{} + v; }

typedef int64_t LanesInt __attribute__((vector_size(32)));
typedef float Float4 __attribute__((vector_size(16)));
static_assert(kLanes == 4, "the packing transpose is written for four lanes");

// One radix-4 Stockham butterfly: y[0], y[s], y[2s], y[3s] from a, b, c, d and the twiddles w1..w3.
inline void butterfly4(const ComplexLanes& a, const ComplexLanes& b, const ComplexLanes& c, const ComplexLanes& d,
                       Lanes w1r, Lanes w1i, Lanes w2r, Lanes w2i, Lanes w3r, Lanes w3i, ComplexLanes* y, int s) {
  const Lanes apc_r = a.re + c.re, apc_i = a.im + c.im;
  const Lanes amc_r = a.re - c.re, amc_i = a.im - c.im;
  const Lanes bpd_r = b.re + d.re, bpd_i = b.im + d.im;
  const Lanes jbmd_r = d.im - b.im, jbmd_i = b.re - d.re;  // j (b - d)
  y[0].re = apc_r + bpd_r;
  y[0].im = apc_i + bpd_i;
  const Lanes t1r = amc_r - jbmd_r, t1i = amc_i - jbmd_i;
  y[s].re = w1r * t1r - w1i * t1i;
  y[s].im = w1r * t1i + w1i * t1r;
  const Lanes t2r = apc_r - bpd_r, t2i = apc_i - bpd_i;
  y[2 * s].re = w2r * t2r - w2i * t2i;
  y[2 * s].im = w2r * t2i + w2i * t2r;
  const Lanes t3r = amc_r + jbmd_r, t3i = amc_i + jbmd_i;
  y[3 * s].re = w3r * t3r - w3i * t3i;
  y[3 * s].im = w3r * t3i + w3i * t3r;
}

// Radix-4 butterflies with unit twiddles over q < s.
inline void radix4_unit(const ComplexLanes* a_, const ComplexLanes* b_, const ComplexLanes* c_,
                        const ComplexLanes* d_, ComplexLanes* y, int s) {
  for (int q = 0; q < s; ++q) {
    const ComplexLanes a = a_[q], b = b_[q], c = c_[q], d = d_[q];
    const Lanes apc_r = a.re + c.re, apc_i = a.im + c.im;
    const Lanes amc_r = a.re - c.re, amc_i = a.im - c.im;
    const Lanes bpd_r = b.re + d.re, bpd_i = b.im + d.im;
    const Lanes jbmd_r = d.im - b.im, jbmd_i = b.re - d.re;
    y[q].re = apc_r + bpd_r;
    y[q].im = apc_i + bpd_i;
    y[q + s].re = amc_r - jbmd_r;
    y[q + s].im = amc_i - jbmd_i;
    y[q + 2 * s].re = apc_r - bpd_r;
    y[q + 2 * s].im = apc_i - bpd_i;
    y[q + 3 * s].re = amc_r + jbmd_r;
    y[q + 3 * s].im = amc_i + jbmd_i;
  }
}

// Windowed z[k] and z[k + 1] (z[k] = x[2k] + i x[2k+1]) of four frames: four samples of each frame are
// loaded, widened and transposed so that each vector holds one sample of every frame.
inline void load_pair(const float* const* frames, const double* window, int k, ComplexLanes& z0, ComplexLanes& z1) {
  const int i = 2 * k;
  Float4 f[4];
  for (int v = 0; v < 4; ++v) std::memcpy(&f[v], frames[v] + i, sizeof(Float4));
  const Lanes r0 = __builtin_convertvector(f[0], Lanes), r1 = __builtin_convertvector(f[1], Lanes);
  const Lanes r2 = __builtin_convertvector(f[2], Lanes), r3 = __builtin_convertvector(f[3], Lanes);
  const Lanes t0 = __builtin_shuffle(r0, r1, LanesInt{0, 4, 2, 6});
  const Lanes t1 = __builtin_shuffle(r0, r1, LanesInt{1, 5, 3, 7});
  const Lanes t2 = __builtin_shuffle(r2, r3, LanesInt{0, 4, 2, 6});
  const Lanes t3 = __builtin_shuffle(r2, r3, LanesInt{1, 5, 3, 7});
  z0.re = __builtin_shuffle(t0, t2, LanesInt{0, 1, 4, 5}) * window[i];
  z0.im = __builtin_shuffle(t1, t3, LanesInt{0, 1, 4, 5}) * window[i + 1];
  z1.re = __builtin_shuffle(t0, t2, LanesInt{2, 3, 6, 7}) * window[i + 2];
  z1.im = __builtin_shuffle(t1, t3, LanesInt{2, 3, 6, 7}) * window[i + 3];
}
}  // namespace

void RealFFT::first_stage(const float* const* frames, const double* window, ComplexLanes* dst) const {
  // Stride 1, length n / 2: inputs p, p + q4, p + 2 q4, p + 3 q4, loaded straight from the frames,
  // two values of p at a time.
  const int q4 = n_ / 8;
  const double* tw = twiddles_.data();
  for (int p = 0; p < q4; p += 2, tw += 12) {
    ComplexLanes a0, a1, b0, b1, c0, c1, d0, d1;
    load_pair(frames, window, p, a0, a1);
    load_pair(frames, window, p + q4, b0, b1);
    load_pair(frames, window, p + 2 * q4, c0, c1);
    load_pair(frames, window, p + 3 * q4, d0, d1);
    butterfly4(a0, b0, c0, d0, splat(tw[0]), splat(tw[1]), splat(tw[2]), splat(tw[3]), splat(tw[4]), splat(tw[5]),
               dst + 4 * p, 1);
    butterfly4(a1, b1, c1, d1, splat(tw[6]), splat(tw[7]), splat(tw[8]), splat(tw[9]), splat(tw[10]),
               splat(tw[11]), dst + 4 * (p + 1), 1);
  }
}

const char* simd_level() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__SSE2__)
  return "sse2";
#else
  return "generic";
#endif
}

RealFFT::RealFFT(int n) : n_(n) {
  if (n < 16 || (n & (n - 1)) != 0) throw ParameterError("FFT size must be a power of two >= 16");
  const int m = n / 2;  // complex transform length
  int len = m, stride = 1;
  while (len >= 4) {
    Stage stage{len, stride, static_cast<int>(twiddles_.size())};
    for (int p = 0; p < len / 4; ++p) {
      for (int k = 1; k <= 3; ++k) {
        const double angle = -2 * kPi * k * p / len;
        twiddles_.push_back(std::cos(angle));
        twiddles_.push_back(std::sin(angle));
      }
    }
    stages_.push_back(stage);
    len /= 4;
    stride *= 4;
  }
  final_radix2_ = (len == 2);
  final_stride_ = stride;
  split_.resize(2 * (m + 1));
  for (int k = 0; k <= m; ++k) {
    const double angle = -2 * kPi * k / n;
    split_[2 * k] = std::cos(angle);
    split_[2 * k + 1] = std::sin(angle);
  }
}

void RealFFT::power_spectrum(const float* const* frames, const double* window, ComplexLanes* work_a,
                             ComplexLanes* work_b, Lanes* out) const {
  const int m = n_ / 2;
  first_stage(frames, window, work_a);
  ComplexLanes* src = work_a;
  ComplexLanes* dst = work_b;
  for (size_t stage = 1; stage < stages_.size(); ++stage) {
    const Stage& st = stages_[stage];
    const int q4 = st.n / 4, s = st.stride;
    const double* tw = twiddles_.data() + st.twiddle_offset;
    // p = 0: unit twiddles.
    radix4_unit(src, src + s * q4, src + 2 * s * q4, src + 3 * s * q4, dst, s);
    tw += 6;
    for (int p = 1; p < q4; ++p, tw += 6) {
      const Lanes w1r = splat(tw[0]), w1i = splat(tw[1]);
      const Lanes w2r = splat(tw[2]), w2i = splat(tw[3]);
      const Lanes w3r = splat(tw[4]), w3i = splat(tw[5]);
      const ComplexLanes* a_ = src + s * p;
      const ComplexLanes* b_ = src + s * (p + q4);
      const ComplexLanes* c_ = src + s * (p + 2 * q4);
      const ComplexLanes* d_ = src + s * (p + 3 * q4);
      ComplexLanes* y = dst + s * 4 * p;
      for (int q = 0; q < s; ++q) butterfly4(a_[q], b_[q], c_[q], d_[q], w1r, w1i, w2r, w2i, w3r, w3i, y + q, s);
    }
    std::swap(src, dst);
  }
  if (final_radix2_) {
    const int s = final_stride_;
    for (int q = 0; q < s; ++q) {
      const ComplexLanes a = src[q], b = src[q + s];
      dst[q].re = a.re + b.re;
      dst[q].im = a.im + b.im;
      dst[q + s].re = a.re - b.re;
      dst[q + s].im = a.im - b.im;
    }
    std::swap(src, dst);
  }
  // Split step: X[k] = E + W^k O with E = (Z[k] + conj Z[m-k]) / 2, O = (Z[k] - conj Z[m-k]) / 2i;
  // bins k and m - k share E and O: X[m-k] = conj(E - W^k O). Bins 0 and m come from Z[0] alone.
  const Lanes half = splat(0.5);
  const Lanes re0 = src[0].re, im0 = src[0].im;
  out[0] = (re0 + im0) * (re0 + im0);
  out[m] = (re0 - im0) * (re0 - im0);
  for (int k = 1; k <= m / 2; ++k) {
    const ComplexLanes zk = src[k], zc = src[m - k];
    const Lanes er = (zk.re + zc.re) * half, ei = (zk.im - zc.im) * half;
    const Lanes orr = (zk.im + zc.im) * half, oi = (zc.re - zk.re) * half;
    const Lanes wr = splat(split_[2 * k]), wi = splat(split_[2 * k + 1]);
    const Lanes tr = wr * orr - wi * oi, ti = wr * oi + wi * orr;
    const Lanes pr = er + tr, pi = ei + ti, mr = er - tr, mi = ei - ti;
    out[k] = pr * pr + pi * pi;
    out[m - k] = mr * mr + mi * mi;
  }
}

void power_spectrum_rows(const float* x, int64_t frames, int n, double* out) {
  const RealFFT fft(n);
  const std::vector<double> ones(n, 1.0);
  std::vector<ComplexLanes> a(n / 2), b(n / 2);
  std::vector<Lanes> spectrum(n / 2 + 1);
  for (int64_t f0 = 0; f0 < frames; f0 += kLanes) {
    const float* rows[kLanes];
    for (int v = 0; v < kLanes; ++v) rows[v] = x + std::min<int64_t>(f0 + v, frames - 1) * n;
    fft.power_spectrum(rows, ones.data(), a.data(), b.data(), spectrum.data());
    for (int v = 0; v < kLanes && f0 + v < frames; ++v)
      for (int k = 0; k <= n / 2; ++k) out[(f0 + v) * (n / 2 + 1) + k] = spectrum[k][v];
  }
}

}  // namespace musicedge

#include "real_fft.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "errors.h"

namespace musicedge {
namespace {
constexpr double kPi = 3.14159265358979323846;

static_assert(kLanes == 4, "the packing and the lane order are written for four lanes");

// v in every lane: a broadcast (Lanes{} + v would be an add as well)
MUSICEDGE_INLINE Lanes splat(double v) { return Lanes{v, v, v, v}; }

typedef double Double4 __attribute__((vector_size(32)));
typedef int64_t Int4 __attribute__((vector_size(32)));
typedef float Float4 __attribute__((vector_size(16)));
typedef float Float8 __attribute__((vector_size(32)));

// A ComplexLanes as a Pair. With AVX-512 it is one register: (re, im) of frame 0, 2, 1, 3. Swapping re
// and im stays inside 128-bit lanes, which costs one cheap shuffle, so a complex multiply is a
// shuffle, a multiply and an FMA. Otherwise it is two Lanes (GCC handles 64-byte vector types on AVX2
// badly, through general registers, and the fused radix-16 passes would not fit in 16 registers),
// laid out as below.
#if defined(__AVX512F__)
typedef double Pair __attribute__((vector_size(64)));
typedef int64_t PairInt __attribute__((vector_size(64)));
constexpr bool kFuseLevels = true;

MUSICEDGE_INLINE Pair repeat2(double a, double b) { return Pair{a, b, a, b, a, b, a, b}; }
MUSICEDGE_INLINE Pair swap_re_im(Pair v) { return __builtin_shuffle(v, PairInt{1, 0, 3, 2, 5, 4, 7, 6}); }
MUSICEDGE_INLINE Lanes low_half(Pair v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3); }
MUSICEDGE_INLINE Lanes high_half(Pair v) { return __builtin_shufflevector(v, v, 4, 5, 6, 7); }
// (a, b) of two doubles in memory over the four frames; GCC would split it in halves unless told
MUSICEDGE_INLINE Pair broadcast2(const double* ab) { return (Pair)_mm512_maskz_broadcast_f64x2(0xFF, _mm_loadu_pd(ab)); }
MUSICEDGE_INLINE Pair widen(Float8 f) { return (Pair)_mm512_maskz_cvtps_pd(0xFF, (__m256)f); }
// p * p and q * q (squares of re and im, frames 0, 2, 1, 3) to |p|^2 and |q|^2 in frame order
MUSICEDGE_INLINE void store_powers(Pair pp, Pair qq, Lanes* p_out, Lanes* q_out) {
  const Pair power = __builtin_shuffle(pp, qq, PairInt{0, 8, 2, 10, 4, 12, 6, 14}) +
                     __builtin_shuffle(pp, qq, PairInt{1, 9, 3, 11, 5, 13, 7, 15});
  const Pair ordered = __builtin_shuffle(power, PairInt{0, 4, 2, 6, 1, 5, 3, 7});
  *p_out = low_half(ordered);
  *q_out = high_half(ordered);
}
#else
// Without AVX-512 a ComplexLanes is the real parts of the four frames, then their imaginary parts:
// a complex multiply is then four multiplies and FMAs with no shuffle, and multiplying by j only
// swaps which part is added and which subtracted.
struct Pair {
  Lanes re, im;  // frames 0, 1, 2, 3 in order
};
constexpr bool kFuseLevels = false;
MUSICEDGE_INLINE Pair operator+(Pair a, Pair b) { return {a.re + b.re, a.im + b.im}; }
MUSICEDGE_INLINE Pair operator-(Pair a, Pair b) { return {a.re - b.re, a.im - b.im}; }
// four floats to four doubles in one instruction (GCC splits the generic conversion in halves)
MUSICEDGE_INLINE Lanes widen4(Float4 f) {
#if defined(__AVX__)
  return (Lanes)_mm256_cvtps_pd((__m128)f);
#else
  return __builtin_convertvector(f, Lanes);
#endif
}
#endif
static_assert(sizeof(Pair) == sizeof(ComplexLanes), "a Pair is one ComplexLanes");

// one vector load or store per register (a 64-byte copy into the two-register Pair went through the
// stack in 16-byte pieces)
MUSICEDGE_INLINE Lanes load_lanes(const double* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
#if defined(__AVX512F__)
MUSICEDGE_INLINE Pair load(const ComplexLanes* p) {
  Pair v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
MUSICEDGE_INLINE void store(ComplexLanes* p, Pair v) { std::memcpy(p, &v, sizeof v); }

// w as the two vectors of t * w = t * r + swap(t) * i: r = (wr, wr), i = (-wi, wi) for every frame.
// w points at the table entry re, re, -im, im.
struct Twiddle {
  Pair r, i;
};
MUSICEDGE_INLINE Twiddle twiddle(const double* w) { return {broadcast2(w), broadcast2(w + 2)}; }
MUSICEDGE_INLINE Pair cmul(Pair t, const Twiddle& w) { return t * w.r + swap_re_im(t) * w.i; }
MUSICEDGE_INLINE Pair times_j(Pair v) { return swap_re_im(v) * repeat2(-1, 1); }
MUSICEDGE_INLINE Pair minus_j_times(Pair a, Pair b) { return a - times_j(b); }       // a - j b
MUSICEDGE_INLINE Pair plus_j_times(Pair a, Pair b) { return a + times_j(b); }        // a + j b
MUSICEDGE_INLINE Pair plus_conj(Pair a, Pair b) { return a + b * repeat2(1, -1); }   // a + conj b
MUSICEDGE_INLINE Pair minus_conj(Pair a, Pair b) { return a - b * repeat2(1, -1); }  // a - conj b
// A Pair's real and imaginary parts as Lanes, the frames back in order 0, 1, 2, 3.
MUSICEDGE_INLINE void split_re_im(Pair z, Lanes& re, Lanes& im) {
  const Lanes lo = low_half(z);   // re0 im0 re2 im2
  const Lanes hi = high_half(z);  // re1 im1 re3 im3
  re = __builtin_shuffle(lo, hi, Int4{0, 4, 2, 6});
  im = __builtin_shuffle(lo, hi, Int4{1, 5, 3, 7});
}
#else
MUSICEDGE_INLINE Pair load(const ComplexLanes* p) { return {load_lanes(p->values), load_lanes(p->values + 4)}; }
MUSICEDGE_INLINE void store(ComplexLanes* p, Pair v) {
  std::memcpy(p->values, &v.re, sizeof v.re);
  std::memcpy(p->values + 4, &v.im, sizeof v.im);
}

// w's real and imaginary parts, each in every lane; w points at the table entry re, re, -im, im.
struct Twiddle {
  Lanes r, i;
};
MUSICEDGE_INLINE Twiddle twiddle(const double* w) { return {splat(w[0]), splat(w[3])}; }
MUSICEDGE_INLINE Pair cmul(Pair t, const Twiddle& w) { return {t.re * w.r - t.im * w.i, t.re * w.i + t.im * w.r}; }
MUSICEDGE_INLINE Pair minus_j_times(Pair a, Pair b) { return {a.re + b.im, a.im - b.re}; }  // a - j b
MUSICEDGE_INLINE Pair plus_j_times(Pair a, Pair b) { return {a.re - b.im, a.im + b.re}; }   // a + j b
MUSICEDGE_INLINE Pair plus_conj(Pair a, Pair b) { return {a.re + b.re, a.im - b.im}; }     // a + conj b
MUSICEDGE_INLINE Pair minus_conj(Pair a, Pair b) { return {a.re - b.re, a.im + b.im}; }    // a - conj b
MUSICEDGE_INLINE void split_re_im(Pair z, Lanes& re, Lanes& im) {
  re = z.re;
  im = z.im;
}
#endif

// One radix-4 decimation-in-frequency butterfly with unit twiddles (the last level, whose blocks are
// one butterfly long): y[0..3] from a, b, c, d.
MUSICEDGE_INLINE void butterfly4_unit(Pair a, Pair b, Pair c, Pair d, Pair* y) {
  const Pair apc = a + c, amc = a - c, bpd = b + d, bmd = b - d;
  y[0] = apc + bpd;
  y[1] = minus_j_times(amc, bmd);
  y[2] = apc - bpd;
  y[3] = plus_j_times(amc, bmd);
}

// The same with the twiddles w[0..2] (w1, w2, w3) applied to outputs 1..3.
MUSICEDGE_INLINE void butterfly4(Pair a, Pair b, Pair c, Pair d, const Twiddle* w, Pair* y) {
  butterfly4_unit(a, b, c, d, y);
  for (int l = 1; l < 4; ++l) y[l] = cmul(y[l], w[l - 1]);
}

#if defined(__AVX512F__)
// Windowed z[k] and z[k + 1] (z[k] = x[2k] + i x[2k+1]) of four frames. Four samples of a frame are
// (re, im) of z[k] and of z[k + 1] already; the in-lane unpacks gather them across the frames, in
// the lane order 0, 2, 1, 3.
MUSICEDGE_INLINE void load_pair(const float* const* frames, const double* window, int k, Pair& z0, Pair& z1) {
  const int i = 2 * k;
  Float4 f[4];
  for (int v = 0; v < 4; ++v) std::memcpy(&f[v], frames[v] + i, sizeof(Float4));
  const Double4 f01 = (Double4)__builtin_shufflevector(f[0], f[1], 0, 1, 2, 3, 4, 5, 6, 7);
  const Double4 f23 = (Double4)__builtin_shufflevector(f[2], f[3], 0, 1, 2, 3, 4, 5, 6, 7);
  // each double of f01 / f23 is the bit pattern of one (re, im) float pair
  const Float8 lo = (Float8)__builtin_shuffle(f01, f23, Int4{0, 4, 2, 6});
  const Float8 hi = (Float8)__builtin_shuffle(f01, f23, Int4{1, 5, 3, 7});
  z0 = widen(lo) * broadcast2(window + i);
  z1 = widen(hi) * broadcast2(window + i + 2);
}
#else
// Windowed z[k] (z[k] = x[2k] + i x[2k+1]) of four frames: one 8-byte load per frame, frames 0 and
// 2 into one register and 1 and 3 into the other, so that after widening, one in-lane unpack
// gathers the real parts in frame order and another the imaginary parts.
MUSICEDGE_INLINE Pair load_one(const float* const* frames, const double* window, int k) {
  typedef double Double2 __attribute__((vector_size(16)));
  double f[4];  // each the bit pattern of one frame's (re, im) float pair
  for (int v = 0; v < 4; ++v) std::memcpy(&f[v], frames[v] + 2 * k, sizeof(double));
  const Lanes even = widen4((Float4)Double2{f[0], f[2]});  // re0 im0 re2 im2
  const Lanes odd = widen4((Float4)Double2{f[1], f[3]});   // re1 im1 re3 im3
  return {__builtin_shuffle(even, odd, Int4{0, 4, 2, 6}) * window[2 * k],
          __builtin_shuffle(even, odd, Int4{1, 5, 3, 7}) * window[2 * k + 1]};
}
#endif

// In-place radix-4 decimation in frequency over each of the `blocks` consecutive blocks of n values
// at x: butterfly p reads p + l n/4 (l = 0..3), twiddles tw (12 doubles per p), and writes its output
// l back to the same place.
void radix4_pass(ComplexLanes* x, int blocks, int n, const double* tw) {
  const int q4 = n / 4;
  ComplexLanes* const end = x + blocks * n;
  if (n == 4) {
    for (ComplexLanes* b = x; b < end; b += 4) {
      Pair y[4];
      butterfly4_unit(load(b), load(b + 1), load(b + 2), load(b + 3), y);
      for (int l = 0; l < 4; ++l) store(b + l, y[l]);
    }
    return;
  }
  for (int p = 0; p < q4; ++p, tw += 12) {
    const Twiddle w[3] = {twiddle(tw), twiddle(tw + 4), twiddle(tw + 8)};
    for (ComplexLanes* b = x + p; b < end; b += n) {
      Pair y[4];
      butterfly4(load(b), load(b + q4), load(b + 2 * q4), load(b + 3 * q4), w, y);
      for (int l = 0; l < 4; ++l) store(b + l * q4, y[l]);
    }
  }
}

// Two radix-4 levels in one pass over each of the `blocks` consecutive blocks of n values at x: level
// one over the block (twiddles tw1), level two over its quarters (tw2; units when n is 16). Level-one
// butterflies p' + k n/16 (k = 0..3) feed butterfly p' of every quarter, so the 16 values stay in
// registers.
template <bool kUnitLevelTwo>
void radix16_pass(ComplexLanes* x, int blocks, int n, const double* tw1, const double* tw2) {
  const int q4 = n / 4, q16 = n / 16;
  for (int pp = 0; pp < q16; ++pp) {
    Twiddle w1[4][3];
    for (int k = 0; k < 4; ++k)
      for (int t = 0; t < 3; ++t) w1[k][t] = twiddle(tw1 + 12 * (pp + k * q16) + 4 * t);
    const Twiddle w2[3] = {twiddle(tw2 + 12 * pp), twiddle(tw2 + 12 * pp + 4), twiddle(tw2 + 12 * pp + 8)};
    for (ComplexLanes* b = x + pp; b < x + blocks * n; b += n) {
      Pair u[4][4];  // u[k][j]: output j of level-one butterfly pp + k n/16, bound for quarter j
      for (int k = 0; k < 4; ++k) {
        const ComplexLanes* in = b + k * q16;
        butterfly4(load(in), load(in + q4), load(in + 2 * q4), load(in + 3 * q4), w1[k], u[k]);
      }
      for (int j = 0; j < 4; ++j) {
        Pair v[4];
        if (kUnitLevelTwo) butterfly4_unit(u[0][j], u[1][j], u[2][j], u[3][j], v);
        else butterfly4(u[0][j], u[1][j], u[2][j], u[3][j], w2, v);
        for (int l = 0; l < 4; ++l) store(b + j * q4 + l * q16, v[l]);
      }
    }
  }
}

}  // namespace

void RealFFT::first_stage(const float* const* frames, const double* window, ComplexLanes* dst) const {
  // The first radix-4 level over all n / 2 values: inputs p, p + q4, p + 2 q4, p + 3 q4, loaded
  // straight from the frames; outputs to the same places in dst.
  const int q4 = n_ / 8;
  const double* tw = twiddles_.data();
#if defined(__AVX512F__)
  // two values of p at a time: each 16-byte load of a frame holds z[p] and z[p + 1]
  for (int p = 0; p < q4; p += 2, tw += 24) {
    Pair a0, a1, b0, b1, c0, c1, d0, d1;
    load_pair(frames, window, p, a0, a1);
    load_pair(frames, window, p + q4, b0, b1);
    load_pair(frames, window, p + 2 * q4, c0, c1);
    load_pair(frames, window, p + 3 * q4, d0, d1);
    const Twiddle w0[3] = {twiddle(tw), twiddle(tw + 4), twiddle(tw + 8)};
    const Twiddle w1[3] = {twiddle(tw + 12), twiddle(tw + 16), twiddle(tw + 20)};
    Pair y[4];
    butterfly4(a0, b0, c0, d0, w0, y);
    for (int l = 0; l < 4; ++l) store(dst + p + l * q4, y[l]);
    butterfly4(a1, b1, c1, d1, w1, y);
    for (int l = 0; l < 4; ++l) store(dst + p + 1 + l * q4, y[l]);
  }
#else
  for (int p = 0; p < q4; ++p, tw += 12) {
    const Twiddle w[3] = {twiddle(tw), twiddle(tw + 4), twiddle(tw + 8)};
    Pair y[4];
    butterfly4(load_one(frames, window, p), load_one(frames, window, p + q4), load_one(frames, window, p + 2 * q4),
               load_one(frames, window, p + 3 * q4), w, y);
    for (int l = 0; l < 4; ++l) store(dst + p + l * q4, y[l]);
  }
#endif
}

std::vector<double> RealFFT::halve(std::vector<double> window) {
  for (double& w : window) w *= 0.5;
  return window;
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
  int len = m;
  while (len >= 4) {
    Stage stage{len, static_cast<int>(twiddles_.size())};
    for (int p = 0; p < len / 4; ++p) {
      for (int k = 1; k <= 3; ++k) {
        const double angle = -2 * kPi * k * p / len;
        twiddles_.insert(twiddles_.end(), {std::cos(angle), std::cos(angle), -std::sin(angle), std::sin(angle)});
      }
    }
    stages_.push_back(stage);
    len /= 4;
  }
  final_radix2_ = (len == 2);
  // Decimation in frequency leaves the bins in digit-reversed order: a block of `size` values at
  // `base` holds bins first, first + step, ...; its radix-r level sends bins first + j step to part j.
  position_.resize(m);
  auto place = [&](auto&& self, int base, int size, int first, int step) -> void {
    if (size == 1) {
      position_[first] = base;
      return;
    }
    const int r = size >= 4 ? 4 : 2;
    for (int j = 0; j < r; ++j) self(self, base + j * (size / r), size / r, first + j * step, step * r);
  };
  place(place, 0, m, 0, 1);
  split_.resize(4 * (m + 1));
  for (int k = 0; k <= m; ++k) {
    const double angle = -2 * kPi * k / n;
    // -i W^k, the split step's factor
    const double w[4] = {std::sin(angle), std::sin(angle), std::cos(angle), -std::cos(angle)};
    std::copy(w, w + 4, split_.begin() + 4 * k);
  }
}

void RealFFT::power_spectrum(const float* const* frames, const double* window, ComplexLanes* work,
                             Lanes* out) const {
  const int m = n_ / 2;
  first_stage(frames, window, work);
  // Depth first: the first level leaves four independent quarters; each goes through all the later
  // levels while its m / 4 values sit in L1. The levels go two at a time where the 16 values fit in
  // registers (AVX-512's 32; AVX2's 16 would spill them).
  const int quarter = m / 4;
  for (ComplexLanes* block = work; block < work + m; block += quarter) {
    size_t stage = 1;
    for (; kFuseLevels && stage + 1 < stages_.size(); stage += 2) {
      const Stage& st = stages_[stage];
      const double* tw1 = twiddles_.data() + st.twiddle_offset;
      const double* tw2 = twiddles_.data() + stages_[stage + 1].twiddle_offset;
      if (st.n == 16) radix16_pass<true>(block, quarter / 16, 16, tw1, tw2);
      else radix16_pass<false>(block, quarter / st.n, st.n, tw1, tw2);
    }
    for (; stage < stages_.size(); ++stage) {
      const Stage& st = stages_[stage];
      radix4_pass(block, quarter / st.n, st.n, twiddles_.data() + st.twiddle_offset);
    }
    if (final_radix2_) {
      for (ComplexLanes* b = block; b < block + quarter; b += 2) {
        const Pair u = load(b), v = load(b + 1);
        store(b, u + v);
        store(b + 1, u - v);
      }
    }
  }
  const ComplexLanes* src = work;
  const int* at = position_.data();  // Z[k] is src[at[k]]
  // Split step: X[k] = E + W^k O with E = (Z[k] + conj Z[m-k]) / 2, O = (Z[k] - conj Z[m-k]) / 2i;
  // bins k and m - k share E and O: X[m-k] = conj(E - W^k O). Bins 0 and m come from Z[0] alone.
  Lanes re0, im0;
  split_re_im(load(src + at[0]), re0, im0);
  const Lanes dc = 2.0 * (re0 + im0), nyquist = 2.0 * (re0 - im0);
  out[0] = dc * dc;
  out[m] = nyquist * nyquist;
  // The window was halved, so z holds Z / 2: E = z[k] + conj z[m-k] and W^k O = -i W^k (z[k] - conj z[m-k]).
  for (int k = 1; k <= m / 2; ++k) {
    const Pair zk = load(src + at[k]), zc = load(src + at[m - k]);
    const Pair e = plus_conj(zk, zc);
    const Pair t = cmul(minus_conj(zk, zc), twiddle(split_.data() + 4 * k));
    const Pair p = e + t, q = e - t;
#if defined(__AVX512F__)
    store_powers(p * p, q * q, out + k, out + m - k);
#else
    out[k] = p.re * p.re + p.im * p.im;
    out[m - k] = q.re * q.re + q.im * q.im;
#endif
  }
}

void power_spectrum_rows(const float* x, int64_t frames, int n, double* out) {
  const RealFFT fft(n);
  const std::vector<double> window = RealFFT::halve(std::vector<double>(n, 1.0));
  std::vector<ComplexLanes> work(n / 2);
  std::vector<Lanes> spectrum(n / 2 + 1);
  for (int64_t f0 = 0; f0 < frames; f0 += kLanes) {
    const float* rows[kLanes];
    for (int v = 0; v < kLanes; ++v) rows[v] = x + std::min<int64_t>(f0 + v, frames - 1) * n;
    fft.power_spectrum(rows, window.data(), work.data(), spectrum.data());
    for (int v = 0; v < kLanes && f0 + v < frames; ++v)
      for (int k = 0; k <= n / 2; ++k) out[(f0 + v) * (n / 2 + 1) + k] = spectrum[k][v];
  }
}

}  // namespace musicedge

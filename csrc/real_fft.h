// A real FFT for power-of-two sizes, computing several frames at once: one SIMD lane per frame.
//
// A real transform of size N is a complex transform of size N/2 over (x[2k], x[2k+1]) followed by a
// split step; the complex transform is a Stockham autosort FFT (radix 4, one radix-2 pass when
// log2(N/2) is odd), so no bit reversal is needed. Arithmetic is double precision, so the power
// spectrum is exact to float32 output even 100 dB below the loudest bin.
#pragma once

#include <cstdint>
#include <vector>

namespace musicedge {

// Lanes of the SIMD vectors the FFT works on (GCC/Clang vector extension: AVX when the build has it,
// two SSE2 halves otherwise).
typedef double Lanes __attribute__((vector_size(32)));
constexpr int kLanes = sizeof(Lanes) / sizeof(double);

// The widest x86 vector extension the core was compiled for ("avx512", "avx2", "sse2", "generic").
const char* simd_level();

struct ComplexLanes {
  Lanes re, im;
};

class RealFFT {
 public:
  explicit RealFFT(int n);  // n: a power of two, at least 16

  int size() const { return n_; }

  // frames: kLanes pointers to n float samples each (one frame per lane); window: n weights.
  // out: |X[k]|^2 of the windowed frames for k = 0 .. n/2, one frame per lane (n/2 + 1 entries).
  // work_a, work_b: n / 2 entries of scratch each.
  // The windowing and the packing z[k] = x[2k] + i x[2k+1] are fused into the first FFT pass.
  void power_spectrum(const float* const* frames, const double* window, ComplexLanes* work_a,
                      ComplexLanes* work_b, Lanes* out) const;

 private:
  void first_stage(const float* const* frames, const double* window, ComplexLanes* dst) const;

  struct Stage {
    int n;            // sub-transform length at this stage
    int stride;       // distance between its elements
    int twiddle_offset;  // index into twiddles_ (3 complex per p for radix 4)
  };
  int n_;
  std::vector<Stage> stages_;
  bool final_radix2_ = false;
  int final_stride_ = 0;
  std::vector<double> twiddles_;  // per stage, per p: w1.re, w1.im, w2.re, w2.im, w3.re, w3.im
  std::vector<double> split_;     // split step: cos, sin of 2 pi k / n for k = 0 .. n/2
};

// |rfft(x)|^2 of `frames` rows of n samples (row-major), no window, into out (frames x (n/2 + 1)).
void power_spectrum_rows(const float* x, int64_t frames, int n, double* out);

}  // namespace musicedge

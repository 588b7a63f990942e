// A real FFT for power-of-two sizes, computing four frames at once: one SIMD lane per frame.
//
// A real transform of size N is a complex transform of size N/2 over (x[2k], x[2k+1]) followed by a
// split step. The complex transform is an in-place decimation in frequency (radix 4, one radix-2 level
// when log2(N/2) is odd), run depth first, which leaves the bins in digit-reversed places that the split
// step reads back. With AVX-512 the levels after the first go two at a time (radix-16 passes) on
// (re, im) pairs; AVX2 and older builds keep real and imaginary parts in separate vectors instead.
// Arithmetic is double precision, so the power spectrum is exact to float32 output even 100 dB below
// the loudest bin.
#pragma once

#include <cstdint>
#include <vector>

namespace musicedge {

// For the helpers that take or return SIMD vectors: inlined always, since without AVX-512 a call would
// pass the 64-byte ones through memory.
#define MUSICEDGE_INLINE inline __attribute__((always_inline))

// Lanes of the SIMD vectors the FFT works on (GCC/Clang vector extension: AVX when the build has it,
// two SSE2 halves otherwise).
typedef double Lanes __attribute__((vector_size(32)));
constexpr int kLanes = sizeof(Lanes) / sizeof(double);

// The widest x86 vector extension the core was compiled for ("avx512", "avx2", "sse2", "generic").
const char* simd_level();

// One complex value of each of the kLanes frames, as the FFT keeps it between stages: one 64-byte
// cache line. With AVX-512 it is one vector, each frame's (re, im) side by side, the frames in the
// lane order 0, 2, 1, 3; otherwise the four real parts in frame order, then the four imaginary parts.
struct alignas(64) ComplexLanes {
  double values[2 * kLanes];
};

class RealFFT {
 public:
  explicit RealFFT(int n);  // n: a power of two, at least 16

  int size() const { return n_; }

  // frames: kLanes pointers to n float samples each (one frame per lane); half_window: the n weights
  // of the window, halved by halve() (exact in binary; it saves the split step its factors 1/2).
  // out: |X[k]|^2 of the windowed frames for k = 0 .. n/2, one frame per lane (n/2 + 1 entries).
  // work: n / 2 entries of scratch.
  // The windowing and the packing z[k] = x[2k] + i x[2k+1] are fused into the first FFT pass.
  void power_spectrum(const float* const* frames, const double* half_window, ComplexLanes* work, Lanes* out) const;
  static std::vector<double> halve(std::vector<double> window);

 private:
  void first_stage(const float* const* frames, const double* window, ComplexLanes* dst) const;

  struct Stage {
    int n;               // length of the blocks this level's butterflies span
    int twiddle_offset;  // index into twiddles_ (3 complex per p for radix 4)
  };
  int n_;
  std::vector<Stage> stages_;
  bool final_radix2_ = false;
  std::vector<int> position_;     // where the complex transform leaves bin k
  std::vector<double> twiddles_;  // per stage, per p, for w1, w2, w3: re, re, -im, im
  std::vector<double> split_;     // split step: -i W^k, W = exp(-2 pi i / n), k = 0 .. n/2, as re, re, -im, im
};

// |rfft(x)|^2 of `frames` rows of n samples (row-major), no window, into out (frames x (n/2 + 1)).
void power_spectrum_rows(const float* x, int64_t frames, int n, double* out);

}  // namespace musicedge

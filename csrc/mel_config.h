// Mel spectrogram settings (librosa's names and meanings) and the tables derived from them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace musicedge {

struct MelConfig {
  double sample_rate = 22050;
  int n_fft = 2048;
  int hop_length = 512;
  int win_length = 0;            // 0: n_fft
  std::string window = "hann";   // hann | hamming | blackman | rectangular (periodic, as scipy's fftbins=True)
  bool center = true;            // pad n_fft / 2 on both sides
  std::string pad_mode = "constant";  // constant | reflect (numpy.pad's meanings)
  int n_mels = 128;
  double fmin = 0.0;
  double fmax = -1.0;            // < 0: sample_rate / 2
  bool htk = false;              // HTK mel scale instead of Slaney's
  std::string norm = "slaney";   // slaney | none
  double power = 2.0;            // exponent of the magnitude
  std::string log = "none";      // none | db (10 log10(max(S, amin)), librosa.power_to_db with ref=1, top_db=None)
  double amin = 1e-10;

  static constexpr int kMinFft = 128;
  static constexpr int kMaxFft = 8192;

  // Throws ParameterError naming the offending parameter. Also refuses a mel bank with empty filters.
  void validate() const;

  int effective_win_length() const { return win_length > 0 ? win_length : n_fft; }
  double effective_fmax() const { return fmax < 0 ? sample_rate / 2 : fmax; }
  int n_freqs() const { return n_fft / 2 + 1; }

  // Frames produced for a whole signal of n samples (librosa's count); 0 when center is off and n < n_fft.
  int64_t num_frames(int64_t n) const;
};

// One mel filter: its non-zero weights over FFT bins [first_bin, first_bin + weights.size()).
struct MelFilter {
  int first_bin = 0;
  std::vector<double> weights;
};

// librosa.filters.mel, row by row, keeping only each triangle's support.
std::vector<MelFilter> mel_filterbank(const MelConfig& config);

// The analysis window of length n_fft: scipy.signal.get_window(window, win_length, fftbins=True),
// zero-padded to n_fft and centred, as librosa does.
std::vector<double> analysis_window(const MelConfig& config);

}  // namespace musicedge

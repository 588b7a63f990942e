#include "mel_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "errors.h"

namespace musicedge {
namespace {

constexpr double kPi = 3.14159265358979323846;

bool is_power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }

template <typename T>
std::string str(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// librosa.hz_to_mel / mel_to_hz, Slaney (default) or HTK.
double hz_to_mel(double hz, bool htk) {
  if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  const double f_sp = 200.0 / 3;
  const double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (hz >= min_log_hz) return min_log_mel + std::log(hz / min_log_hz) / logstep;
  return hz / f_sp;
}

double mel_to_hz(double mel, bool htk) {
  if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3;
  const double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (mel >= min_log_mel) return min_log_hz * std::exp(logstep * (mel - min_log_mel));
  return f_sp * mel;
}

}  // namespace

void MelConfig::validate() const {
  auto fail = [](const std::string& msg) { throw ParameterError(msg); };
  if (!(sample_rate > 0) || !std::isfinite(sample_rate))
    fail("sample_rate must be a positive number, got " + str(sample_rate));
  if (!is_power_of_two(n_fft) || n_fft < kMinFft || n_fft > kMaxFft)
    fail("n_fft must be a power of two from " + str(kMinFft) + " to " + str(kMaxFft) + ", got " + str(n_fft));
  if (hop_length <= 0) fail("hop_length must be positive, got " + str(hop_length));
  if (win_length < 0 || win_length > n_fft)
    fail("win_length must be between 1 and n_fft=" + str(n_fft) + ", got " + str(win_length));
  if (window != "hann" && window != "hamming" && window != "blackman" && window != "rectangular")
    fail("unknown window '" + window + "'; use hann, hamming, blackman or rectangular");
  if (pad_mode != "constant" && pad_mode != "reflect")
    fail("unknown pad_mode '" + pad_mode + "'; use constant or reflect");
  if (n_mels <= 0) fail("n_mels must be positive, got " + str(n_mels));
  if (!(fmin >= 0) || !std::isfinite(fmin)) fail("fmin must be >= 0, got " + str(fmin));
  const double nyquist = sample_rate / 2;
  const double top = effective_fmax();
  if (!std::isfinite(top) || top > nyquist * (1 + 1e-12))
    fail("fmax=" + str(top) + " is above the Nyquist frequency " + str(nyquist) + " Hz");
  if (!(top > fmin)) fail("fmax=" + str(top) + " must be greater than fmin=" + str(fmin));
  if (norm != "slaney" && norm != "none") fail("unknown norm '" + norm + "'; use slaney or none");
  if (!(power > 0) || !std::isfinite(power)) fail("power must be positive, got " + str(power));
  if (log != "none" && log != "db") fail("unknown log '" + log + "'; use none or db");
  if (!(amin >= 1e-300) || !std::isfinite(amin)) fail("amin must be a positive number >= 1e-300, got " + str(amin));

  const auto filters = mel_filterbank(*this);
  int empty = 0;
  for (const auto& f : filters) empty += f.weights.empty();
  if (empty > 0)
    fail("n_mels=" + str(n_mels) + " is too large for n_fft=" + str(n_fft) + " at " + str(sample_rate) +
         " Hz: " + str(empty) + " mel filters contain no FFT bin; lower n_mels or raise n_fft");
}

int64_t MelConfig::num_frames(int64_t n) const {
  if (n <= 0) return 0;
  if (center) return 1 + n / hop_length;
  if (n < n_fft) return 0;
  return 1 + (n - n_fft) / hop_length;
}

std::vector<MelFilter> mel_filterbank(const MelConfig& c) {
  const int n_freqs = c.n_freqs();
  const double top = c.effective_fmax();
  // n_mels + 2 band edges equally spaced on the mel scale.
  const double mel_lo = hz_to_mel(c.fmin, c.htk), mel_hi = hz_to_mel(top, c.htk);
  std::vector<double> edges(c.n_mels + 2);
  for (int i = 0; i < c.n_mels + 2; ++i) {
    // numpy.linspace: start + i * step, with the last point exactly at the end.
    const double mel = (i == c.n_mels + 1) ? mel_hi : mel_lo + i * ((mel_hi - mel_lo) / (c.n_mels + 1));
    edges[i] = mel_to_hz(mel, c.htk);
  }
  std::vector<double> fft_freqs(n_freqs);
  for (int k = 0; k < n_freqs; ++k) fft_freqs[k] = k * c.sample_rate / c.n_fft;

  std::vector<MelFilter> filters(c.n_mels);
  std::vector<double> row(n_freqs);
  for (int i = 0; i < c.n_mels; ++i) {
    const double fdiff_lo = edges[i + 1] - edges[i];
    const double fdiff_hi = edges[i + 2] - edges[i + 1];
    const double enorm = c.norm == "slaney" ? 2.0 / (edges[i + 2] - edges[i]) : 1.0;
    int first = -1, last = -1;
    for (int k = 0; k < n_freqs; ++k) {
      const double lower = -(edges[i] - fft_freqs[k]) / fdiff_lo;
      const double upper = (edges[i + 2] - fft_freqs[k]) / fdiff_hi;
      const double w = std::max(0.0, std::min(lower, upper));
      row[k] = w * enorm;
      if (w > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first >= 0) {
      filters[i].first_bin = first;
      filters[i].weights.assign(row.begin() + first, row.begin() + last + 1);
    }
  }
  return filters;
}

std::vector<double> analysis_window(const MelConfig& c) {
  const int n = c.effective_win_length();
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) {
    const double x = 2 * kPi * i / n;  // periodic (fftbins=True): period n, not n - 1
    if (c.window == "hann") w[i] = 0.5 - 0.5 * std::cos(x);
    else if (c.window == "hamming") w[i] = 0.54 - 0.46 * std::cos(x);
    else if (c.window == "blackman") w[i] = 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x);
    else w[i] = 1.0;
  }
  std::vector<double> padded(c.n_fft, 0.0);
  const int offset = (c.n_fft - n) / 2;  // librosa.util.pad_center
  std::copy(w.begin(), w.end(), padded.begin() + offset);
  return padded;
}

}  // namespace musicedge

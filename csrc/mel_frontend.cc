#include "mel_frontend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

#include "errors.h"
#include "real_fft.h"

namespace musicedge {

struct MelTables {
  explicit MelTables(const MelConfig& c)
      : window(analysis_window(c)), fft(c.n_fft), filters(mel_filterbank(c)) {}
  std::vector<double> window;
  RealFFT fft;
  std::vector<MelFilter> filters;
};

namespace {

inline Lanes splat(double v) { return Lanes{} + v; }

typedef int64_t LanesInt __attribute__((vector_size(32)));
// 10 log10(x) for x >= DBL_MIN, to about 1e-9 dB: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, five terms of the atanh series.
inline Lanes power_to_db(Lanes x) {
  const LanesInt bits = (LanesInt)x;  // vector casts reinterpret the bits
  LanesInt exponent = ((bits >> 52) & 0x7FF) - 1023;
  LanesInt mant_bits = (bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL;
  Lanes m = (Lanes)mant_bits;
  const auto big = m > splat(1.4142135623730951);
  m = big ? m * 0.5 : m;
  exponent = big ? exponent + 1 : exponent;
  const Lanes s = (m - 1.0) / (m + 1.0);
  const Lanes s2 = s * s;
  const Lanes series = s * (2.0 + s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7 + s2 * (2.0 / 9 + s2 * (2.0 / 11))))));
  const Lanes ln = series + __builtin_convertvector(exponent, Lanes) * 0.69314718055994531;
  return ln * (10.0 / 2.302585092994046);
}

// numpy.pad(mode="reflect") index for any position j of a signal of n samples.
inline int64_t reflect_index(int64_t j, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t r = j % period;
  if (r < 0) r += period;
  return r >= n ? period - r : r;
}

std::shared_ptr<const MelTables> shared_tables(const MelConfig& c) {
  // Frontends with the same config share their tables: building a 8192-point bank costs ~1 ms.
  static std::mutex mutex;
  static std::vector<std::pair<std::string, std::weak_ptr<const MelTables>>> cache;
  std::string key = std::to_string(c.sample_rate) + "|" + std::to_string(c.n_fft) + "|" +
                    std::to_string(c.effective_win_length()) + "|" + c.window + "|" + std::to_string(c.n_mels) +
                    "|" + std::to_string(c.fmin) + "|" + std::to_string(c.effective_fmax()) + "|" +
                    std::to_string(c.htk) + "|" + c.norm;
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = cache.begin(); it != cache.end();) {
    if (auto sp = it->second.lock()) {
      if (it->first == key) return sp;
      ++it;
    } else {
      it = cache.erase(it);
    }
  }
  auto tables = std::make_shared<const MelTables>(c);
  cache.emplace_back(key, tables);
  return tables;
}

}  // namespace

void check_finite(const float* samples, int64_t n, int64_t index_offset) {
  // x - x is 0 for finite x and NaN for NaN or Inf: a branch-free vector scan, then a scalar search
  // for the index only when a block holds a bad value.
  typedef float Float8 __attribute__((vector_size(32)));
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    Float8 acc{};
    int64_t i = b;
    for (; i + 8 <= e; i += 8) {
      Float8 x;
      std::memcpy(&x, samples + i, sizeof x);
      acc += x - x;
    }
    float tail = 0.0f;
    for (; i < e; ++i) tail += samples[i] - samples[i];
    bool ok = tail == 0.0f;
    for (int v = 0; v < 8; ++v) ok = ok && acc[v] == 0.0f;
    if (ok) continue;
    for (i = b; i < e; ++i) {
      if (!std::isfinite(samples[i]))
        throw AudioError(std::string("audio contains ") + (std::isnan(samples[i]) ? "NaN" : "Inf") +
                         " at sample " + std::to_string(i + index_offset));
    }
  }
}

MelFrontend::MelFrontend(const MelConfig& config) : config_(config) {
  config_.validate();
  tables_ = shared_tables(config_);
}

MelFrontend::~MelFrontend() = default;

void MelFrontend::compute_frames(const float* data, int64_t data_start, int64_t n_known, bool finished,
                                 int64_t first, int64_t count, float* out, int64_t stride_mel,
                                 int64_t stride_frame) const {
  const MelConfig& c = config_;
  const int n_fft = c.n_fft, half = n_fft / 2, n_freqs = c.n_freqs();
  const int64_t pad = c.center ? half : 0;
  const bool reflect = c.pad_mode == "reflect";
  const double* win = tables_->window.data();
  const bool db = c.log == "db";
  const Lanes amin = splat(c.amin);

  std::vector<ComplexLanes> work(half);
  std::vector<Lanes> spectrum(n_freqs), mel(c.n_mels);
  std::vector<float> edge(static_cast<size_t>(kLanes) * n_fft);  // padded copies of frames at the edges
  const float* frame_ptr[kLanes];

  // Results go through a tile of kTile frames per mel bin, so that each output row is written a
  // whole cache line at a time rather than kLanes values at a time.
  constexpr int kTile = 16;
  std::vector<float> tile(static_cast<size_t>(c.n_mels) * kTile);
  for (int64_t t0 = first; t0 < first + count; t0 += kLanes) {
    const int valid = static_cast<int>(std::min<int64_t>(kLanes, first + count - t0));
    const int tile_col = static_cast<int>((t0 - first) % kTile);
    for (int v = 0; v < kLanes; ++v) {
      const int64_t start = (t0 + std::min(v, valid - 1)) * c.hop_length - pad;
      if (start >= 0 && start + n_fft <= n_known) {
        frame_ptr[v] = data + (start - data_start);
        continue;
      }
      float* e = edge.data() + static_cast<size_t>(v) * n_fft;
      for (int i = 0; i < n_fft; ++i) {
        const int64_t j = start + i;
        if (j >= 0 && j < n_known) e[i] = data[j - data_start];
        else if (!reflect) e[i] = 0.0f;
        else e[i] = data[(finished ? reflect_index(j, n_known) : -j) - data_start];
      }
      frame_ptr[v] = e;
    }
    // The next block's new samples, fetched while this block computes.
    {
      const int64_t from = std::max<int64_t>((t0 + kLanes) * c.hop_length - pad, data_start);
      const int64_t to = std::min<int64_t>((t0 + 2 * kLanes - 1) * c.hop_length - pad + n_fft, n_known);
      for (int64_t j = from; j < to; j += 16) __builtin_prefetch(data + (j - data_start));
    }
    tables_->fft.power_spectrum(frame_ptr, win, work.data(), spectrum.data());
    if (c.power != 2.0) {
      for (int k = 0; k < n_freqs; ++k)
        for (int v = 0; v < kLanes; ++v)
          spectrum[k][v] = c.power == 1.0 ? std::sqrt(spectrum[k][v]) : std::pow(spectrum[k][v], c.power / 2);
    }
    for (int m = 0; m < c.n_mels; ++m) {
      const MelFilter& f = tables_->filters[m];
      const Lanes* s = spectrum.data() + f.first_bin;
      Lanes acc = splat(0.0);
      for (size_t k = 0; k < f.weights.size(); ++k) acc += f.weights[k] * s[k];
      mel[m] = acc;
    }
    // A separate pass, so that the independent logarithms overlap.
    for (int m = 0; m < c.n_mels; ++m) {
      const Lanes value = db ? power_to_db(mel[m] > amin ? mel[m] : amin) : mel[m];
      float* cell = tile.data() + m * kTile + tile_col;
      for (int v = 0; v < kLanes; ++v) cell[v] = static_cast<float>(value[v]);
    }
    const int filled = tile_col + valid;
    if (filled == kTile || t0 + valid == first + count) {
      const int64_t col0 = t0 - first - tile_col;
      for (int m = 0; m < c.n_mels; ++m) {
        float* o = out + m * stride_mel + col0 * stride_frame;
        const float* row = tile.data() + m * kTile;
        if (stride_frame == 1 && filled == kTile) std::memcpy(o, row, kTile * sizeof(float));  // inlined
        else if (stride_frame == 1) std::memcpy(o, row, filled * sizeof(float));
        else for (int j = 0; j < filled; ++j) o[j * stride_frame] = row[j];
      }
    }
  }
}

void MelFrontend::compute(const float* samples, int64_t n, float* out) const {
  if (n <= 0) throw AudioError("empty audio: no samples to compute a mel spectrogram from");
  check_finite(samples, n);
  if (!config_.center && n < config_.n_fft)
    throw ParameterError("n_fft=" + std::to_string(config_.n_fft) + " is too large for a signal of " +
                         std::to_string(n) + " samples with center=False");
  const int64_t frames = config_.num_frames(n);
  compute_frames(samples, 0, n, true, 0, frames, out, frames, 1);
}

void MelFrontend::accept_waveform(const float* samples, int64_t n) {
  if (finished_) throw ParameterError("accept_waveform() after input_finished(); call reset() to start a new stream");
  if (n <= 0) return;
  check_finite(samples, n, received_);
  buffer_.insert(buffer_.end(), samples, samples + n);
  received_ += n;
  advance_stream();
}

void MelFrontend::input_finished() {
  if (finished_) return;
  finished_ = true;
  advance_stream();
}

void MelFrontend::advance_stream() {
  const MelConfig& c = config_;
  const int64_t pad = c.center ? c.n_fft / 2 : 0;
  int64_t available;
  if (finished_) {
    available = c.num_frames(received_);
  } else if (c.center && c.pad_mode == "reflect" && received_ <= pad) {
    available = 0;  // the left reflection needs samples 1 .. n_fft / 2
  } else {
    const int64_t span = received_ + pad - c.n_fft;
    available = span >= 0 ? span / c.hop_length + 1 : 0;
  }
  const int64_t fresh = available - next_frame_;
  if (fresh > 0) {
    ready_.resize(static_cast<size_t>(ready_frames_ + fresh) * c.n_mels);
    compute_frames(buffer_.data(), buffer_start_, received_, finished_, next_frame_, fresh,
                   ready_.data() + ready_frames_ * c.n_mels, 1, c.n_mels);
    next_frame_ += fresh;
    ready_frames_ += fresh;
  }
  // Keep what later frames need: from the next frame's start, and the last n_fft samples for the
  // right-edge reflection.
  const int64_t keep_from = std::max<int64_t>(0, std::min(next_frame_ * c.hop_length - pad, received_ - c.n_fft));
  const int64_t drop = keep_from - buffer_start_;
  if (drop > 0 && 2 * drop >= static_cast<int64_t>(buffer_.size())) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + drop);
    buffer_start_ = keep_from;
  }
}

int64_t MelFrontend::pop_frames(float* out, int64_t max_frames, int64_t out_stride) {
  const int n_mels = config_.n_mels;
  const int64_t k = std::min(max_frames, ready_frames_);
  for (int64_t f = 0; f < k; ++f)
    for (int m = 0; m < n_mels; ++m) out[m * out_stride + f] = ready_[f * n_mels + m];
  ready_.erase(ready_.begin(), ready_.begin() + k * n_mels);
  ready_frames_ -= k;
  popped_frames_ += k;
  return k;
}

void MelFrontend::reset() {
  buffer_.clear();
  buffer_start_ = 0;
  received_ = 0;
  finished_ = false;
  next_frame_ = 0;
  ready_.clear();
  ready_frames_ = 0;
  popped_frames_ = 0;
}

}  // namespace musicedge

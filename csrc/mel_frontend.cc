#include "mel_frontend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "errors.h"
#include "real_fft.h"

namespace musicedge {

// The mel filters for the inner loop: each one's weights padded with zeros to a multiple of four
// bins, so that four independent sums run per filter.
struct PaddedFilters {
  static constexpr int kUnroll = 4;
  explicit PaddedFilters(const std::vector<MelFilter>& filters) {
    for (const MelFilter& f : filters) {
      first_bin.push_back(f.first_bin);
      offset.push_back(static_cast<int>(weights.size()));
      weights.insert(weights.end(), f.weights.begin(), f.weights.end());
      weights.resize(weights.size() + (kUnroll - f.weights.size() % kUnroll) % kUnroll, 0.0);
    }
    offset.push_back(static_cast<int>(weights.size()));
  }
  // mel[m] = sum over k of the weights of filter m times spectrum[first_bin[m] + k]; spectrum needs
  // kUnroll - 1 zeros after its last bin. Out of line: inlined into compute_frames, its sums were
  // kept on the stack in some builds.
  __attribute__((noinline)) void apply(const Lanes* spectrum, Lanes* mel) const {
    for (size_t m = 0; m + 1 < offset.size(); ++m) {
      const Lanes* s = spectrum + first_bin[m];
      const double* w = weights.data() + offset[m];
      const int width = offset[m + 1] - offset[m];
      Lanes acc0{}, acc1{}, acc2{}, acc3{};
      for (int k = 0; k < width; k += kUnroll) {
        acc0 += w[k] * s[k];
        acc1 += w[k + 1] * s[k + 1];
        acc2 += w[k + 2] * s[k + 2];
        acc3 += w[k + 3] * s[k + 3];
      }
      mel[m] = (acc0 + acc1) + (acc2 + acc3);
    }
  }
  std::vector<int> first_bin, offset;  // filter m: weights[offset[m] .. offset[m + 1])
  std::vector<double> weights;
};

struct MelTables {
  explicit MelTables(const MelConfig& c)
      : half_window(RealFFT::halve(analysis_window(c))), fft(c.n_fft), filters(mel_filterbank(c)) {}
  std::vector<double> half_window;
  RealFFT fft;
  PaddedFilters filters;
};

namespace {

typedef int64_t LanesInt __attribute__((vector_size(32)));
typedef float Float4 __attribute__((vector_size(16)));

// The logarithm works on the widest vectors the build has (wider generic vectors would be split in
// halves, and GCC lowers their selects poorly).
#if defined(__AVX512F__)
constexpr int kFloats = 16;
#else
constexpr int kFloats = 8;
#endif
typedef float Floats __attribute__((vector_size(4 * kFloats)));
typedef int32_t FloatsInt __attribute__((vector_size(4 * kFloats)));

// 1 / x to float precision: the hardware's estimate and one Newton step, cheaper than a division.
MUSICEDGE_INLINE Floats reciprocal(Floats x) {
#if defined(__AVX512F__)
  const Floats r = (Floats)_mm512_maskz_rcp14_ps(0xFFFF, (__m512)x);
#elif defined(__AVX__)
  const Floats r = (Floats)_mm256_rcp_ps((__m256)x);
#else
  const Floats r = 1.0f / x;
#endif
  return r * (2.0f - x * r);
}

// 10 log10(x) for normal float32 x, to about 1e-6 relative (1e-5 dB at -100 dB): x = 2^e m with m in
// [sqrt(1/2), sqrt(2)) (found from the bits, without a select), log m = 2 atanh(s) with
// s = (m - 1) / (m + 1), |s| < 0.172, five terms of the series.
MUSICEDGE_INLINE Floats power_to_db(Floats x) {
  const FloatsInt shifted = (FloatsInt)x - 0x3F3504F3;  // the bits of sqrt(1/2)
  const FloatsInt exponent = shifted >> 23;
  const Floats m = (Floats)((shifted & 0x007FFFFF) + 0x3F3504F3);
  const Floats s = (m - 1.0f) * reciprocal(m + 1.0f);
  const Floats s2 = s * s;
  const Floats series = s * (2.0f + s2 * (2.0f / 3 + s2 * (2.0f / 5 + s2 * (2.0f / 7 + s2 * (2.0f / 9)))));
  const Floats ln = series + __builtin_convertvector(exponent, Floats) * 0.693147181f;
  return ln * (10.0f / 2.30258509f);
}

// The same in double, for powers beyond float32's range or an amin below it: x >= DBL_MIN, to about
// 1e-9 dB, six terms.
MUSICEDGE_INLINE Lanes power_to_db(Lanes x) {
  const LanesInt shifted = (LanesInt)x - 0x3FE6A09E667F3BCDLL;  // the bits of sqrt(1/2)
  const LanesInt exponent = shifted >> 52;
  const Lanes m = (Lanes)((shifted & 0x000FFFFFFFFFFFFFLL) + 0x3FE6A09E667F3BCDLL);
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
                                 int64_t stride_frame, bool check) const {
  const MelConfig& c = config_;
  const int n_fft = c.n_fft, half = n_fft / 2, n_freqs = c.n_freqs();
  const int64_t pad = c.center ? half : 0;
  const bool reflect = c.pad_mode == "reflect";
  const double* win = tables_->half_window.data();
  const bool db = c.log == "db";
  const float amin32 = static_cast<float>(c.amin);
  const bool float_db = db && c.amin >= std::numeric_limits<float>::min();

  std::vector<ComplexLanes> work(half);
  // zeros after the last bin for the filters' padding
  std::vector<Lanes> spectrum(n_freqs + PaddedFilters::kUnroll), mel(c.n_mels);
  std::vector<float> mel32(4 * static_cast<size_t>(c.n_mels));
  std::vector<float> edge(static_cast<size_t>(kLanes) * n_fft);  // padded copies of frames at the edges
  const float* frame_ptr[kLanes];

  // Results go through a tile of kTile frames per mel bin, so that each output row is written a
  // whole cache line at a time rather than kLanes values at a time.
  constexpr int kTile = 16;
  std::vector<float> tile(static_cast<size_t>(c.n_mels) * kTile);
  int64_t checked_to = data_start;
  const bool gapless = c.hop_length <= n_fft;
  auto block_end_of = [&](int64_t t0) {  // one past the last sample the block of frames t0 .. reads
    return std::min(n_known, (std::min(t0 + kLanes, first + count) - 1) * c.hop_length - pad + n_fft);
  };
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
    // check: a NaN or Inf in a frame shows in its DC bin, the sum of its windowed samples (a zero weight
    // gives NaN too); samples that no frame reads (hop > n_fft leaves gaps) are scanned here.
    const int64_t block_start = gapless ? std::max<int64_t>(0, t0 * c.hop_length - pad) : block_end_of(t0);
    const int64_t block_end = block_end_of(t0);
    if (check && block_start > checked_to)
      check_finite(data + (checked_to - data_start), block_start - checked_to, checked_to);
    // The next block's new samples, fetched while this block computes.
    {
      const int64_t from = std::max<int64_t>((t0 + kLanes) * c.hop_length - pad, data_start);
      const int64_t to = std::min<int64_t>((t0 + 2 * kLanes - 1) * c.hop_length - pad + n_fft, n_known);
      for (int64_t j = from; j < to; j += 16) __builtin_prefetch(data + (j - data_start));
    }
    tables_->fft.power_spectrum(frame_ptr, win, work.data(), spectrum.data());
    if (check) {
      const Lanes dc = spectrum[0] - spectrum[0];  // 0, or NaN for a frame with NaN or Inf
      bool finite = true;
      for (int v = 0; v < kLanes; ++v) finite = finite && dc[v] == 0.0;
      if (!finite) {  // the scan names the first bad sample
        check_finite(data + (checked_to - data_start), block_end - checked_to, checked_to);
        throw AudioError("audio contains NaN or Inf");
      }
      checked_to = std::max(checked_to, block_end);
    }
    if (c.power != 2.0) {
      for (int k = 0; k < n_freqs; ++k)
        for (int v = 0; v < kLanes; ++v)
          spectrum[k][v] = c.power == 1.0 ? std::sqrt(spectrum[k][v]) : std::pow(spectrum[k][v], c.power / 2);
    }
    tables_->filters.apply(spectrum.data(), mel.data());
    // A separate pass, so that the independent logarithms overlap: in float32, the output's precision,
    // kFloats / 4 mel bins at a time when amin is a normal float; in double for the rest, and for the
    // whole block when one of its powers is too large for a float.
    int m = 0;
    if (float_db) {
      for (int b = 0; b < c.n_mels; ++b) {
        const Float4 f = __builtin_convertvector(mel[b], Float4);
        std::memcpy(mel32.data() + 4 * b, &f, sizeof f);
      }
      Floats overflow{};  // stays 0 unless some power became Inf as a float
      for (; m + kFloats / 4 <= c.n_mels; m += kFloats / 4) {
        Floats x;
        std::memcpy(&x, mel32.data() + 4 * m, sizeof x);
        overflow += x - x;
        const Floats value = power_to_db(x > amin32 ? x : Floats{} + amin32);
        for (int i = 0; i < kFloats / 4; ++i)
          std::memcpy(tile.data() + (m + i) * kTile + tile_col, &value[4 * i], sizeof(Float4));
      }
      for (int i = 0; i < kFloats; ++i)
        if (overflow[i] != 0.0f) m = 0;  // NaN compares unequal
    }
    for (; m < c.n_mels; ++m) {
      const Lanes value = db ? power_to_db(mel[m] > c.amin ? mel[m] : Lanes{c.amin, c.amin, c.amin, c.amin}) : mel[m];
      const Float4 f = __builtin_convertvector(value, Float4);
      std::memcpy(tile.data() + m * kTile + tile_col, &f, sizeof f);
    }
    const int filled = tile_col + valid;
    if (filled == kTile || t0 + valid == first + count) {
      const int64_t col0 = t0 - first - tile_col;
      for (int m = 0; m < c.n_mels; ++m) {
        float* o = out + m * stride_mel + col0 * stride_frame;
        const float* row = tile.data() + m * kTile;
        if (stride_frame == 1 && filled == kTile) {
          std::memcpy(o, row, kTile * sizeof(float));  // inlined
          // the next tile's place in the row, so that its cache lines are on their way
          __builtin_prefetch(o + kTile, 1);
          __builtin_prefetch(o + 2 * kTile - 1, 1);
        }
        else if (stride_frame == 1) std::memcpy(o, row, filled * sizeof(float));
        else for (int j = 0; j < filled; ++j) o[j * stride_frame] = row[j];
      }
    }
  }
  if (check && checked_to < n_known)  // the samples after the last frame
    check_finite(data + (checked_to - data_start), n_known - checked_to, checked_to);
}

void MelFrontend::compute(const float* samples, int64_t n, float* out) const {
  if (n <= 0) throw AudioError("empty audio: no samples to compute a mel spectrogram from");
  if (!config_.center && n < config_.n_fft) {
    check_finite(samples, n);
    throw ParameterError("n_fft=" + std::to_string(config_.n_fft) + " is too large for a signal of " +
                         std::to_string(n) + " samples with center=False");
  }
  const int64_t frames = config_.num_frames(n);
  compute_frames(samples, 0, n, true, 0, frames, out, frames, 1, /*check=*/true);
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

#include "frame_batcher.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"

namespace musicedge {

void FrameBatcherConfig::validate() const {
  if (n_mels <= 0) throw ParameterError("n_mels must be positive, got " + std::to_string(n_mels));
  if (window <= 0) throw ParameterError("window must be positive, got " + std::to_string(window));
  if (hop <= 0) throw ParameterError("hop must be positive, got " + std::to_string(hop));
  if (batch_size <= 0) throw ParameterError("batch_size must be positive, got " + std::to_string(batch_size));
}

int64_t FrameBatcherConfig::num_windows(int64_t n) const {
  if (n <= 0) return 0;
  if (tail == TailPolicy::Drop) return n < window ? 0 : 1 + (n - window) / hop;
  if (n <= window) return 1;
  // Starts past the last frame are never used (possible only when hop > window).
  return std::min(1 + (n - window + hop - 1) / hop, (n + hop - 1) / hop);
}

FrameBatcher::FrameBatcher(const FrameBatcherConfig& config) : config_(config), rows_(config.n_mels) {
  config_.validate();
}

void FrameBatcher::accept_frames(const float* data, int64_t n, int64_t stride_mel, int64_t stride_frame) {
  if (finished_) throw ParameterError("accept_frames() after input_finished(); call reset() to start again");
  if (n <= 0) return;
  for (int m = 0; m < config_.n_mels; ++m) {
    std::vector<float>& row = rows_[m];
    const float* src = data + m * stride_mel;
    const size_t old = row.size();
    row.resize(old + n);
    if (stride_frame == 1) std::memcpy(row.data() + old, src, n * sizeof(float));
    else for (int64_t t = 0; t < n; ++t) row[old + t] = src[t * stride_frame];
  }
  received_ += n;
}

void FrameBatcher::input_finished() { finished_ = true; }

int64_t FrameBatcher::num_windows_ready() const {
  int64_t total;
  if (finished_) total = config_.num_windows(received_);
  else total = received_ < config_.window ? 0 : 1 + (received_ - config_.window) / config_.hop;
  return std::max<int64_t>(0, total - next_window_);
}

int64_t FrameBatcher::pop_batch(float* out, int64_t* starts) {
  const int64_t b = std::min<int64_t>(config_.batch_size, num_windows_ready());
  const int W = config_.window;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t start = (next_window_ + i) * config_.hop;
    const int64_t have = std::min<int64_t>(W, received_ - start);  // < W only for a padded tail
    starts[i] = start;
    for (int m = 0; m < config_.n_mels; ++m) {
      float* dst = out + (i * config_.n_mels + m) * W;
      std::memcpy(dst, rows_[m].data() + (start - buffer_start_), have * sizeof(float));
      std::fill(dst + have, dst + W, config_.pad_value);
    }
  }
  next_window_ += b;
  // Frames before the next window's start are no longer needed.
  const int64_t keep_from = std::min(next_window_ * config_.hop, received_);
  const int64_t drop = keep_from - buffer_start_;
  if (drop > 0 && 2 * drop >= static_cast<int64_t>(rows_[0].size())) {
    for (auto& row : rows_) row.erase(row.begin(), row.begin() + drop);
    buffer_start_ = keep_from;
  }
  return b;
}

void FrameBatcher::reset() {
  for (auto& row : rows_) row.clear();
  buffer_start_ = 0;
  received_ = 0;
  next_window_ = 0;
  finished_ = false;
}

}  // namespace musicedge

// Sliding windows over mel frames, packed into contiguous model-ready batches (B, 1, n_mels, W).
//
// Windows start at frames 0, hop, 2 hop, ... The tail policy says what happens at the end:
//   Pad:  every frame is covered; the last window may run past the end and is filled with pad_value
//         (a signal shorter than one window gives one padded window).
//   Drop: only whole windows; frames after the last whole window are not covered.
// Streaming and offline use give the same windows: accept frames in any pieces, then input_finished().
#pragma once

#include <cstdint>
#include <vector>

namespace musicedge {

enum class TailPolicy { Pad, Drop };

struct FrameBatcherConfig {
  int n_mels = 128;
  int window = 128;      // W, frames per window
  int hop = 64;          // H, frames between window starts
  int batch_size = 32;   // B, at most this many windows per batch
  TailPolicy tail = TailPolicy::Pad;
  float pad_value = 0.0f;

  void validate() const;  // throws ParameterError
  // Windows for a whole sequence of n frames under the tail policy.
  int64_t num_windows(int64_t n_frames) const;
};

class FrameBatcher {
 public:
  explicit FrameBatcher(const FrameBatcherConfig& config);

  const FrameBatcherConfig& config() const { return config_; }

  // frames: element (m, t) at data[m * stride_mel + t * stride_frame], m < n_mels, t < n_frames.
  void accept_frames(const float* data, int64_t n_frames, int64_t stride_mel, int64_t stride_frame);
  void input_finished();
  bool is_finished() const { return finished_; }
  int64_t num_windows_ready() const;
  // Writes up to batch_size ready windows into out, a contiguous (b, 1, n_mels, W) array, and the
  // start frame of each window into starts. Returns b.
  int64_t pop_batch(float* out, int64_t* starts);
  void reset();

 private:
  FrameBatcherConfig config_;
  std::vector<std::vector<float>> rows_;  // one per mel bin, frames from buffer_start_ on
  int64_t buffer_start_ = 0;
  int64_t received_ = 0;
  int64_t next_window_ = 0;
  bool finished_ = false;
};

}  // namespace musicedge

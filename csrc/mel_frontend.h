// The streaming mel spectrogram frontend.
//
//   MelFrontend fe(config);
//   fe.accept_waveform(chunk, n);   // any chunk sizes, repeatedly
//   fe.input_finished();            // flushes the right padding
//   fe.pop_frames(...)              // frames ready so far
//
// Any chunking yields exactly the frames of compute() over the whole signal (librosa's framing,
// centring and padding included).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mel_config.h"

namespace musicedge {

struct MelTables;  // window, FFT plan and filter bank, shared by frontends with the same config

class MelFrontend {
 public:
  explicit MelFrontend(const MelConfig& config);
  ~MelFrontend();
  MelFrontend(const MelFrontend&) = delete;
  MelFrontend& operator=(const MelFrontend&) = delete;

  const MelConfig& config() const { return config_; }
  int n_mels() const { return config_.n_mels; }

  // Whole-signal computation into out, a (n_mels, config.num_frames(n)) row-major array.
  // Stateless: safe to call from several threads at once. Throws AudioError for empty or
  // non-finite input and ParameterError when center is off and n < n_fft.
  void compute(const float* samples, int64_t n, float* out) const;

  // Streaming. Throws AudioError on NaN/Inf (the stream is left as it was) and ParameterError after
  // input_finished() until reset().
  void accept_waveform(const float* samples, int64_t n);
  void input_finished();
  bool is_finished() const { return finished_; }
  int64_t num_frames_ready() const { return ready_frames_; }
  int64_t num_frames_popped() const { return popped_frames_; }
  int64_t num_samples_accepted() const { return received_; }
  // Moves up to max_frames ready frames into out, a (n_mels, out_stride) row-major array (frame j of
  // the batch at column j). Returns the number written.
  int64_t pop_frames(float* out, int64_t max_frames, int64_t out_stride);
  void reset();

 private:
  // check: throw AudioError on the first NaN/Inf among samples data_start .. n_known (compute() checks
  // its input this way, block by block, mostly from the frames' DC bins; streams check on accept).
  void compute_frames(const float* data, int64_t data_start, int64_t n_known, bool finished, int64_t first,
                      int64_t count, float* out, int64_t stride_mel, int64_t stride_frame, bool check = false) const;
  void advance_stream();

  MelConfig config_;
  std::shared_ptr<const MelTables> tables_;

  // stream state
  std::vector<float> buffer_;  // samples from real index buffer_start_ on
  int64_t buffer_start_ = 0;
  int64_t received_ = 0;
  bool finished_ = false;
  int64_t next_frame_ = 0;       // next frame to compute
  std::vector<float> ready_;     // computed frames not yet popped, frame-major (n_mels each)
  int64_t ready_frames_ = 0;
  int64_t popped_frames_ = 0;
};

// Checks that every sample is finite; throws AudioError naming the first bad index (offset added).
void check_finite(const float* samples, int64_t n, int64_t index_offset = 0);

}  // namespace musicedge

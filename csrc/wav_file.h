// A small reader for RIFF/WAVE files: PCM 8/16/24/32-bit and IEEE float 32/64, any channel count,
// returned as interleaved float32 in [-1, 1] or mixed down to mono. Enough for examples and tests
// of the C++ library; the Python package decodes through libsndfile instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace musicedge {

struct WavAudio {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved, frames * channels

  int64_t num_frames() const { return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0; }
  std::vector<float> mono() const;  // the mean over channels
};

// Throws AudioError naming the file and the problem (missing, not RIFF/WAVE, no fmt or data chunk,
// unsupported encoding, truncated data).
WavAudio read_wav(const std::string& path);

// Writes mono or interleaved float samples as 16-bit PCM (clipped to [-1, 1]). Throws AudioError.
void write_wav16(const std::string& path, const std::vector<float>& samples, int sample_rate, int channels = 1);

}  // namespace musicedge

// Streams a WAV file through the mel frontend in 20 ms chunks, as an audio callback would, and packs
// the frames into model-ready windows (B, 1, 128, 128). Usage: stream_wav FILE.wav
#include <cstdio>
#include <numeric>
#include <vector>

#include "frame_batcher.h"
#include "mel_frontend.h"
#include "wav_file.h"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: %s FILE.wav\n", argv[0]), 2;
  try {
    const musicedge::WavAudio wav = musicedge::read_wav(argv[1]);
    const std::vector<float> y = wav.mono();
    musicedge::MelConfig mel;  // librosa's defaults (n_fft 2048, hop 512, 128 mels), log-power in dB
    mel.sample_rate = wav.sample_rate, mel.log = "db";
    musicedge::MelFrontend frontend(mel);
    musicedge::FrameBatcherConfig windows;  // 128 frames a window, hop 64, batches of 32
    windows.pad_value = -100.0f;            // the last window is padded with silence
    musicedge::FrameBatcher batcher(windows);
    const int W = 128, B = batcher.config().batch_size, size = 128 * W;
    std::vector<float> frames(128 * 64), batch(static_cast<size_t>(B) * size);
    std::vector<int64_t> starts(B);
    auto drain = [&](bool last) {
      while (int64_t n = frontend.pop_frames(frames.data(), 64, 64)) batcher.accept_frames(frames.data(), n, 64, 1);
      if (last) batcher.input_finished();
      while (int64_t b = batcher.pop_batch(batch.data(), starts.data()))
        for (int64_t i = 0; i < b; ++i)
          std::printf("window at %6.2f s: mean %.1f dB\n", starts[i] * mel.hop_length / mel.sample_rate,
                      std::accumulate(&batch[i * size], &batch[(i + 1) * size], 0.0) / size);
    };
    const size_t chunk = wav.sample_rate / 50;
    for (size_t pos = 0; pos < y.size(); pos += chunk, drain(false))
      frontend.accept_waveform(&y[pos], static_cast<int64_t>(std::min(chunk, y.size() - pos)));
    frontend.input_finished(), drain(true);
    std::printf("%zu samples at %d Hz -> %lld frames\n", y.size(), wav.sample_rate, (long long)frontend.num_frames_popped());
  } catch (const std::exception& e) {
    return std::fprintf(stderr, "error: %s\n", e.what()), 1;
  }
}

// The mel frontend: configuration checks, streaming equal to whole-signal computation for any
// chunking, bad samples refused with the stream left usable, and a tone in the right mel band.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "errors.h"
#include "mel_frontend.h"

using namespace musicedge;

static MelConfig melon16k() {
  MelConfig c;
  c.sample_rate = 16000;
  c.n_fft = 512;
  c.hop_length = 256;
  c.n_mels = 128;
  c.log = "db";
  return c;
}

static std::vector<float> noise(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> y(n);
  for (float& v : y) v = normal(rng);
  return y;
}

static std::vector<float> stream_all(MelFrontend& fe, const std::vector<float>& y, std::mt19937& rng, int max_chunk) {
  std::uniform_int_distribution<int> size(1, max_chunk);
  std::vector<float> frames;
  for (size_t pos = 0; pos < y.size();) {
    const int n = std::min<int>(size(rng), static_cast<int>(y.size() - pos));
    fe.accept_waveform(y.data() + pos, n);
    pos += n;
  }
  fe.input_finished();
  const int64_t k = fe.num_frames_ready();
  frames.resize(static_cast<size_t>(k) * fe.n_mels());
  CHECK(fe.pop_frames(frames.data(), k, k) == k);
  return frames;
}

TEST(invalid_settings_are_refused) {
  auto bad = [](auto change) {
    MelConfig c = melon16k();
    change(c);
    return c;
  };
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.n_fft = 500; })), ParameterError);
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.hop_length = 0; })), ParameterError);
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.window = "kaiser"; })), ParameterError);
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.fmax = 9000; })), ParameterError);
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.n_mels = 1024; })), ParameterError);
  CHECK_THROWS(MelFrontend(bad([](MelConfig& c) { c.pad_mode = "wrap"; })), ParameterError);
}

TEST(streaming_equals_compute_for_any_chunking) {
  std::mt19937 rng(3);
  for (const char* pad_mode : {"constant", "reflect"}) {
    MelConfig c = melon16k();
    c.pad_mode = pad_mode;
    const std::vector<float> y = noise(16000 * 3 + 123, 11);
    MelFrontend fe(c);
    const int64_t frames = c.num_frames(static_cast<int64_t>(y.size()));
    std::vector<float> whole(static_cast<size_t>(frames) * c.n_mels);
    fe.compute(y.data(), static_cast<int64_t>(y.size()), whole.data());  // (n_mels, frames)
    for (int max_chunk : {1, 7, 256, 5000}) {
      fe.reset();
      const std::vector<float> streamed = stream_all(fe, y, rng, max_chunk);  // (n_mels, frames) too
      CHECK(streamed.size() == whole.size());
      CHECK(streamed == whole);  // bit for bit
    }
  }
}

TEST(bad_samples_are_refused_and_the_stream_stays_usable) {
  MelFrontend fe(melon16k());
  std::vector<float> y = noise(4000, 5);
  fe.accept_waveform(y.data(), 2000);
  std::vector<float> bad(100, 0.0f);
  bad[42] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS(fe.accept_waveform(bad.data(), 100), AudioError);
  CHECK(fe.num_samples_accepted() == 2000);
  fe.accept_waveform(y.data() + 2000, 2000);
  CHECK(fe.num_samples_accepted() == 4000);
  fe.input_finished();
  CHECK_THROWS(fe.accept_waveform(y.data(), 10), ParameterError);
  std::vector<float> empty;
  CHECK_THROWS(fe.compute(empty.data(), 0, nullptr), AudioError);
}

TEST(a_tone_peaks_in_the_mel_band_of_its_frequency) {
  MelConfig c = melon16k();
  const double hz = 1000.0;
  std::vector<float> y(16000);
  for (size_t t = 0; t < y.size(); ++t) y[t] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * t / 16000));
  MelFrontend fe(c);
  const int64_t frames = c.num_frames(16000);
  std::vector<float> mel(static_cast<size_t>(frames) * c.n_mels);
  fe.compute(y.data(), 16000, mel.data());
  const int64_t mid = frames / 2;
  int best = 0;
  for (int m = 1; m < c.n_mels; ++m)
    if (mel[m * frames + mid] > mel[best * frames + mid]) best = m;
  // The loudest band's triangle peaks within a few FFT bins of the tone (its support starts one bin
  // below its peak at this resolution).
  const std::vector<MelFilter> bank = mel_filterbank(c);
  const double bin_hz = 16000.0 / c.n_fft;
  const double centre_hz = (bank[best].first_bin + 1) * bin_hz;
  CHECK_NEAR(centre_hz, hz, 3 * bin_hz);
}

MUSICEDGE_TEST_MAIN

// The frame batcher: window counts under both tail policies, window contents, streaming equal to
// offline, and invalid settings refused.
#include <vector>

#include "check.h"
#include "errors.h"
#include "frame_batcher.h"

using namespace musicedge;

static FrameBatcherConfig config(TailPolicy tail) {
  FrameBatcherConfig c;
  c.n_mels = 3;
  c.window = 4;
  c.hop = 2;
  c.batch_size = 2;
  c.tail = tail;
  c.pad_value = -100.0f;
  return c;
}

// Frames (m, t) = 1000 m + t, as a (n_mels, n) row-major array.
static std::vector<float> frames(int n_mels, int n) {
  std::vector<float> f(static_cast<size_t>(n_mels) * n);
  for (int m = 0; m < n_mels; ++m)
    for (int t = 0; t < n; ++t) f[m * n + t] = 1000.0f * m + t;
  return f;
}

static std::vector<float> drain(FrameBatcher& b, std::vector<int64_t>& starts) {
  const auto& c = b.config();
  std::vector<float> all, batch(static_cast<size_t>(c.batch_size) * c.n_mels * c.window);
  std::vector<int64_t> s(c.batch_size);
  while (int64_t k = b.pop_batch(batch.data(), s.data())) {
    all.insert(all.end(), batch.begin(), batch.begin() + k * c.n_mels * c.window);
    starts.insert(starts.end(), s.begin(), s.begin() + k);
  }
  return all;
}

TEST(window_counts_follow_the_tail_policy) {
  CHECK(config(TailPolicy::Pad).num_windows(0) == 0);
  CHECK(config(TailPolicy::Pad).num_windows(3) == 1);
  CHECK(config(TailPolicy::Drop).num_windows(3) == 0);
  CHECK(config(TailPolicy::Drop).num_windows(9) == 3);  // starts 0, 2, 4
  CHECK(config(TailPolicy::Pad).num_windows(9) == 4);   // and 6, padded
}

TEST(windows_hold_the_right_frames_and_padding) {
  FrameBatcher b(config(TailPolicy::Pad));
  const std::vector<float> f = frames(3, 9);
  b.accept_frames(f.data(), 9, 9, 1);
  b.input_finished();
  std::vector<int64_t> starts;
  const std::vector<float> out = drain(b, starts);
  CHECK((starts == std::vector<int64_t>{0, 2, 4, 6}));
  // window 3 (start 6), mel 2: frames 6, 7, 8, then one pad value
  const float* w = out.data() + (3 * 3 + 2) * 4;
  CHECK(w[0] == 2006.0f && w[1] == 2007.0f && w[2] == 2008.0f && w[3] == -100.0f);
}

TEST(streaming_pieces_equal_offline) {
  const int n = 23;
  const std::vector<float> f = frames(3, n);
  FrameBatcher offline(config(TailPolicy::Pad)), streamed(config(TailPolicy::Pad));
  offline.accept_frames(f.data(), n, n, 1);
  offline.input_finished();
  std::vector<int64_t> s1, s2;
  const std::vector<float> a = drain(offline, s1);
  std::vector<float> b;
  for (int t = 0; t < n;) {
    const int k = std::min(1 + t % 4, n - t);
    streamed.accept_frames(f.data() + t, k, n, 1);
    const std::vector<float> part = drain(streamed, s2);
    b.insert(b.end(), part.begin(), part.end());
    t += k;
  }
  streamed.input_finished();
  const std::vector<float> rest = drain(streamed, s2);
  b.insert(b.end(), rest.begin(), rest.end());
  CHECK(s1 == s2);
  CHECK(a == b);
}

TEST(invalid_settings_are_refused) {
  FrameBatcherConfig c = config(TailPolicy::Pad);
  c.hop = 0;
  CHECK_THROWS(FrameBatcher{c}, ParameterError);
  FrameBatcher b(config(TailPolicy::Pad));
  b.input_finished();
  const std::vector<float> f = frames(3, 2);
  CHECK_THROWS(b.accept_frames(f.data(), 2, 2, 1), ParameterError);
}

MUSICEDGE_TEST_MAIN

// The WAV reader: a written file reads back, and broken files give AudioError naming the file.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "wav_file.h"

using namespace musicedge;

static std::string temp_path(const char* name) { return std::string(MUSICEDGE_TEST_TMP) + "/" + name; }

TEST(a_written_file_reads_back) {
  std::vector<float> stereo;
  for (int i = 0; i < 1000; ++i) {
    stereo.push_back(i / 1000.0f);
    stereo.push_back(-i / 1000.0f);
  }
  const std::string path = temp_path("roundtrip.wav");
  write_wav16(path, stereo, 22050, 2);
  const WavAudio audio = read_wav(path);
  CHECK(audio.sample_rate == 22050);
  CHECK(audio.channels == 2);
  CHECK(audio.num_frames() == 1000);
  CHECK_NEAR(audio.samples[2 * 500], 0.5, 1.0 / 32767);
  CHECK_NEAR(audio.samples[2 * 500 + 1], -0.5, 1.0 / 32767);
  for (float v : audio.mono()) CHECK_NEAR(v, 0.0, 1.0 / 32767);
}

TEST(broken_files_are_refused_with_their_name) {
  const std::string missing = temp_path("missing.wav");
  std::remove(missing.c_str());
  try {
    read_wav(missing);
    CHECK(false);
  } catch (const AudioError& e) {
    CHECK(std::string(e.what()).find("missing.wav") != std::string::npos);
  }
  const std::string text = temp_path("text.wav");
  std::ofstream(text) << "this is not audio";
  CHECK_THROWS(read_wav(text), AudioError);

  const std::string truncated = temp_path("truncated.wav");
  write_wav16(truncated, std::vector<float>(1000, 0.25f), 16000);
  std::vector<char> bytes;
  {
    std::ifstream in(truncated, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  CHECK_THROWS(read_wav(truncated), AudioError);
}

MUSICEDGE_TEST_MAIN

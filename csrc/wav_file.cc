#include "wav_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "errors.h"

namespace musicedge {
namespace {

uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

// One sample of the given encoding at p, as float in [-1, 1].
float decode(const unsigned char* p, int format, int bits) {
  if (format == 3) {
    if (bits == 32) {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    double d;
    std::memcpy(&d, p, 8);
    return static_cast<float>(d);
  }
  switch (bits) {
    case 8: return (p[0] - 128) / 128.0f;
    case 16: return static_cast<int16_t>(le16(p)) / 32768.0f;
    case 24: {  // the three bytes as the top of an int32
      const uint32_t v = p[0] << 8 | p[1] << 16 | static_cast<uint32_t>(p[2]) << 24;
      return static_cast<float>(static_cast<int32_t>(v) / 2147483648.0);
    }
    default: return static_cast<float>(static_cast<int32_t>(le32(p)) / 2147483648.0);
  }
}

void put16(std::ofstream& out, uint16_t v) { out.put(static_cast<char>(v & 0xFF)).put(static_cast<char>(v >> 8)); }
void put32(std::ofstream& out, uint32_t v) { put16(out, v & 0xFFFF); put16(out, v >> 16); }

}  // namespace

std::vector<float> WavAudio::mono() const {
  if (channels == 1) return samples;
  std::vector<float> out(num_frames());
  for (int64_t i = 0; i < num_frames(); ++i) {
    float sum = 0.0f;
    for (int c = 0; c < channels; ++c) sum += samples[i * channels + c];
    out[i] = sum / channels;
  }
  return out;
}

WavAudio read_wav(const std::string& path) {
  auto fail = [&](const std::string& problem) -> void { throw AudioError(path + ": " + problem); };
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open the file");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0)
    fail("not a RIFF/WAVE file");
  int format = 0, bits = 0;
  WavAudio audio;
  size_t pos = 12;
  bool have_fmt = false;
  while (pos + 8 <= bytes.size()) {
    const unsigned char* chunk = bytes.data() + pos;
    const uint32_t size = le32(chunk + 4);
    const size_t body = pos + 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || body + 16 > bytes.size()) fail("truncated fmt chunk");
      format = le16(chunk + 8);
      audio.channels = le16(chunk + 10);
      audio.sample_rate = static_cast<int>(le32(chunk + 12));
      bits = le16(chunk + 22);
      if (format == 0xFFFE && size >= 40) format = le16(chunk + 32);  // WAVE_FORMAT_EXTENSIBLE subformat
      const bool pcm = format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
      const bool ieee = format == 3 && (bits == 32 || bits == 64);
      if (!pcm && !ieee)
        fail("unsupported encoding (format " + std::to_string(format) + ", " + std::to_string(bits) + " bits)");
      if (audio.channels <= 0 || audio.sample_rate <= 0) fail("fmt chunk with no channels or no sample rate");
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) fail("data chunk before the fmt chunk");
      const size_t width = bits / 8, frame = width * audio.channels;
      if (body + size > bytes.size()) fail("truncated: the data chunk promises more bytes than the file holds");
      const size_t n = size / frame * audio.channels;
      audio.samples.resize(n);
      for (size_t i = 0; i < n; ++i) audio.samples[i] = decode(bytes.data() + body + i * width, format, bits);
      return audio;
    }
    pos = body + size + (size & 1);
  }
  fail(have_fmt ? "no data chunk" : "no fmt chunk");
  return audio;
}

void write_wav16(const std::string& path, const std::vector<float>& samples, int sample_rate, int channels) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw AudioError(path + ": cannot write the file");
  const uint32_t data_bytes = static_cast<uint32_t>(samples.size() * 2);
  out.write("RIFF", 4);
  put32(out, 36 + data_bytes);
  out.write("WAVEfmt ", 8);
  put32(out, 16);
  put16(out, 1);
  put16(out, static_cast<uint16_t>(channels));
  put32(out, static_cast<uint32_t>(sample_rate));
  put32(out, static_cast<uint32_t>(sample_rate * channels * 2));
  put16(out, static_cast<uint16_t>(channels * 2));
  put16(out, 16);
  out.write("data", 4);
  put32(out, data_bytes);
  for (float s : samples) {
    const float c = std::min(1.0f, std::max(-1.0f, s));
    put16(out, static_cast<uint16_t>(static_cast<int16_t>(std::lround(c * 32767.0f))));
  }
  if (!out) throw AudioError(path + ": write failed");
}

}  // namespace musicedge

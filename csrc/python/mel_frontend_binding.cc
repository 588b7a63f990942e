// Binding of mel_config.h and mel_frontend.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common.h"
#include "mel_config.h"
#include "mel_frontend.h"
#include "real_fft.h"

namespace musicedge::py_binding {

namespace {

py::array_t<float> empty_frames(int n_mels) {
  return py::array_t<float>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n_mels), 0});
}

}  // namespace

void bind_mel_frontend(py::module_& m) {
  py::class_<MelConfig>(m, "MelConfig", "Native mel settings; use musicedge.FrontendConfig instead.")
      .def(py::init([](double sample_rate, int n_fft, int hop_length, int win_length, std::string window, bool center,
                       std::string pad_mode, int n_mels, double fmin, double fmax, bool htk, std::string norm,
                       double power, std::string log, double amin) {
             MelConfig c;
             c.sample_rate = sample_rate;
             c.n_fft = n_fft;
             c.hop_length = hop_length;
             c.win_length = win_length;
             c.window = std::move(window);
             c.center = center;
             c.pad_mode = std::move(pad_mode);
             c.n_mels = n_mels;
             c.fmin = fmin;
             c.fmax = fmax;
             c.htk = htk;
             c.norm = std::move(norm);
             c.power = power;
             c.log = std::move(log);
             c.amin = amin;
             return c;
           }),
           py::kw_only(), py::arg("sample_rate"), py::arg("n_fft"), py::arg("hop_length"), py::arg("win_length"),
           py::arg("window"), py::arg("center"), py::arg("pad_mode"), py::arg("n_mels"), py::arg("fmin"),
           py::arg("fmax"), py::arg("htk"), py::arg("norm"), py::arg("power"), py::arg("log"), py::arg("amin"))
      .def("validate", &MelConfig::validate)
      .def("num_frames", &MelConfig::num_frames, py::arg("n_samples"))
      .def("mel_filterbank",
           [](const MelConfig& c) {
             c.validate();
             py::array_t<double> out({static_cast<py::ssize_t>(c.n_mels), static_cast<py::ssize_t>(c.n_freqs())});
             double* w = out.mutable_data();
             std::fill(w, w + c.n_mels * c.n_freqs(), 0.0);
             const auto filters = mel_filterbank(c);
             for (size_t i = 0; i < filters.size(); ++i)
               std::copy(filters[i].weights.begin(), filters[i].weights.end(),
                         w + i * c.n_freqs() + filters[i].first_bin);
             return out;
           },
           "The dense (n_mels, 1 + n_fft // 2) float64 filter bank, as librosa.filters.mel.")
      .def("analysis_window", [](const MelConfig& c) {
        c.validate();
        const auto w = analysis_window(c);
        return py::array_t<double>(static_cast<py::ssize_t>(w.size()), w.data());
      });

  m.def(
      "power_spectrum",
      [](const py::handle& obj) {
        auto x = as_float32(obj, 2, "frames");
        const int n = static_cast<int>(x.shape(1));
        if (n < MelConfig::kMinFft || n > MelConfig::kMaxFft || (n & (n - 1)) != 0)
          throw ParameterError("frame length must be a power of two from 128 to 8192, got " + std::to_string(n));
        const int64_t frames = x.shape(0);
        py::array_t<double> out({static_cast<py::ssize_t>(frames), static_cast<py::ssize_t>(n / 2 + 1)});
        {
          const float* in = x.data();
          double* dst = out.mutable_data();
          py::gil_scoped_release release;
          power_spectrum_rows(in, frames, n, dst);
        }
        return out;
      },
      py::arg("frames"), "|rfft(frames)|^2 row by row, by the frontend's own FFT (float64, for tests).");

  py::class_<MelFrontend>(m, "MelFrontend")
      .def(py::init<const MelConfig&>(), py::arg("config"))
      .def_property_readonly("n_mels", &MelFrontend::n_mels)
      .def(
          "compute",
          [](const MelFrontend& self, const py::handle& y) {
            auto samples = as_float32(y, 1, "audio");
            const int64_t n = samples.shape(0);
            const int64_t frames = n > 0 ? self.config().num_frames(n) : 0;
            py::array_t<float> out({static_cast<py::ssize_t>(self.n_mels()), static_cast<py::ssize_t>(frames)});
            const float* in = samples.data();
            float* dst = out.mutable_data();
            {
              py::gil_scoped_release release;
              self.compute(in, n, dst);
            }
            return out;
          },
          py::arg("y"))
      .def(
          "accept_waveform",
          [](MelFrontend& self, const py::handle& chunk) {
            auto samples = as_float32(chunk, 1, "audio");
            const float* in = samples.data();
            const int64_t n = samples.shape(0);
            py::gil_scoped_release release;
            self.accept_waveform(in, n);
          },
          py::arg("chunk"))
      .def("input_finished", &MelFrontend::input_finished, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("is_finished", &MelFrontend::is_finished)
      .def_property_readonly("num_frames_ready", &MelFrontend::num_frames_ready)
      .def_property_readonly("num_frames_popped", &MelFrontend::num_frames_popped)
      .def_property_readonly("num_samples_accepted", &MelFrontend::num_samples_accepted)
      .def(
          "pop_frames",
          [](MelFrontend& self, int64_t max_frames) {
            const int64_t k = max_frames < 0 ? self.num_frames_ready() : std::min(max_frames, self.num_frames_ready());
            if (k == 0) return empty_frames(self.n_mels());
            py::array_t<float> out({static_cast<py::ssize_t>(self.n_mels()), static_cast<py::ssize_t>(k)});
            float* dst = out.mutable_data();
            self.pop_frames(dst, k, k);
            return out;
          },
          py::arg("max_frames") = -1)
      .def("reset", &MelFrontend::reset);
}

}  // namespace musicedge::py_binding

// Binding of frame_batcher.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <tuple>

#include "common.h"
#include "frame_batcher.h"

namespace musicedge::py_binding {

void bind_frame_batcher(py::module_& m) {
  py::class_<FrameBatcher>(m, "FrameBatcher")
      .def(py::init([](int n_mels, int window, int hop, int batch_size, const std::string& tail, float pad_value) {
             FrameBatcherConfig c;
             c.n_mels = n_mels;
             c.window = window;
             c.hop = hop;
             c.batch_size = batch_size;
             if (tail == "pad") c.tail = TailPolicy::Pad;
             else if (tail == "drop") c.tail = TailPolicy::Drop;
             else throw ParameterError("unknown tail policy '" + tail + "'; use pad or drop");
             c.pad_value = pad_value;
             return new FrameBatcher(c);
           }),
           py::arg("n_mels"), py::arg("window"), py::arg("hop"), py::arg("batch_size") = 32, py::arg("tail") = "pad",
           py::arg("pad_value") = 0.0f)
      .def_property_readonly("n_mels", [](const FrameBatcher& b) { return b.config().n_mels; })
      .def_property_readonly("window", [](const FrameBatcher& b) { return b.config().window; })
      .def_property_readonly("hop", [](const FrameBatcher& b) { return b.config().hop; })
      .def_property_readonly("batch_size", [](const FrameBatcher& b) { return b.config().batch_size; })
      .def_property_readonly("tail", [](const FrameBatcher& b) { return b.config().tail == TailPolicy::Pad ? "pad" : "drop"; })
      .def_property_readonly("pad_value", [](const FrameBatcher& b) { return b.config().pad_value; })
      .def("num_windows", [](const FrameBatcher& b, int64_t n) { return b.config().num_windows(n); }, py::arg("n_frames"))
      .def(
          "accept_frames",
          [](FrameBatcher& self, const py::handle& obj) {
            if (!py::isinstance<py::array>(obj) || py::reinterpret_borrow<py::array>(obj).dtype().kind() != 'f')
              throw ParameterError("frames must be a floating-point numpy array of shape (n_mels, n_frames)");
            auto arr = py::reinterpret_borrow<py::array>(obj);
            if (arr.ndim() != 2 || arr.shape(0) != self.config().n_mels)
              throw ParameterError("frames must have shape (" + std::to_string(self.config().n_mels) +
                                   ", n_frames), got " + shape_string(arr));
            // float32 arrays of any strides are read in place; other float dtypes are converted once.
            auto frames = py::array_t<float, py::array::forcecast>::ensure(arr);
            if (!frames) throw py::error_already_set();
            const float* data = frames.data();
            const int64_t n = frames.shape(1);
            const int64_t s_mel = frames.strides(0) / static_cast<int64_t>(sizeof(float));
            const int64_t s_frame = frames.strides(1) / static_cast<int64_t>(sizeof(float));
            py::gil_scoped_release release;
            self.accept_frames(data, n, s_mel, s_frame);
          },
          py::arg("frames"))
      .def("input_finished", &FrameBatcher::input_finished)
      .def_property_readonly("is_finished", &FrameBatcher::is_finished)
      .def_property_readonly("num_windows_ready", &FrameBatcher::num_windows_ready)
      .def("pop_batch",
           [](FrameBatcher& self) {
             const auto& c = self.config();
             const int64_t b = std::min<int64_t>(c.batch_size, self.num_windows_ready());
             py::array_t<float> batch({static_cast<py::ssize_t>(b), py::ssize_t{1}, static_cast<py::ssize_t>(c.n_mels),
                                       static_cast<py::ssize_t>(c.window)});
             py::array_t<int64_t> starts(static_cast<py::ssize_t>(b));
             float* out = batch.mutable_data();
             int64_t* st = starts.mutable_data();
             {
               py::gil_scoped_release release;
               self.pop_batch(out, st);
             }
             return std::make_tuple(batch, starts);
           })
      .def("reset", &FrameBatcher::reset);
}

}  // namespace musicedge::py_binding

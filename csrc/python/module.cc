// The musicedge._native module: exception translation, build information and the two classes.
#include <pybind11/pybind11.h>

#include "common.h"
#include "errors.h"
#include "real_fft.h"

namespace py = pybind11;

namespace musicedge::py_binding {

void bind_mel_frontend(py::module_& m);
void bind_frame_batcher(py::module_& m);

}  // namespace musicedge::py_binding

PYBIND11_MODULE(_native, m) {
  m.doc() = "musicedge C++ core: streaming mel frontend and frame batcher";
  py::module_ errors = py::module_::import("musicedge.errors");
  // Deliberately leaked references: the exception classes live as long as the interpreter.
  static PyObject* parameter_error = py::object(errors.attr("ParameterError")).release().ptr();
  static PyObject* audio_error = py::object(errors.attr("AudioError")).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const musicedge::ParameterError& e) {
      PyErr_SetString(parameter_error, e.what());
    } catch (const musicedge::AudioError& e) {
      PyErr_SetString(audio_error, e.what());
    }
  });

  py::dict info;
  info["build_flags"] = MUSICEDGE_BUILD_FLAGS;
  info["simd_lanes"] = musicedge::kLanes;
  info["simd"] = musicedge::simd_level();
  info["compiler"] = __VERSION__;
  m.attr("build_info") = info;

  musicedge::py_binding::bind_mel_frontend(m);
  musicedge::py_binding::bind_frame_batcher(m);
}

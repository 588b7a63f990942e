#include "common.h"

namespace musicedge::py_binding {

std::string shape_string(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

py::array_t<float, py::array::c_style | py::array::forcecast> as_float32(const py::handle& obj, int ndim, const char* what) {
  const bool audio = std::string(what) == "audio";
  auto fail = [&](const std::string& msg) -> void {
    if (audio) throw AudioError(msg);
    throw ParameterError(msg);
  };
  if (!py::isinstance<py::array>(obj)) fail(std::string(what) + " must be a numpy array, got " + std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  const char kind = arr.dtype().kind();
  if (kind != 'f')
    fail(std::string(what) + " must hold floating-point samples, got dtype " + std::string(py::str(arr.dtype())) +
         (kind == 'i' || kind == 'u' ? " (scale integer PCM to [-1, 1] first)" : ""));
  if (arr.ndim() != ndim)
    fail(std::string(what) + " must be " + std::to_string(ndim) + "-D, got shape " + shape_string(arr) +
         (audio && arr.ndim() == 2 ? " (mix down to mono first, e.g. musicedge.audio.to_mono)" : ""));
  auto converted = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
  if (!converted) throw py::error_already_set();
  return converted;
}

}  // namespace musicedge::py_binding

// Helpers shared by the binding files: turning numpy arrays into float32 views with clear errors.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "errors.h"

namespace musicedge::py_binding {

namespace py = pybind11;

std::string shape_string(const py::array& a);

// A C-contiguous float32 view of `obj`. float32 C-contiguous arrays pass through without a copy; other
// floating dtypes are converted. Anything else (integers, complex, objects) or the wrong number of
// dimensions raises AudioError (what = "audio") or ParameterError (what = anything else) naming the problem.
py::array_t<float, py::array::c_style | py::array::forcecast> as_float32(const py::handle& obj, int ndim, const char* what);

}  // namespace musicedge::py_binding

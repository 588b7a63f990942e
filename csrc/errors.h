// Exceptions thrown by the musicedge core. The Python binding maps them onto
// musicedge.errors.ParameterError and musicedge.errors.AudioError.
#pragma once

#include <stdexcept>
#include <string>

namespace musicedge {

// A configuration value or argument outside its domain.
struct ParameterError : std::invalid_argument {
  explicit ParameterError(const std::string& what) : std::invalid_argument(what) {}
};

// Audio that cannot be processed: empty, NaN or Inf samples.
struct AudioError : std::runtime_error {
  explicit AudioError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace musicedge

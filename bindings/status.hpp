// Status codes -> Python exceptions (runtime/errors.py).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

extern "C" {
#include "ember/status.h"
}

namespace ember_py {

// Raise the runtime.errors class `cls` with `message`.
[[noreturn]] void raise(const char *cls, const std::string &message);

// Plan building / prepare failures -> ModelError with ember_last_error().
void check_model(ember_status st, const char *what);

// Run failures -> RuntimeFailure with ember_last_error().
void check_run(ember_status st);

}  // namespace ember_py

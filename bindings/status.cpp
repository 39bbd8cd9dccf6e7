// Status codes -> Python exceptions. The exception classes live in
// runtime/errors.py so that pure-Python code and the binding raise the same
// types: ModelError for anything wrong while building a plan, RuntimeFailure
// for a failing run, InputError for bad run arguments.
#include "status.hpp"

extern "C" {
#include "ember/op.h"
}

namespace py = pybind11;

namespace ember_py {

void raise(const char *cls, const std::string &message) {
    py::object type = py::module_::import("runtime.errors").attr(cls);
    PyErr_SetObject(type.ptr(), py::str(message).ptr());
    throw py::error_already_set();
}

static std::string describe(ember_status st, const char *what) {
    std::string msg = what;
    msg += ": ";
    const char *detail = ember_last_error();
    msg += (detail && detail[0]) ? detail : ember_status_str(st);
    return msg;
}

void check_model(ember_status st, const char *what) {
    if (st != EMBER_OK) raise("ModelError", describe(st, what));
}

void check_run(ember_status st) {
    if (st != EMBER_OK) raise("RuntimeFailure", describe(st, "inference failed"));
}

}  // namespace ember_py

// runtime._core: the C executor behind the Python runtime (see runtime/model.py).
#include <pybind11/pybind11.h>

extern "C" {
#include "ember/op.h"
#include "ember/status.h"
}

namespace py = pybind11;

void ember_bind_plan(py::module_ &m);
void ember_bind_isa(py::module_ &m);
py::dict ember_ops_dict();
void ember_bind_requant(py::module_ &m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "Ember C executor: plans of int8 kernels over one arena.";
    ember_bind_plan(m);
    ember_bind_isa(m);
    ember_bind_requant(m);
    m.def("ops", &ember_ops_dict, "Op names of this build and their parameter names (dict name -> list).");
    m.def("last_error", []() { return std::string(ember_last_error()); }, "Last C error text of this thread.");
    m.def("status_str", [](int s) { return std::string(ember_status_str(static_cast<ember_status>(s))); });
}

// runtime._core ISA functions (csrc/include/ember/cpu.h): which SIMD path new
// plans use. EMBER_ISA is applied when the module is imported; an unknown or
// unavailable value raises runtime.errors.InputError at import, naming what
// this CPU can run. A plan keeps the ISA it was finalized with (its packed
// weights record it), so set_isa affects only plans finalized afterwards.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "status.hpp"

extern "C" {
#include "ember/cpu.h"
}

namespace py = pybind11;

namespace {

std::vector<std::string> available_isas() {
    std::vector<std::string> v;
    for (int i = 0; i < EMBER_ISA_COUNT; ++i)
        if (ember_isa_available(static_cast<ember_isa>(i))) v.push_back(ember_isa_name(i));
    return v;
}

std::string available_str() { return ember_isa_available_list(); }

void set_isa(const std::string &name) {
    ember_isa isa;
    if (ember_isa_from_name(name.c_str(), &isa) != EMBER_OK)
        ember_py::raise("InputError", "unknown ISA '" + name + "' (known: scalar, sse41, avx2, neon, neondot)");
    if (ember_isa_set(isa) != EMBER_OK)
        ember_py::raise("InputError", "ISA '" + name + "' is not available on this CPU/build (available: " +
                                          available_str() + ")");
}

}  // namespace

void ember_bind_isa(py::module_ &m) {
    const char *env = std::getenv("EMBER_ISA");
    const ember_status st = ember_isa_init_from_env();
    if (st == EMBER_ERR_ARG)
        ember_py::raise("InputError", std::string("EMBER_ISA='") + (env ? env : "") +
                                          "' is not an ISA name (scalar, sse41, avx2, neon, neondot)");
    if (st != EMBER_OK)
        ember_py::raise("InputError", std::string("EMBER_ISA='") + (env ? env : "") +
                                          "' is not available on this CPU/build (available: " + available_str() + ")");
    m.def("isa", []() { return std::string(ember_isa_active_name()); },
          "SIMD path that plans finalized from now on use (EMBER_ISA or set_isa, default: best available).");
    m.def("set_isa", &set_isa, py::arg("name"),
          "Choose the SIMD path for plans finalized from now on; InputError if unknown or unavailable.");
    m.def("best_isa", []() { return std::string(ember_isa_name(ember_isa_best())); });
    m.def("available_isas", &available_isas, "ISAs this build can run on this CPU, scalar first.");
}

// runtime._core requantization helpers: the C fixed-point arithmetic of
// ember/requant.h exposed elementwise, so that tests can hold the Python
// mirror (runtime/quant.py) to the C implementation bit for bit.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <utility>

extern "C" {
#include "ember/requant.h"
}

namespace py = pybind11;

namespace {

using i32array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

// Applies f elementwise over three equally sized int32 arrays.
template <typename F>
i32array map3(const i32array &a, const i32array &b, const i32array &c, F f) {
    const py::ssize_t n = a.size();
    if (b.size() != n || c.size() != n) throw py::value_error("arrays must have the same size");
    i32array out(n);
    const int32_t *pa = a.data(), *pb = b.data(), *pc = c.data();
    int32_t *po = out.mutable_data();
    for (py::ssize_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i], pc[i]);
    return out;
}

}  // namespace

void ember_bind_requant(py::module_ &m) {
    m.def(
        "srdhm", [](const i32array &a, const i32array &b) { return map3(a, b, b, [](int32_t x, int32_t y, int32_t) { return ember_srdhm(x, y); }); },
        "Elementwise SaturatingRoundingDoublingHighMul (ember/requant.h).");
    m.def(
        "rdbpot",
        [](const i32array &x, const i32array &e) {
            return map3(x, e, e, [](int32_t v, int32_t k, int32_t) {
                if (k < 0 || k > 31) throw py::value_error("exponent must be in [0, 31]");
                return ember_rdbpot(v, k);
            });
        },
        "Elementwise RoundingDivideByPOT, exponents in [0, 31].");
    m.def(
        "mbqm",
        [](const i32array &x, const i32array &mult, const i32array &shift) {
            return map3(x, mult, shift, [](int32_t v, int32_t q, int32_t s) {
                if (s < -31 || s > 30) throw py::value_error("shift must be in [-31, 30]");
                return ember_mbqm(v, q, s);
            });
        },
        "Elementwise MultiplyByQuantizedMultiplier (double rounding), shifts in [-31, 30].");
    m.def(
        "quantize_multiplier",
        [](double real) {
            int32_t mult = 0;
            int shift = 0;
            if (ember_quantize_multiplier(real, &mult, &shift) != 0)
                throw py::value_error("multiplier must be finite, >= 0 and need a shift <= 30");
            return std::make_pair(mult, shift);
        },
        "TFLite QuantizeMultiplier: real -> (multiplier, shift) with real = multiplier * 2**(shift - 31).");
}

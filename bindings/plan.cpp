// runtime._core.Plan: a thin owner of an ember_plan (csrc/include/ember/plan.h).
//
// Constants are borrowed, not copied: the Plan keeps a reference to each
// constant numpy array (copying only arrays that are not C-contiguous or not
// aligned to their item size). run() validates its arguments, allocates the
// outputs, then releases the GIL; contiguous aligned inputs are read in place.
// Runs of one Plan are serialized by a mutex (one arena per plan).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "status.hpp"

extern "C" {
#include "ember/op.h"
#include "ember/plan.h"
}

namespace py = pybind11;
using ember_py::raise;

namespace {

struct DType {
    const char *name;
    int32_t code;
};
const DType kDTypes[] = {{"int8", EMBER_DT_INT8},   {"uint8", EMBER_DT_UINT8}, {"int16", EMBER_DT_INT16},
                         {"int32", EMBER_DT_INT32}, {"int64", EMBER_DT_INT64}, {"float32", EMBER_DT_FLOAT32}};

int32_t dtype_code(const std::string &name) {
    for (const auto &d : kDTypes)
        if (name == d.name) return d.code;
    raise("ModelError", "unsupported tensor dtype '" + name + "'");
}

const char *dtype_name(int32_t code) {
    for (const auto &d : kDTypes)
        if (code == d.code) return d.name;
    return "?";
}

// numpy dtypes by code, built once (parsing a dtype string on every run()
// was a large share of the per-call overhead). Leaked on purpose: they live as
// long as the interpreter.
py::dtype numpy_dtype(int32_t code) {
    static py::dtype *cache[8] = {nullptr};
    if (code >= 0 && code < 8) {
        if (cache[code] == nullptr) cache[code] = new py::dtype(std::string(dtype_name(code)));
        return *cache[code];
    }
    return py::dtype(std::string(dtype_name(code)));
}

std::string shape_str(const ember_tensor *t) {
    std::string s = "(";
    for (int i = 0; i < t->ndim; ++i) {
        s += std::to_string(t->dims[i]);
        if (i + 1 < t->ndim || t->ndim == 1) s += ",";
        if (i + 1 < t->ndim) s += " ";
    }
    return s + ")";
}

class Plan {
  public:
    Plan() : plan_(ember_plan_create()) {
        if (plan_ == nullptr) throw std::bad_alloc();
    }
    ~Plan() { ember_plan_destroy(plan_); }
    Plan(const Plan &) = delete;
    Plan &operator=(const Plan &) = delete;

    int32_t add_tensor(const std::vector<int64_t> &shape, const std::string &dtype, double scale, int64_t zero_point,
                       py::object data) {
        const int32_t code = dtype_code(dtype);
        if (shape.size() > EMBER_MAX_DIMS)
            raise("ModelError", "tensor rank " + std::to_string(shape.size()) + " exceeds " +
                                    std::to_string(EMBER_MAX_DIMS));
        std::vector<int32_t> dims;
        for (int64_t d : shape) {
            if (d <= 0 || d > INT32_MAX) raise("ModelError", "tensor dimension " + std::to_string(d) + " out of range");
            dims.push_back(static_cast<int32_t>(d));
        }
        if (zero_point < INT32_MIN || zero_point > INT32_MAX) raise("ModelError", "zero point out of int32 range");
        const void *ptr = nullptr;
        if (!data.is_none()) {
            py::array arr = py::array::ensure(data);
            if (!arr) raise("ModelError", "constant data must be a numpy array");
            if (!arr.dtype().equal(numpy_dtype(code)))
                raise("ModelError", "constant data dtype " + std::string(py::str(arr.dtype())) + " != tensor dtype " +
                                        dtype);
            int64_t count = 1;
            for (int64_t d : shape) count *= d;
            if (arr.size() != count)
                raise("ModelError", "constant data has " + std::to_string(arr.size()) + " elements, shape needs " +
                                        std::to_string(count));
            const bool contiguous = (arr.flags() & py::array::c_style) != 0;
            const bool aligned = reinterpret_cast<uintptr_t>(arr.data()) % arr.itemsize() == 0;
            if (!contiguous || !aligned) {
                py::array copy(arr.dtype(), std::vector<py::ssize_t>{arr.size()});
                py::module_::import("numpy").attr("copyto")(copy, arr.attr("reshape")(-1));
                arr = copy;
            }
            ptr = arr.data();
            keep_.push_back(arr);
        }
        int32_t id = -1;
        ember_py::check_model(ember_plan_add_tensor(plan_, code, static_cast<int32_t>(dims.size()), dims.data(),
                                                    static_cast<float>(scale), static_cast<int32_t>(zero_point), ptr,
                                                    &id),
                              "add_tensor");
        return id;
    }

    int32_t add_op(const std::string &kernel, const std::vector<int32_t> &inputs, const std::vector<int32_t> &outputs,
                   const std::map<std::string, int64_t> &params) {
        const int32_t type = ember_op_find(kernel.c_str());
        if (type < 0) raise("ModelError", "unknown kernel '" + kernel + "' (not in this build's op table)");
        const ember_op_adapter *ad = ember_op_table[type];
        std::vector<int32_t> slots(ad->n_params > 0 ? ad->n_params : 1, 0);
        size_t matched = 0;
        for (int32_t i = 0; i < ad->n_params; ++i) {
            auto it = params.find(ad->param_names[i]);
            if (it == params.end())
                raise("ModelError", "kernel " + kernel + ": missing parameter '" + ad->param_names[i] + "'");
            if (it->second < INT32_MIN || it->second > INT32_MAX)
                raise("ModelError", "kernel " + kernel + ": parameter '" + it->first + "' = " +
                                        std::to_string(it->second) + " does not fit int32");
            slots[i] = static_cast<int32_t>(it->second);
            ++matched;
        }
        if (matched != params.size()) {
            for (const auto &kv : params) {
                bool known = false;
                for (int32_t i = 0; i < ad->n_params; ++i) known = known || kv.first == ad->param_names[i];
                if (!known) raise("ModelError", "kernel " + kernel + ": unknown parameter '" + kv.first + "'");
            }
        }
        ember_py::check_model(ember_plan_add_op(plan_, type, static_cast<int32_t>(inputs.size()), inputs.data(),
                                                static_cast<int32_t>(outputs.size()), outputs.data(), ad->n_params,
                                                slots.data()),
                              "add_op");
        return ember_plan_num_ops(plan_) - 1;
    }

    void set_io(const std::vector<int32_t> &inputs, const std::vector<int32_t> &outputs) {
        ember_py::check_model(ember_plan_set_io(plan_, static_cast<int32_t>(inputs.size()), inputs.data(),
                                                static_cast<int32_t>(outputs.size()), outputs.data()),
                              "set_io");
    }

    // 0 = no limit; see ember_plan_set_memory_limit.
    void set_memory_limit(uint64_t max_bytes) {
        const size_t limit = max_bytes > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(max_bytes);
        ember_py::check_model(ember_plan_set_memory_limit(plan_, limit), "set_memory_limit");
    }

    void finalize(int num_threads) { ember_py::check_model(ember_plan_finalize(plan_, num_threads), "finalize"); }

    py::list run(const py::sequence &inputs) {
        if (!ember_plan_is_finalized(plan_)) raise("RuntimeFailure", "run: plan is not finalized");
        const int32_t n_in = ember_plan_num_inputs(plan_), n_out = ember_plan_num_outputs(plan_);
        if (static_cast<int64_t>(py::len(inputs)) != n_in)
            raise("InputError", "expected " + std::to_string(n_in) + " input(s), got " + std::to_string(py::len(inputs)));
        std::vector<py::array> held;
        std::vector<const void *> in_ptrs(n_in > 0 ? n_in : 1, nullptr);
        for (int32_t i = 0; i < n_in; ++i) {
            const ember_tensor *t = ember_plan_tensor(plan_, ember_plan_input(plan_, i));
            py::object obj = inputs[i];
            if (!py::isinstance<py::array>(obj))
                raise("InputError", "input " + std::to_string(i) + " must be a numpy array");
            py::array arr = obj.cast<py::array>();
            if (!arr.dtype().equal(numpy_dtype(t->dtype)))
                raise("InputError", "input " + std::to_string(i) + ": dtype " + std::string(py::str(arr.dtype())) +
                                        ", expected " + dtype_name(t->dtype));
            bool same_shape = arr.ndim() == t->ndim;
            for (int d = 0; same_shape && d < t->ndim; ++d) same_shape = arr.shape(d) == t->dims[d];
            if (!same_shape) {
                std::string got = "(";
                for (py::ssize_t d = 0; d < arr.ndim(); ++d)
                    got += std::to_string(arr.shape(d)) + (d + 1 < arr.ndim() ? ", " : (arr.ndim() == 1 ? "," : ""));
                raise("InputError", "input " + std::to_string(i) + ": shape " + got + "), expected " + shape_str(t));
            }
            const bool contiguous = (arr.flags() & py::array::c_style) != 0;
            const bool aligned = reinterpret_cast<uintptr_t>(arr.data()) % arr.itemsize() == 0;
            if (!contiguous || !aligned) {  // copy in
                py::array copy(arr.dtype(), std::vector<py::ssize_t>(arr.shape(), arr.shape() + arr.ndim()));
                py::module_::import("numpy").attr("copyto")(copy, arr);
                arr = copy;
                ++input_copies_;
            }
            in_ptrs[i] = arr.data();
            held.push_back(arr);
        }
        std::vector<py::array> outs;
        std::vector<void *> out_ptrs(n_out, nullptr);
        for (int32_t i = 0; i < n_out; ++i) {
            const ember_tensor *t = ember_plan_tensor(plan_, ember_plan_output(plan_, i));
            py::array a(numpy_dtype(t->dtype), std::vector<py::ssize_t>(t->dims, t->dims + t->ndim));
            out_ptrs[i] = a.mutable_data();
            outs.push_back(a);
        }
        ember_status st;
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(run_mutex_);
            st = ember_plan_run(plan_, in_ptrs.data(), out_ptrs.data());
            if (st != EMBER_OK) last_run_error_ = ember_last_error();
        }
        if (st != EMBER_OK) raise("RuntimeFailure", "inference failed: " + last_run_error_);
        py::list result;
        for (auto &a : outs) result.append(a);
        return result;
    }

    py::dict memory() const {
        ember_plan_memory_info m;
        ember_py::check_model(ember_plan_memory(plan_, &m), "memory");
        py::dict d;
        d["arena_bytes"] = m.arena_bytes;
        d["activation_bytes"] = m.activation_bytes;
        d["scratch_bytes"] = m.scratch_bytes;
        d["persistent_bytes"] = m.persistent_bytes;
        d["naive_activation_bytes"] = m.naive_activation_bytes;
        return d;
    }

    size_t arena_bytes() const {
        ember_plan_memory_info m;
        ember_py::check_model(ember_plan_memory(plan_, &m), "arena_bytes");
        return m.arena_bytes;
    }

    // Per-op timing for `ember bench` (ember_plan_set_profiling).
    void set_profiling(bool enable) {
        std::lock_guard<std::mutex> lock(run_mutex_);
        ember_py::check_model(ember_plan_set_profiling(plan_, enable ? 1 : 0), "set_profiling");
    }

    py::list op_times_ns() {
        std::lock_guard<std::mutex> lock(run_mutex_);
        py::list l;
        for (int32_t i = 0; i < ember_plan_num_ops(plan_); ++i) l.append(ember_plan_op_time_ns(plan_, i));
        return l;
    }

    py::list op_scratch() const {
        py::list l;
        for (int32_t i = 0; i < ember_plan_num_ops(plan_); ++i) l.append(ember_plan_op_scratch(plan_, i));
        return l;
    }

    // Where a tensor lives (for tests and inspection): constants keep the caller's
    // memory, activations get arena offsets once finalized.
    py::dict tensor_info(int32_t id) const {
        const ember_tensor *t = ember_plan_tensor(plan_, id);
        if (t == nullptr) raise("ModelError", "tensor_info: no tensor " + std::to_string(id));
        py::dict d;
        d["dtype"] = dtype_name(t->dtype);
        d["shape"] = std::vector<int32_t>(t->dims, t->dims + t->ndim);
        d["bytes"] = t->bytes;
        d["is_const"] = t->is_const != 0;
        d["address"] = reinterpret_cast<uintptr_t>(t->data);
        return d;
    }

    // Inputs run() had to copy (not C-contiguous or misaligned); contiguous aligned inputs are read in place.
    uint64_t input_copies() const { return input_copies_; }

    int32_t num_tensors() const { return ember_plan_num_tensors(plan_); }
    int32_t num_ops() const { return ember_plan_num_ops(plan_); }
    bool finalized() const { return ember_plan_is_finalized(plan_) != 0; }

  private:
    ember_plan *plan_;
    std::vector<py::array> keep_;  // borrowed constant data
    std::mutex run_mutex_;
    std::string last_run_error_;
    uint64_t input_copies_ = 0;  // changed with the GIL held
};

}  // namespace

py::dict ember_ops_dict() {
    py::dict d;
    for (int32_t i = 0; i < ember_op_count; ++i) {
        const ember_op_adapter *ad = ember_op_table[i];
        py::list names;
        for (int32_t k = 0; k < ad->n_params; ++k) names.append(ad->param_names[k]);
        d[ad->name] = names;
    }
    return d;
}

void ember_bind_plan(py::module_ &m) {
    py::class_<Plan>(m, "Plan", "An execution plan: tensors, ops, one arena (see csrc/include/ember/plan.h).")
        .def(py::init<>())
        .def("add_tensor", &Plan::add_tensor, py::arg("shape"), py::arg("dtype"), py::arg("scale") = 0.0,
             py::arg("zero_point") = 0, py::arg("data") = py::none(),
             "Add a tensor; data (numpy array) makes it a constant. Returns its id.")
        .def("add_op", &Plan::add_op, py::arg("kernel"), py::arg("inputs"), py::arg("outputs"),
             py::arg("params") = std::map<std::string, int64_t>(),
             "Append an op; params maps every parameter name of the kernel to an int32.")
        .def("set_io", &Plan::set_io, py::arg("inputs"), py::arg("outputs"))
        .def("set_memory_limit", &Plan::set_memory_limit, py::arg("max_bytes"),
             "Fail finalize (ModelError) when arena + persistent buffers would exceed max_bytes (0: no limit).")
        .def("finalize", &Plan::finalize, py::arg("num_threads") = 1)
        .def("run", &Plan::run, py::arg("inputs"), "Run once; returns a list of new output arrays.")
        .def("memory", &Plan::memory)
        .def("op_scratch", &Plan::op_scratch)
        .def("set_profiling", &Plan::set_profiling, py::arg("enable"),
             "Record each op's wall time on every run (read with op_times_ns).")
        .def("op_times_ns", &Plan::op_times_ns, "Per-op wall time of the last profiled run, in ns.")
        .def("tensor_info", &Plan::tensor_info, py::arg("id"),
             "dtype, shape, bytes, is_const and data address of a tensor.")
        .def_property_readonly("arena_bytes", &Plan::arena_bytes)
        .def_property_readonly("input_copies", &Plan::input_copies,
                               "How many inputs run() copied because they were not C-contiguous and aligned.")
        .def_property_readonly("num_tensors", &Plan::num_tensors)
        .def_property_readonly("num_ops", &Plan::num_ops)
        .def_property_readonly("finalized", &Plan::finalized)
        .def_static("ops", &ember_ops_dict, "Op names of this build and their parameter names.");
}

"""The parts of the TFLite flatbuffer schema (tensorflow/compiler/mlir/lite/schema/schema.fbs)
that Ember writes: enum values, table field slots and builtin-options layouts.

Slot numbers are field ids in declaration order in schema.fbs (deprecated fields keep their slot).
Only what the writer needs is listed; extend the tables below when an op needs more.
"""
from __future__ import annotations

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# enum TensorType
TENSOR_TYPES = {
    "float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "string": 5, "bool": 6,
    "int16": 7, "complex64": 8, "int8": 9, "float64": 10, "complex128": 11, "uint64": 12,
    "uint32": 15, "uint16": 16, "int4": 17,
}
TENSOR_TYPE_NAMES = {v: k for k, v in TENSOR_TYPES.items()}

# enum ActivationFunctionType
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}
# enum Padding
PADDINGS = {"SAME": 0, "VALID": 1}

# enum BuiltinOperator (subset). Codes > 127 are stored in OperatorCode.builtin_code only;
# deprecated_builtin_code then holds PLACEHOLDER_FOR_GREATER_OP_CODES (127).
PLACEHOLDER_FOR_GREATER_OP_CODES = 127
BUILTIN_OPERATORS = {
    "ADD": 0, "AVERAGE_POOL_2D": 1, "CONCATENATION": 2, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4,
    "DEQUANTIZE": 6, "FULLY_CONNECTED": 9, "LOGISTIC": 14, "MAX_POOL_2D": 17, "MUL": 18,
    "RELU": 19, "RELU_N1_TO_1": 20, "RELU6": 21, "RESHAPE": 22, "RESIZE_BILINEAR": 23,
    "SOFTMAX": 25, "TANH": 28, "PAD": 34, "GATHER": 36, "TRANSPOSE": 39, "MEAN": 40, "SUB": 41,
    "SQUEEZE": 43, "STRIDED_SLICE": 45, "EXP": 47, "SPLIT": 49, "MAXIMUM": 55, "MINIMUM": 57,
    "PADV2": 60, "SLICE": 65, "TRANSPOSE_CONV": 67, "EXPAND_DIMS": 70, "LOG": 73, "SUM": 74,
    "SQRT": 75, "RSQRT": 76, "SHAPE": 77, "REDUCE_MAX": 82, "PACK": 83, "UNPACK": 88,
    "RESIZE_NEAREST_NEIGHBOR": 97, "LEAKY_RELU": 98, "SQUARED_DIFFERENCE": 99, "SPLIT_V": 102,
    "QUANTIZE": 114, "HARD_SWISH": 117, "BATCH_MATMUL": 126,
}
BUILTIN_OPERATOR_NAMES = {v: k for k, v in BUILTIN_OPERATORS.items()}

# Builtin options: op name -> (BuiltinOptions union type, [(field, slot, kind, default)]).
# kinds: i8, i32, bool, f32, act (ActivationFunctionType name), pad (Padding name), i32vec.
_CONV = [("padding", 0, "pad", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
         ("fused_activation_function", 3, "act", 0), ("dilation_w_factor", 4, "i32", 1),
         ("dilation_h_factor", 5, "i32", 1)]
_DWCONV = [("padding", 0, "pad", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
           ("depth_multiplier", 3, "i32", 0), ("fused_activation_function", 4, "act", 0),
           ("dilation_w_factor", 5, "i32", 1), ("dilation_h_factor", 6, "i32", 1)]
_POOL = [("padding", 0, "pad", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
         ("filter_width", 3, "i32", 0), ("filter_height", 4, "i32", 0),
         ("fused_activation_function", 5, "act", 0)]
_FC = [("fused_activation_function", 0, "act", 0), ("weights_format", 1, "i8", 0),
       ("keep_num_dims", 2, "bool", 0), ("asymmetric_quantize_inputs", 3, "bool", 0)]
_ACT_ONLY = [("fused_activation_function", 0, "act", 0)]
_ADDSUB = [("fused_activation_function", 0, "act", 0), ("pot_scale_int16", 1, "bool", 1)]
_STRIDED = [("begin_mask", 0, "i32", 0), ("end_mask", 1, "i32", 0), ("ellipsis_mask", 2, "i32", 0),
            ("new_axis_mask", 3, "i32", 0), ("shrink_axis_mask", 4, "i32", 0), ("offset", 5, "bool", 0)]

BUILTIN_OPTIONS = {
    "CONV_2D": (1, _CONV),
    "DEPTHWISE_CONV_2D": (2, _DWCONV),
    "AVERAGE_POOL_2D": (5, _POOL),
    "MAX_POOL_2D": (5, _POOL),
    "FULLY_CONNECTED": (8, _FC),
    "SOFTMAX": (9, [("beta", 0, "f32", 0.0)]),
    "CONCATENATION": (10, [("axis", 0, "i32", 0), ("fused_activation_function", 1, "act", 0)]),
    "ADD": (11, _ADDSUB),
    "RESHAPE": (17, [("new_shape", 0, "i32vec", None)]),
    "MUL": (21, _ACT_ONLY),
    "PAD": (22, []),
    "TRANSPOSE": (26, []),
    "MEAN": (27, [("keep_dims", 0, "bool", 0)]),
    "SUM": (27, [("keep_dims", 0, "bool", 0)]),
    "REDUCE_MAX": (27, [("keep_dims", 0, "bool", 0)]),
    "SUB": (28, _ADDSUB),
    "SQUEEZE": (30, [("squeeze_dims", 0, "i32vec", None)]),
    "STRIDED_SLICE": (32, _STRIDED),
    "DEQUANTIZE": (38, []),
    "MAXIMUM": (39, []),
    "MINIMUM": (39, []),
    "PADV2": (43, []),
    "LEAKY_RELU": (75, [("alpha", 0, "f32", 0.0)]),
    "QUANTIZE": (89, []),
    "HARD_SWISH": (91, []),
}

# Table field slots.
MODEL = {"version": 0, "operator_codes": 1, "subgraphs": 2, "description": 3, "buffers": 4}
SUBGRAPH = {"tensors": 0, "inputs": 1, "outputs": 2, "operators": 3, "name": 4}
TENSOR = {"shape": 0, "type": 1, "buffer": 2, "name": 3, "quantization": 4}
QUANTIZATION = {"scale": 2, "zero_point": 3, "quantized_dimension": 6}
OPERATOR = {"opcode_index": 0, "inputs": 1, "outputs": 2, "builtin_options_type": 3,
            "builtin_options": 4}
OPERATOR_CODE = {"deprecated_builtin_code": 0, "version": 2, "builtin_code": 3}
BUFFER = {"data": 0}

"""Exceptions raised by the runtime. Status codes from C map onto these (bindings/status.cpp)."""


class EmberError(Exception):
    """Base class of every error Ember raises on purpose."""


class ModelError(EmberError, ValueError):
    """The model file is malformed, hostile, or uses something Ember does not support."""


class UnsupportedOpError(ModelError):
    """The model uses an operator (or an operator variant) Ember does not implement."""


class InputError(EmberError, ValueError):
    """An inference input has the wrong dtype, shape or count."""


class RuntimeFailure(EmberError, RuntimeError):
    """The C executor reported a failure while running a model."""

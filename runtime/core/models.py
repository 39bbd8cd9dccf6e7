"""A model the core serves: loading, input building from readings, batched inference, outputs.

`ServedModel` wraps a `runtime.load()` model with the route of core.toml that
says which payload values feed it. It turns readings into the model's int8
input (features/channels -> normalise -> quantize), runs them (several at a
time when the model's batch dimension allows) and turns outputs into results.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import time
from collections import deque
from pathlib import Path

import numpy as np

from ..errors import EmberError
from ..quant import dequantize, quantize
from .config import ModelRoute
from .payload import BadInput, Block, Reading


class ModelLoadError(EmberError):
    """A configured model cannot be loaded or does not fit its route."""


def default_loader(path: str):
    import runtime
    return runtime.load(path)


def _sidecar(path: str) -> dict:
    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{side}: unreadable model description: {e}") from None
    return data if isinstance(data, dict) else {}


class LatencyWindow:
    """Last N latencies (seconds) for p50/p99. No lock: deque.extend and the copy in
    percentiles() are each one C-level operation (the worker adds once per result)."""

    def __init__(self, size: int = 2048):
        self._d = deque(maxlen=size)

    def add_many(self, values) -> None:
        self._d.extend(values)

    def percentiles(self) -> tuple[float, float]:
        a = list(self._d)
        if not a:
            return 0.0, 0.0
        a.sort()
        return percentile(a, 50), percentile(a, 99)


def percentile(sorted_values: list, q: float) -> float:
    """np.percentile's default (linear interpolation) of already sorted values. Not np.percentile
    itself: it imports numpy.ma (through np.unique), +1.3 MB of core RSS."""
    n = len(sorted_values)
    pos = (n - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    a, b = sorted_values[lo], sorted_values[hi]
    return float(a + (b - a) * (pos - lo))


class ServedModel:
    def __init__(self, route: ModelRoute, model, version: str = "", meta: dict | None = None):
        self.route = route
        self.name = route.name
        self.model = model
        meta = meta or {}
        self.version = version or route.version or str(meta.get("version", "")) or "0"
        self.labels = list(route.labels or meta.get("labels", []))
        self.features = list(route.features or meta.get("features", []))
        self.channels = list(route.channels or meta.get("channels", []))
        mean = route.mean or meta.get("mean", [])
        std = route.std or meta.get("std", [])
        self.threshold = float(meta.get("threshold", route.threshold)) if "threshold" in meta and \
            route.threshold == 0.5 else route.threshold
        inp = model.inputs[0]
        self.in_shape = tuple(int(d) for d in inp.shape)
        self.in_dtype = np.dtype(getattr(inp, "dtype", "int8"))
        self.in_scale, self.in_zp = float(inp.scale), int(inp.zero_point)
        if self.in_dtype != np.int8:
            raise ModelLoadError(f"model {self.name}: input dtype {self.in_dtype} is not int8")
        self.batch = self.in_shape[0] if len(self.in_shape) > 1 and self.in_shape[0] > 0 else 1
        self.sample_shape = self.in_shape[1:] if len(self.in_shape) > 1 else self.in_shape
        self.size = int(math.prod(self.sample_shape))
        out = model.outputs[0]
        self.out_name = getattr(out, "name", None)
        self.out_scale, self.out_zp = float(out.scale), int(out.zero_point)
        # features only (no channels): floats() reads them all from "f" with one itemgetter call
        self._get_features = None
        if self.features and not self.channels:
            names = tuple(self.features)
            self._get_features = operator.itemgetter(*names) if len(names) > 1 else \
                (lambda d, _n=names[0]: (d[_n],))
        self.mean = self._norm(mean, "mean", 0.0)
        self.std = self._norm(std, "std", 1.0)
        # Inputs are validated (dtype, shape) here, so the hot path may call the executor plan
        # directly when the runtime exposes it; any other model object goes through infer().
        plan = getattr(model, "_plan", None)
        if plan is not None and hasattr(plan, "run") and len(model.inputs) == 1:
            self._infer = lambda x, _run=plan.run: _run([x])
            self._plan_run = plan.run if len(model.outputs) == 1 else None
        else:
            self._infer = model.infer
            self._plan_run = None
        self._luts = None                           # int8 output tables for interpret()
        self._input_names = None
        self.requests = 0
        self.errors = 0
        self.latency = LatencyWindow()
        self.infer_time = LatencyWindow()

    def _norm(self, values, key: str, neutral: float):
        if not values:
            return None
        if len(values) not in (1, self.size):
            raise ModelLoadError(f"model {self.name}: {key} has {len(values)} values, input has {self.size}")
        a = np.asarray(values, np.float32)
        return None if np.all(a == neutral) else a

    @classmethod
    def load(cls, route: ModelRoute, loader=default_loader) -> "ServedModel":
        path = Path(route.path)
        if not path.is_file():
            raise ModelLoadError(f"model {route.name}: file not found: {path}")
        try:
            model = loader(str(path))
        except EmberError as e:
            raise ModelLoadError(f"model {route.name}: {e}") from None
        meta = _sidecar(str(path))
        version = route.version or str(meta.get("version", "")) or \
            hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return cls(route, model, version, meta)

    # ---- input
    def vectors(self, r) -> np.ndarray:
        """A Reading or a Block -> the model's int8 inputs, shape (count, size)."""
        if isinstance(r, Block):
            v = r.values
            if v.shape[1] != self.size:
                raise BadInput("wrong_size", f"model {self.name} expects {self.size} values, got {v.shape[1]}")
            if r.quantized:
                return v.astype(np.int8, copy=False)
            if not np.all(np.isfinite(v)):
                raise BadInput("bad_payload", f"model {self.name}: values must be finite numbers")
            return self._quantize(v)
        return self.vector(r).reshape(1, -1)   # (the service batches floats() instead)

    def vector(self, r: Reading) -> np.ndarray:
        """One JSON reading -> the model's int8 input (flat)."""
        q, ok = self.quantize_rows([self.floats(r)])
        if not ok[0]:
            raise BadInput("bad_payload", f"model {self.name}: values must be finite numbers")
        return q[0]

    def floats(self, r: Reading) -> np.ndarray:
        """One JSON reading -> its float32 input values in route order (not yet normalised)."""
        if self._get_features is not None and r.f:
            # Fast path (route features all present in "f" as plain numbers): one C-level lookup
            # of every feature and one conversion; anything else takes the general path below,
            # which gives the reason for a rejection.
            try:
                vals = self._get_features(r.f)
                if None not in vals:
                    v = np.array(vals, np.float32)
                    if v.ndim == 1 and v.size == self.size:
                        return v
            except (KeyError, TypeError, ValueError, OverflowError):
                pass
        parts = []
        plain = True                  # every value a plain int/float: one conversion for all of them
        f, ch = r.f or {}, r.ch or {}
        names_f = self.features or ([] if self.channels else sorted(f))
        names_c = self.channels or ([] if self.features else sorted(ch))
        for name in names_f:
            v = f.get(name, ch.get(name))
            if v is None:
                raise BadInput("missing_value", f"model {self.name}: payload has no feature {name!r}")
            if plain and type(v) is not float and type(v) is not int:
                plain = False
            parts.append(v)
        for name in names_c:
            w = ch.get(name, f.get(name))
            if w is None:
                raise BadInput("missing_value", f"model {self.name}: payload has no channel {name!r}")
            plain = False
            parts.append(w)
        try:
            if plain:
                v = np.array(parts, np.float32)
            else:
                flat = [np.asarray(p, np.float32).ravel() for p in parts]
                v = flat[0] if len(flat) == 1 else np.concatenate(flat) if flat else np.zeros(0, np.float32)
        except (TypeError, ValueError, OverflowError):   # OverflowError: an integer beyond float range
            raise BadInput("bad_payload", f"model {self.name}: values must be numbers or lists of numbers") from None
        if v.size != self.size:
            raise BadInput("wrong_size", f"model {self.name} expects {self.size} values, got {v.size}")
        return v

    def quantize_rows(self, rows: list, keep_floats: bool = False):
        """Float rows from `floats()` -> (int8 inputs of the finite rows, mask of finite rows), and
        with keep_floats the finite float rows themselves (feature units) as a third item."""
        f = np.stack(rows) if len(rows) > 1 else rows[0].reshape(1, -1)
        ok = np.isfinite(f).all(axis=1)
        if not ok.all():
            f = f[ok]
        return (self._quantize(f), ok, f) if keep_floats else (self._quantize(f), ok)

    def _quantize(self, v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float32, copy=False)
        if self.mean is not None:
            v = v - self.mean
        if self.std is not None:
            v = v / self.std
        return quantize(v, self.in_scale, self.in_zp, "int8")

    def feature_values(self, q: np.ndarray) -> np.ndarray:
        """int8 model inputs -> float32 values in the readings' own units: dequantized with the
        input's scale/zero point, then the route's normalisation undone (* std + mean). Exact up
        to the quantization step (input scale * std)."""
        v = dequantize(q, self.in_scale, self.in_zp)
        if self.std is not None:
            v = v * self.std
        if self.mean is not None:
            v = v + self.mean
        return v

    def input_names(self) -> list[str]:
        """A name per input value, from the route's features and channels: features are scalars,
        a channel filling the rest is a window named `ch[i]`. Positions ("0", "1", ...) when the
        route does not say (no names, or several windows of unknown lengths)."""
        if self._input_names is None:
            f, c, n = list(self.features), list(self.channels), self.size
            rest = n - len(f)
            if rest == len(c):                         # every feature and channel one value
                names = f + c
            elif len(c) == 1 and rest > 0:             # scalar features, then one window
                names = f + [f"{c[0]}[{i}]" for i in range(rest)]
            elif not c and len(f) == 1:                # one feature holding a list
                names = [f"{f[0]}[{i}]" for i in range(n)]
            else:
                names = [str(i) for i in range(n)]
            self._input_names = names
        return self._input_names

    def class_names(self, m: int) -> list[str]:
        """The result label of each class of an m-value output, as interpret() names them
        ("0"/"1" for a single thresholded output without two labels)."""
        if m == 1:
            return self.labels[:2] if len(self.labels) >= 2 else ["0", "1"]
        return [self.labels[i] if i < len(self.labels) else str(i) for i in range(m)]

    def classes(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs (k, m) -> the class index of each result's label (as interpret() picks it)."""
        if raw.shape[1] == 1:
            deq = dequantize(raw[:, 0], self.out_scale, self.out_zp).astype(np.float64)
            return (deq >= self.threshold).astype(np.int64)
        return raw.argmax(axis=1)           # = argmax of the dequantized outputs (scale > 0)

    # ---- inference
    def _call(self, x: np.ndarray) -> np.ndarray:
        y = self._infer(x)
        if isinstance(y, (dict, list, tuple)):
            if isinstance(y, dict):
                y = y[self.out_name] if self.out_name in y else next(iter(y.values()))
            else:
                y = y[0]
        return y

    def run(self, xs: np.ndarray) -> np.ndarray:
        """xs: (k, size) int8 -> raw int8 outputs (k, out_size)."""
        k = xs.shape[0]
        b = self.batch
        xs = np.ascontiguousarray(xs, dtype=np.int8)
        if b == 1 and self._plan_run is not None:  # one executor call per reading, no per-call reshapes
            run = self._plan_run
            xr = xs.reshape((k, *self.in_shape))
            first = run([xr[0]])[0]
            out = np.empty((k, first.size), first.dtype)
            flat = out.reshape((k, *first.shape))
            flat[0] = first
            for i in range(1, k):
                flat[i] = run([xr[i]])[0]
            return out
        if b == 1:                                  # one call per reading, results into one array
            first = np.asarray(self._call(xs[0:1].reshape(self.in_shape))).reshape(-1)
            out = np.empty((k, first.size), first.dtype)
            out[0] = first
            shape = self.in_shape
            for i in range(1, k):
                out[i] = np.asarray(self._call(xs[i:i + 1].reshape(shape))).reshape(-1)
            return out
        outs = []
        for i in range(0, k, b):
            chunk = xs[i:i + b]
            n = chunk.shape[0]
            if n < b:  # pad the last batch of a fixed-batch model
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], b - n, 0)])
            y = np.asarray(self._call(np.ascontiguousarray(chunk.reshape(self.in_shape)))).reshape(b, -1)
            outs.append(y[:n])
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def interpret(self, raw: np.ndarray) -> list[dict]:
        """Raw outputs (k, m) -> result fields: q (raw int8 outputs), outputs (dequantized,
        6 decimals), score and label (argmax, or threshold for a single output)."""
        if raw.dtype == np.int8 and raw.shape[0] < 12:     # small batches: tables beat numpy's per-call cost
            return self._interpret_int8(raw)
        return self._interpret_numpy(raw)

    def _interpret_int8(self, raw: np.ndarray) -> list[dict]:
        """interpret() of int8 outputs through 256-entry tables built with the numpy path's own
        operations (the same values, without a dozen small numpy calls per batch)."""
        if self._luts is None:
            q = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
            deq = dequantize(q, self.out_scale, self.out_zp).astype(np.float64)
            self._luts = (deq[:, 0].tolist(), np.round(deq, 6)[:, 0].tolist(),
                          (deq[:, 0] >= self.threshold).tolist())
        deq_t, out_t, over_t = self._luts
        m = raw.shape[1]
        res = []
        if m == 1:
            names = self.labels if len(self.labels) >= 2 else None
            for (qv,) in raw.tolist():
                o = out_t[qv + 128]
                r = {"q": [qv], "outputs": [o], "score": o}
                if names is not None:
                    r["label"] = names[1 if over_t[qv + 128] else 0]
                res.append(r)
            return res
        names = [self.labels[i] if i < len(self.labels) else str(i) for i in range(m)]
        for row in raw.tolist():
            d = [deq_t[v + 128] for v in row]
            i = d.index(max(d))                      # first maximum, as np.argmax
            res.append({"q": row, "outputs": [out_t[v + 128] for v in row], "score": out_t[row[i] + 128],
                        "label": names[i]})
        return res

    def _interpret_numpy(self, raw: np.ndarray) -> list[dict]:
        deq = dequantize(raw, self.out_scale, self.out_zp).astype(np.float64)
        outs = np.round(deq, 6).tolist()
        qs = raw.tolist()
        k, m = deq.shape
        if m == 1:
            scores = outs
            idx = (deq[:, 0] >= self.threshold).astype(int).tolist()
            names = self.labels if len(self.labels) >= 2 else None
        else:
            am = np.argmax(deq, axis=1)
            idx = am.tolist()
            scores = np.round(deq[np.arange(k), am], 6).tolist()
            names = [self.labels[i] if i < len(self.labels) else str(i) for i in range(m)]
        res = []
        for j in range(k):
            r = {"q": qs[j], "outputs": outs[j], "score": scores[j][0] if m == 1 else scores[j]}
            if names is not None:
                r["label"] = names[idx[j]]
            res.append(r)
        return res

    def describe(self) -> dict:
        p50, p99 = self.latency.percentiles()
        i50, i99 = self.infer_time.percentiles()
        return {"name": self.name, "version": self.version, "requests": self.requests, "errors": self.errors,
                "latency_ms_p50": round(p50 * 1e3, 3), "latency_ms_p99": round(p99 * 1e3, 3),
                "infer_ms_p50": round(i50 * 1e3, 3), "infer_ms_p99": round(i99 * 1e3, 3),
                "input_shape": list(self.in_shape), "path": self.route.path}


def now() -> float:
    return time.monotonic()

"""scikit-learn front end: MLPClassifier, MLPRegressor, LogisticRegression, optionally behind a
StandardScaler in a Pipeline (the scaler is folded into the first layer's weights)."""
from __future__ import annotations

import numpy as np

from ...errors import ModelError
from ..graph import Graph, Node

_MLP_ACT = {"relu": "RELU", "identity": "NONE", "tanh": "TANH", "logistic": "LOGISTIC"}


def _unwrap(model):
    """Returns (estimator, (mean, scale) or None)."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return model, None
    if len(steps) > 2:
        raise ModelError("only Pipeline([StandardScaler, estimator]) or a bare estimator is supported")
    scaler = None
    if len(steps) == 2:
        s = steps[0][1]
        if type(s).__name__ != "StandardScaler":
            raise ModelError(f"unsupported pipeline step {type(s).__name__} (only StandardScaler)")
        mean = s.mean_ if getattr(s, "with_mean", True) and s.mean_ is not None else np.zeros(s.n_features_in_)
        scale = s.scale_ if getattr(s, "with_std", True) and s.scale_ is not None else np.ones(s.n_features_in_)
        scaler = (np.asarray(mean, np.float64), np.asarray(scale, np.float64))
    return steps[-1][1], scaler


def _fold_scaler(w, b, scaler):
    """x' = (x - mean) / scale; y = W x' + b  ->  y = (W / scale) x + (b - W (mean / scale))."""
    if scaler is None:
        return w, b
    mean, scale = scaler
    w2 = w / scale[None, :]
    return w2, b - w2 @ mean


def from_sklearn(model) -> Graph:
    est, scaler = _unwrap(model)
    kind = type(est).__name__
    if not hasattr(est, "coefs_") and not hasattr(est, "coef_"):
        raise ModelError(f"{kind} is not fitted or not supported (MLPClassifier, MLPRegressor, "
                         "LogisticRegression)")
    nodes = []
    labels = [str(c) for c in getattr(est, "classes_", [])] or None
    if kind in ("MLPClassifier", "MLPRegressor"):
        hidden = _MLP_ACT.get(est.activation)
        if hidden is None:
            raise ModelError(f"MLP activation {est.activation!r} is not supported")
        layers = list(zip(est.coefs_, est.intercepts_))
        n_in = layers[0][0].shape[0]
        prev = "input"
        for i, (w, b) in enumerate(layers):
            w = np.asarray(w, np.float64).T          # sklearn stores [in, out]
            b = np.asarray(b, np.float64)
            if i == 0:
                w, b = _fold_scaler(w, b, scaler)
            last = i == len(layers) - 1
            out = f"dense{i}"
            act = "NONE"
            if not last and hidden in ("RELU", "NONE"):
                act = hidden
            nodes.append(Node("FULLY_CONNECTED", [prev], [out], {"weights": w, "bias": b, "act": act},
                              name=f"dense{i}"))
            prev = out
            if not last and hidden in ("TANH", "LOGISTIC"):
                nodes.append(Node(hidden, [prev], [f"{out}_{hidden.lower()}"], name=f"{out}_{hidden.lower()}"))
                prev = nodes[-1].outputs[0]
        out_act = getattr(est, "out_activation_", "identity")
    elif kind == "LogisticRegression":
        w = np.asarray(est.coef_, np.float64)
        b = np.asarray(est.intercept_, np.float64)
        w, b = _fold_scaler(w, b, scaler)
        n_in = w.shape[1]
        nodes.append(Node("FULLY_CONNECTED", ["input"], ["logits"], {"weights": w, "bias": b}, name="dense0"))
        prev = "logits"
        out_act = "logistic" if w.shape[0] == 1 else "softmax"
    else:
        raise ModelError(f"scikit-learn estimator {kind} is not supported")
    if out_act == "softmax":
        nodes.append(Node("SOFTMAX", [prev], ["probabilities"], {"beta": 1.0}, name="softmax"))
        prev = "probabilities"
    elif out_act == "logistic":
        nodes.append(Node("LOGISTIC", [prev], ["probabilities"], name="logistic"))
        prev = "probabilities"
    elif out_act != "identity":
        raise ModelError(f"output activation {out_act!r} is not supported")
    g = Graph(inputs=["input"], outputs=[prev], nodes=nodes, output_labels=labels)
    g.infer_shapes({"input": (1, n_in)})
    return g

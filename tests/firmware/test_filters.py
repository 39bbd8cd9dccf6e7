"""Filters: identical results under the MicroPython unix port and CPython,
and each filter checked against an independent reference (numpy/statistics)."""
import math
import os
import statistics
import subprocess
import sys

import numpy as np
import pytest

from .conftest import FAKES, SRC

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "filter_cases.py")


def test_filters_same_under_micropython_and_cpython(micropython):
    mp = micropython(SCRIPT).stdout.splitlines()
    env = dict(os.environ, PYTHONPATH="%s:%s" % (FAKES, SRC))
    cp = subprocess.run([sys.executable, SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                        check=True).stdout.splitlines()
    assert len(cp) == 31
    assert len(mp) == len(cp)
    for a, b in zip(mp, cp):
        assert a == b, "MicroPython and CPython differ:\n%s\n%s" % (a[:200], b[:200])


def f32(x):
    return float(np.float32(x))


def series(n=400, seed=3):
    rng = np.random.default_rng(seed)
    return list(np.cumsum(rng.normal(0, 0.1, n)) + rng.normal(0, 0.3, n))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 9])
def test_median_matches_statistics_median(fw, n):
    from filters import Median

    xs = [f32(x) for x in series()]
    m = Median(n)
    for k, x in enumerate(xs):
        want = statistics.median(xs[max(0, k - n + 1):k + 1])
        assert m.update(x) == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [1, 3, 8, 16])
def test_moving_average_matches_numpy(fw, n):
    from filters import MovingAverage

    xs = [f32(x) for x in series()]
    m = MovingAverage(n)
    for k, x in enumerate(xs):
        want = np.mean(xs[max(0, k - n + 1):k + 1])
        assert m.update(x) == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_ema_recurrence(fw):
    from filters import EMA

    xs = series()
    e = EMA(0.25)
    y = xs[0]
    assert e.update(xs[0]) == y
    for x in xs[1:]:
        y = y + 0.25 * (x - y)
        assert e.update(x) == y


def test_deadband_sends_on_delta_and_heartbeat(fw):
    from filters import Deadband

    d = Deadband(0.5, heartbeat_ms=1000)
    assert d.update(1.0, 0) == 1.0  # first sample always goes out
    assert d.update(1.4, 100) is None
    assert d.update(0.6, 200) is None
    assert d.update(1.5, 300) == 1.5  # |1.5 - 1.0| >= 0.5
    assert d.update(1.6, 1200) is None
    assert d.update(1.6, 1300) == 1.6  # heartbeat: 1000 ms since the last send
    # held value (what the receiver reconstructs) stays within the deadband
    xs = series(2000)
    d = Deadband(0.3)
    held = None
    for t, x in enumerate(xs):
        out = d.update(x, t)
        if out is not None:
            held = out
        assert abs(x - held) < 0.3


def test_rate_limit_spacing(fw):
    from filters import RateLimit

    r = RateLimit(250)
    passed = [t for t in range(0, 2000, 100) if r.update(1.0, t) is not None]
    assert passed == [0, 300, 600, 900, 1200, 1500, 1800]


def test_chain_stops_at_suppression_and_drops_nan(fw):
    from filters import Chain, Deadband, Median

    c = Chain([Median(3), Deadband(1.0)])
    assert c.update(float("nan"), 0) is None
    assert c.update(5.0, 1) == 5.0
    assert c.update(5.5, 2) is None
    assert c.update(100.0, 3) is None  # a single outlier: median of (5, 5.5, 100) = 5.5
    assert c.update(float("nan"), 4) is None


def test_window_features_match_numpy(fw):
    from filters import Window

    xs = [f32(x) for x in series(64, 9)]
    w = Window(32)
    outs = [w.add(x) for x in xs]
    assert all(o is None for o in outs[:31]) and all(o is None for o in outs[32:63])
    for o, chunk in ((outs[31], xs[:32]), (outs[63], xs[32:])):
        a = np.array(chunk)
        rms = math.sqrt(np.mean(a * a))
        peak = np.max(np.abs(a))
        assert o == pytest.approx((np.mean(a), rms, peak, peak / rms), rel=1e-9)
    assert Window(4).add(0.0) is None


def test_build_chain_rejects_bad_specs_with_reason(fw):
    from filters import build_chain

    bad = [
        ([{"type": "kalman"}], "type must be one of"),
        ([{"type": "median"}], "missing n"),
        ([{"type": "median", "n": 2.5}], "n must be an integer"),
        ([{"type": "median", "n": 0}], "median size must be >= 1"),
        ([{"type": "avg", "n": 1000}], "n must be <= 64"),
        ([{"type": "ema", "alpha": 0}], "alpha must be in"),
        ([{"type": "ema", "alpha": "x"}], "alpha must be a number"),
        ([{"type": "deadband", "delta": -1}], "delta must be >= 0"),
        ([{"type": "rate", "interval_ms": 10, "extra": 1}], "unknown key extra"),
        (["median"], "type must be one of"),
    ]
    for spec, reason in bad:
        with pytest.raises(ValueError, match=reason):
            build_chain(spec)
    c = build_chain([{"type": "ema", "alpha": 0.5}, {"type": "deadband", "delta": 1}])
    assert len(c.stages) == 2

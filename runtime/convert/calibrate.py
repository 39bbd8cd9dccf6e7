"""Calibration: run the float graph over representative data and record each tensor's range."""
from __future__ import annotations

import sys
from typing import Iterable, Optional

import numpy as np

from ..errors import InputError
from .graph import Graph


class _StderrBar:
    """Minimal progress bar for when tqdm is not installed."""

    def __init__(self, total: int, desc: str, stream=None):
        self.total, self.desc, self.n = max(total, 1), desc, 0
        self.stream = stream if stream is not None else sys.stderr
        self._last = -1

    def update(self, k: int = 1) -> None:
        self.n += k
        pct = min(100, int(100 * self.n / self.total))
        if pct != self._last:
            self._last = pct
            filled = pct * 30 // 100
            self.stream.write(f"\r{self.desc}: [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}% "
                              f"({self.n}/{self.total})")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def progress_bar(total: int, desc: str, enabled: bool = True):
    if not enabled:
        return _NullBar()
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, leave=True)
    except ImportError:
        return _StderrBar(total, desc)


class _NullBar:
    def update(self, k: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def batches(data, batch_size: int):
    """Split calibration data (array or dict name -> array, leading axis = samples) into batches."""
    if isinstance(data, dict):
        n = {len(np.asarray(v)) for v in data.values()}
        if len(n) != 1:
            raise InputError(f"calibration inputs have different sample counts: {sorted(n)}")
        total = n.pop()
        for s in range(0, total, batch_size):
            yield {k: np.asarray(v)[s:s + batch_size] for k, v in data.items()}, total
    else:
        arr = np.asarray(data)
        for s in range(0, len(arr), batch_size):
            yield arr[s:s + batch_size], len(arr)


def calibrate(graph: Graph, data, batch_size: int = 64, progress: bool = True,
              max_samples: Optional[int] = None) -> dict:
    """Return {tensor name: (min, max)} over the calibration data (float32 ranges)."""
    ranges: dict = {}

    def observe(name, v):
        if v.size:
            lo, hi = float(np.min(v)), float(np.max(v))
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise InputError(f"tensor {name!r} became non-finite during calibration")
            old = ranges.get(name)
            ranges[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        return None

    bar = None
    seen = 0
    for batch, total in batches(data, batch_size):
        if max_samples is not None:
            total = min(total, max_samples)
        if bar is None:
            if total == 0:
                break
            bar = progress_bar(total, "calibrating", progress)
        feeds = batch if isinstance(batch, dict) else {graph.inputs[0]: batch}
        if not isinstance(batch, dict) and len(graph.inputs) != 1:
            raise InputError(f"the model has {len(graph.inputs)} inputs: pass calibration data as a dict")
        k = len(next(iter(feeds.values())))
        if max_samples is not None and seen + k > max_samples:
            feeds = {n: v[:max_samples - seen] for n, v in feeds.items()}
            k = max_samples - seen
        _check_feeds(graph, feeds)
        graph.run(feeds, observe=observe)
        seen += k
        bar.update(k)
        if max_samples is not None and seen >= max_samples:
            break
    if bar is not None:
        bar.close()
    if seen == 0:
        raise InputError("calibration data is empty")
    return ranges


def _check_feeds(graph: Graph, feeds: dict) -> None:
    for name in graph.inputs:
        if name not in feeds:
            raise InputError(f"calibration data has no input {name!r}")
        want = graph.shapes.get(name)
        got = np.asarray(feeds[name]).shape
        if want is not None and tuple(got[1:]) != tuple(want[1:]):
            raise InputError(f"calibration input {name!r} has sample shape {tuple(got[1:])}, "
                             f"the model expects {tuple(want[1:])}")
        if not np.all(np.isfinite(np.asarray(feeds[name], dtype=np.float64))):
            raise InputError(f"calibration input {name!r} contains NaN or infinity")

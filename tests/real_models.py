"""Where the MLPerf Tiny reference models live: ../shared/models relative to the repo root
(override with EMBER_MODELS_DIR, e.g. when testing from a worktree)."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EMBER_MODELS_DIR", REPO.parent / "shared" / "models"))
KWS = MODELS_DIR / "kws_ref_model.tflite"
VWW = MODELS_DIR / "vww_96_int8.tflite"


def model_bytes(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"{path} not present (set EMBER_MODELS_DIR)")
    return path.read_bytes()

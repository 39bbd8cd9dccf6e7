"""Where the MLPerf Tiny reference models live: ../shared/models relative to the repo root
(worktrees sit deeper, so further parents are tried too; EMBER_MODELS_DIR overrides)."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _models_dir() -> Path:
    if os.environ.get("EMBER_MODELS_DIR"):
        return Path(os.environ["EMBER_MODELS_DIR"])
    for parent in REPO.parents:
        if (parent / "shared" / "models").is_dir():
            return parent / "shared" / "models"
    return REPO.parent / "shared" / "models"


MODELS_DIR = _models_dir()
KWS = MODELS_DIR / "kws_ref_model.tflite"
VWW = MODELS_DIR / "vww_96_int8.tflite"


def model_bytes(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"{path} not present (set EMBER_MODELS_DIR)")
    return path.read_bytes()

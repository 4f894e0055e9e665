"""Test set-up: offline Hub, a private cache folder, and shared fixtures."""

from __future__ import annotations

import os

# Must be set before huggingface_hub / datasets are imported anywhere (DESIGN.md §3).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _depthbench_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache so tests never read a user's data."""
    if "DEPTHBENCH_HOME" not in os.environ:
        os.environ["DEPTHBENCH_HOME"] = str(tmp_path_factory.mktemp("depthbench_home"))


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is absent")
    return FIXTURES


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)

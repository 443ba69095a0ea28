"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
pytest_plugins = ["platform_fixtures"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def test_data() -> pathlib.Path:
    """Small real files copied into the repository (see docs/data-credits.md)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The larger real data beside the project (../shared/data); tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is not beside the project ({SHARED_DATA} missing)")
    return SHARED_DATA

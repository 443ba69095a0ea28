"""What the tests that drive Debian's chromium share: where it is, how it is started, and a few probes.

Use ``pytestmark = needs_chromium`` (a browser mark plus a skip when chromium is missing) and
``launch(playwright)`` for a headless browser with the flags these machines need.
"""

from __future__ import annotations

import io
import pathlib
import time
from collections.abc import Callable

import numpy as np
import pytest
from live_server import free_port  # noqa: F401 - the browser tests' servers take it from here

CHROMIUM = pathlib.Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
#: screenshots and other artefacts of the browser tests, kept for people to look at
OUT = pathlib.Path(__file__).resolve().parents[2] / "test-output"
#: explore.viz.LinkedViews' default highlight colour, as it shows in a screenshot
HIGHLIGHT = (0xFF, 0x17, 0x44)

skip_without_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                           reason="Debian's chromium is not installed (apt-get install chromium)")
needs_chromium = [pytest.mark.browser, skip_without_chromium]


def launch(playwright):
    """A headless Chromium from Debian's package."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)



def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed; whether it became true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


def pixels_like(png: bytes, rgb: tuple[int, int, int], tol: int = 40) -> int:
    """How many pixels of a screenshot are within ``tol`` of a colour."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(img - np.array(rgb)).max(axis=2) <= tol).sum())

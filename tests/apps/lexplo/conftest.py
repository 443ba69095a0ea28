"""A prepared Moon data folder built from the small real files in tests/data/lunar."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def moon_dir(tmp_path_factory, test_data):
    from explore.apps.lexplo.layers import prepare_demo_data

    data_dir = tmp_path_factory.mktemp("var")
    prepare_demo_data(data_dir, source=test_data / "lunar")
    return data_dir

"""An API client per test on the platform fixture (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def app(platform):
    from explore.web.app import create_app

    return create_app(platform=platform, scheduler=True, ui=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def token_for(client, name: str, password: str | None = None) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": name, "password": password or f"{name}-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def auth(client, people):
    """Authorization headers per user name."""
    return {name: token_for(client, name) for name in ("alice", "bob", "carol", "root")}

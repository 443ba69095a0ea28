"""Platform fixtures, loaded for the whole suite by tests/conftest.py: every test runs on SQLite and, when
EXPLORE_TEST_DATABASE_URL is set, on PostgreSQL too (in a schema of its own, dropped afterwards)."""

from __future__ import annotations

import os
import pathlib
import sys
import uuid

import pytest
import sqlalchemy as sa

SUPPORT = str(pathlib.Path(__file__).resolve().parents[1] / "support")
TEST_APPS = ["explore_test_apps:Countdown", "explore_test_apps:Stubborn", "explore_test_apps:ViewOnly"]
PG_URL = os.environ.get("EXPLORE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'explore.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) if PG_URL.startswith("postgresql://") else PG_URL
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path, database_url, monkeypatch):
    from explore.settings import Settings

    if SUPPORT not in sys.path:
        sys.path.insert(0, SUPPORT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([SUPPORT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return Settings(data_dir=tmp_path / "var", database_url=database_url, extra_apps=TEST_APPS,
                    default_quota=10_000_000, max_upload=5_000_000, max_runs=2, secret_key="test-secret-key",
                    login_free_attempts=3)


@pytest.fixture
def platform(settings):
    from explore.platform.core import Platform

    p = Platform(settings)
    yield p
    p.close()


@pytest.fixture
def people(platform):
    """alice and bob (users), carol (in group 'astro' with dave), root (admin)."""
    ps = {name: platform.create_user(name, f"{name}-password") for name in ("alice", "bob", "carol", "dave")}
    ps["root"] = platform.create_user("root", "root-password", role="admin")
    platform.accounts.create_group("astro")
    platform.accounts.add_member("astro", "carol")
    platform.accounts.add_member("astro", "dave")
    ps["carol"] = platform.accounts.get("carol")
    ps["dave"] = platform.accounts.get("dave")
    return ps


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing():
    """Argon2id with a small cost in tests (the production cost is argon2-cffi's default)."""
    from argon2 import PasswordHasher

    from explore.platform import accounts

    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = saved

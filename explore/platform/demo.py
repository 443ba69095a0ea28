"""The demo data set: each app writes its demo files into ``demo/<app id>/``, a public, read-only
home owned by the system account ``demo`` (which cannot sign in)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from explore.platform.core import Platform
from explore.platform.errors import NotFound

log = logging.getLogger(__name__)
DEMO_USER = "demo"
MARKER = ".explore-demo-ready"


def ensure_demo_user(platform: Platform) -> None:
    try:
        platform.accounts.get(DEMO_USER)
    except NotFound:
        platform.accounts.create_user(DEMO_USER, None, full_name="EXPLORE demo data")
        platform.accounts.update_user(DEMO_USER, active=False)
    platform.workspace.ensure_home(DEMO_USER)
    with platform.db.session() as s:
        from sqlalchemy import select

        from explore.platform.models import FilePermission

        if s.scalar(select(FilePermission).where(FilePermission.path == DEMO_USER,
                                                 FilePermission.principal_kind == "public")) is None:
            s.add(FilePermission(path=DEMO_USER, principal_kind="public", principal="", access="read"))


def prepare_demo(platform: Platform, *, force: bool = False, echo=print) -> list[str]:
    """Generate the demo data of every app that has some and has not made it yet; returns the app ids done."""
    ensure_demo_user(platform)
    prepare_app_data(platform, echo=echo)
    storage = platform.workspace.storage
    done = []
    for cls in platform.catalogue.list():
        if not cls.has_demo():
            continue
        folder = f"{DEMO_USER}/{cls.id}"
        marker = f"{folder}/{MARKER}"
        if storage.exists(marker) and not force:
            continue
        start = time.perf_counter()
        echo(f"preparing the demo data of {cls.title}...")
        local_root = storage.local_path(folder)
        target = local_root if local_root is not None else Path(tempfile.mkdtemp(prefix="explore-demo-"))
        target.mkdir(parents=True, exist_ok=True)
        try:
            cls().demo(target)
        except Exception as exc:  # noqa: BLE001 - one app's demo must not stop the server
            log.exception("demo data of %s failed", cls.id)
            echo(f"  the demo data of {cls.title} could not be prepared: {exc}")
            continue
        if local_root is None:
            for path in sorted(target.rglob("*")):
                rel = f"{folder}/{path.relative_to(target).as_posix()}"
                if path.is_dir():
                    storage.makedirs(rel)
                else:
                    storage.makedirs(rel.rsplit("/", 1)[0])
                    with storage.writer(rel) as w, path.open("rb") as fh:
                        for chunk in iter(lambda: fh.read(1 << 20), b""):
                            w.write(chunk)
            shutil.rmtree(target, ignore_errors=True)
        storage.write_bytes(marker, b"ok")
        echo(f"  done in {time.perf_counter() - start:.1f} s")
        done.append(cls.id)
    ensure_product_index(platform, echo=echo)
    return done


def prepare_app_data(platform: Platform, *, echo=print) -> None:
    """Let each app with a ``prepare_data(data_dir)`` hook (the Moon app: its rasters) fill the data
    folder; the hooks are idempotent and quick once done."""
    for cls in platform.catalogue.list():
        hook = getattr(cls, "prepare_data", None)
        if not callable(hook):
            continue
        try:
            hook(platform.settings.data_path)
        except Exception as exc:  # noqa: BLE001 - one app's data must not stop the server
            log.exception("data of %s failed", cls.id)
            echo(f"  the data of {cls.title} could not be prepared: {exc}")


def ensure_product_index(platform: Platform, *, n: int = 5000, echo=print) -> None:
    """Build the space browser's demo product index once, when the products table is empty."""
    from sqlalchemy import func, select

    from explore.platform.products import Product, make_demo_index

    moon = platform.settings.data_path / "moon"
    root = moon if (moon / "ale_labels").is_dir() else None
    with platform.db.session() as s:
        if s.scalar(select(func.count()).select_from(Product)):
            return
        start = time.perf_counter()
        echo("building the demo product index of the space browser...")
        try:
            counts = make_demo_index(s, n=n, lunar_root=root)
        except Exception as exc:  # noqa: BLE001
            log.exception("demo product index failed")
            echo(f"  the demo product index could not be built: {exc}")
            return
        echo(f"  {sum(counts.values())} products in {time.perf_counter() - start:.1f} s")

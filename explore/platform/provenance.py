"""``provenance.json``: what produced a run's outputs, so that a result can be traced and repeated."""

from __future__ import annotations

import datetime as dt
import platform as _platform
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from explore.settings import Settings

KEY_PACKAGES = (
    "explore-platform", "numpy", "scipy", "astropy", "pandas", "pyarrow", "scikit-learn", "umap-learn", "numba",
    "h5py", "dust_extinction", "rasterio", "rio-tiler", "pyproj", "shapely", "spiceypy", "datashader",
    "holoviews", "panel", "dask", "distributed", "zarr",
)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def provenance(app_cls: Any, run_id: str, user: str, params: dict[str, Any], inputs: list[dict[str, Any]],
               started: dt.datetime, finished: dt.datetime, phase: str, settings: Settings) -> dict[str, Any]:
    module = app_cls.__module__.split(".")[0]
    app_package = {}
    try:
        from importlib.metadata import packages_distributions

        for dist in packages_distributions().get(module, []):
            app_package[dist] = version(dist)
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        pass
    return {
        "run": run_id,
        "app": {"id": app_cls.id, "title": app_cls.title, "version": app_cls.version,
                "class": f"{app_cls.__module__}:{app_cls.__qualname__}", "distribution": app_package,
                "citation": app_cls.citation},
        "user": user,
        "params": params,
        "inputs": inputs,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "duration_s": (finished - started).total_seconds(),
        "phase": phase,
        "executor": settings.executor,
        "host": socket.gethostname(),
        "python": sys.version.split()[0],
        "system": f"{_platform.system()} {_platform.release()} {_platform.machine()}",
        "packages": package_versions(),
    }

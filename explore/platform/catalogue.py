"""The app catalogue: SDAs found through the ``explore.apps`` entry points (and ``extra_apps``).

The platform never imports an app by name. An app that fails to load is left out of the catalogue
and its error is kept in :attr:`Catalogue.broken` for the administrator, instead of taking the whole
platform down.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from explore.platform.errors import InvalidParams, NotFound
from explore.sdk import App, Params

log = logging.getLogger(__name__)
GROUP = "explore.apps"


def load_reference(ref: str) -> type[App]:
    """Import ``module:Class``."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


_classes: dict[str, type] = {}


def _loaded(ref: str, loader) -> type:
    """Import an app class once per process (like ``sys.modules``, which it sits on)."""
    if ref not in _classes:
        _classes[ref] = loader()
    return _classes[ref]


class Catalogue:
    def __init__(self, extra: list[str] | None = None) -> None:
        self._apps: dict[str, type[App]] = {}
        self.references: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        self._pending = {ep.name: ep for ep in entry_points(group=GROUP)}
        for ref in extra or []:
            self._add(ref, ref, lambda ref=ref: _loaded(ref, lambda: load_reference(ref)))

    def _load(self, name: str) -> None:
        ep = self._pending.pop(name, None)
        if ep is not None:
            self._add(ep.name, ep.value, lambda: _loaded(ep.value, ep.load))

    @property
    def apps(self) -> dict[str, type[App]]:
        """Every app, importing those not imported yet (a worker imports only the one it runs)."""
        for name in list(self._pending):
            self._load(name)
        return self._apps

    def _add(self, name: str, ref: str, loader) -> None:
        try:
            cls = loader()
            if not (isinstance(cls, type) and issubclass(cls, App)):
                raise TypeError(f"{ref} is not an explore.sdk.App subclass")
            if not getattr(cls, "id", None) or not getattr(cls, "title", None):
                raise TypeError(f"{ref} has no id or title")
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the platform
            log.info("app %s (%s) could not be loaded: %s", name, ref, exc)
            self.broken[name] = f"{type(exc).__name__}: {exc}"
            return
        self._apps[cls.id] = cls
        self.references[cls.id] = f"{cls.__module__}:{cls.__qualname__}"

    def list(self, body: str | None = None) -> list[type[App]]:
        apps = sorted(self.apps.values(), key=lambda a: a.title.lower())
        return [a for a in apps if body is None or a.body == body]

    def get(self, app_id: str) -> type[App]:
        self._load(app_id)  # entry points are named by app id: import just that one if it is
        if app_id in self._apps:
            return self._apps[app_id]
        try:
            return self.apps[app_id]
        except KeyError:
            raise NotFound(f"no app {app_id!r}; installed: {', '.join(sorted(self.apps)) or 'none'}") from None

    def describe(self, app_id: str) -> dict[str, Any]:
        cls = self.get(app_id)
        return {**cls.metadata(), "params_schema": cls.Params.model_json_schema()}

    def validate(self, app_id: str, params: dict[str, Any]) -> Params:
        cls = self.get(app_id)
        try:
            return cls.Params.model_validate(params)
        except ValidationError as exc:
            errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
            text = "; ".join(f"{e['field'] or 'params'}: {e['message']}" for e in errors)
            raise InvalidParams(f"invalid parameters for {app_id}: {text}", errors) from None

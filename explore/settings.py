"""The one settings object: environment variables ``EXPLORE_*``, optionally a TOML file.

Precedence (highest first): arguments given in code, ``EXPLORE_*`` environment variables, the TOML
file named by ``EXPLORE_CONFIG`` (or ``<data dir>/explore.toml``), defaults.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import tomllib
from functools import cached_property
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

GiB = 1024**3


class Settings(BaseSettings):
    """Configuration of one EXPLORE installation."""

    model_config = SettingsConfigDict(env_prefix="EXPLORE_", extra="ignore")

    data_dir: pathlib.Path = Field(pathlib.Path("var"), description="folder for the database, workspace and demo data")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite in the data folder")
    storage_url: str = Field("", description="fsspec URL of the workspace root; default: <data_dir>/workspace")
    executor: str = Field("local", description="'local' (a process per run) or 'dask://host:port'")
    max_runs: int = Field(2, ge=1, description="runs executing at once with the local executor")
    secret_key: str = Field("", description="key signing session cookies; default: generated once in the data folder")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field("", description="URL users reach the server at, for links printed in the console")
    default_quota: int = Field(10 * GiB, description="bytes of workspace per user unless set per user")
    max_upload: int = Field(20 * GiB, description="largest single upload in bytes")
    session_hours: float = 12.0
    token_days: float = 90.0
    secure_cookies: bool = False
    login_free_attempts: int = Field(5, description="failed logins allowed before each further try is delayed")
    extra_apps: Annotated[list[str], NoDecode] = Field(default_factory=list, description="'module:Class' apps to add to the entry points")
    demo: bool = Field(True, description="prepare the demo data on first start")
    product_columns: int = Field(20_000, ge=0, description="hold the product index in memory for searches once it has "
                                 "this many products (~230 MB per million; 0: never)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @field_validator("extra_apps", mode="before")
    @classmethod
    def _split_apps(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    # ---- derived values ----------------------------------------------------------------------
    @cached_property
    def data_path(self) -> pathlib.Path:
        return self.data_dir.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'explore.db'}"

    @property
    def workspace_url(self) -> str:
        return self.storage_url or str(self.data_path / "workspace")

    @property
    def signing_key(self) -> str:
        """The cookie-signing key: given, or created once (mode 600) in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """These settings as ``EXPLORE_*`` variables, for a worker process to rebuild them."""
        env = {
            "EXPLORE_DATA_DIR": str(self.data_path),
            "EXPLORE_DATABASE_URL": self.db_url,
            "EXPLORE_STORAGE_URL": self.workspace_url,
            "EXPLORE_EXECUTOR": self.executor,
            "EXPLORE_SECRET_KEY": self.signing_key,
        }
        if self.extra_apps:
            env["EXPLORE_EXTRA_APPS"] = ",".join(self.extra_apps)
        return env


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``EXPLORE_CONFIG`` or ``<data dir>/explore.toml`` (keys as the field names)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("EXPLORE_CONFIG")
        if not path:
            candidate = pathlib.Path(os.environ.get("EXPLORE_DATA_DIR", "var")) / "explore.toml"
            path = str(candidate) if candidate.is_file() else ""
        if not path:
            return {}
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return data.get("explore", data)

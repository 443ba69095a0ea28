"""The platform as one object: settings, database, storage and the services on them.

The web layer, the CLI and the run workers all build a :class:`Platform` from a
:class:`~explore.settings.Settings` and call its services; none of them touches the database directly.
"""

from __future__ import annotations

import logging

from explore.platform import product_columns
from explore.platform.accounts import Accounts, Principal
from explore.platform.annotations import Annotations
from explore.platform.catalogue import Catalogue
from explore.platform.db import Database
from explore.platform.runs import Runs
from explore.platform.selections import Selections
from explore.platform.storage import Storage
from explore.platform.workspace import Workspace
from explore.settings import Settings

log = logging.getLogger(__name__)


class Platform:
    def __init__(self, settings: Settings | None = None, *, scheduler: bool = False, migrate: bool = True) -> None:
        self.settings = settings or Settings()
        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.db_url)
        product_columns.configure(self.db.engine, self.settings.product_columns)
        if migrate:
            self.db.migrate()
        self.storage = Storage(self.settings.workspace_url)
        self.accounts = Accounts(self.db, session_hours=self.settings.session_hours,
                                 token_days=self.settings.token_days,
                                 free_attempts=self.settings.login_free_attempts)
        self.workspace = Workspace(self.db, self.storage, self.accounts, default_quota=self.settings.default_quota,
                                   max_upload=self.settings.max_upload)
        self.catalogue = Catalogue(self.settings.extra_apps)
        self.runs = Runs(self.db, self.catalogue, "dask" if "://" in self.settings.executor else "local")
        self.annotations = Annotations(self.db, self.accounts)
        self.selections = Selections(self.db, self.accounts)
        self.scheduler = None
        if scheduler:
            self.start_scheduler()

    def start_scheduler(self, *, recover: bool = True) -> None:
        """Run queued runs from this process (the server, or a CLI waiting for its run)."""
        from explore.platform.executors import Scheduler, make_executor

        if self.scheduler is not None:
            return
        if recover:
            n = self.runs.recover()
            if n:
                log.warning("%d run(s) were executing when the server stopped: marked as interrupted", n)
        self.scheduler = Scheduler(self.runs, make_executor(self.settings))
        self.scheduler.start()

    def create_user(self, name: str, password: str | None = None, **kwargs) -> Principal:
        user = self.accounts.create_user(name, password, **kwargs)
        self.workspace.ensure_home(name)
        return user

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
            self.scheduler = None
        self.db.dispose()

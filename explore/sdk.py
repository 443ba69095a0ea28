"""The contract between the EXPLORE platform and a Scientific Data Application (SDA).

An SDA subclasses :class:`App` and publishes it in the entry-point group ``explore.apps``::

    [project.entry-points."explore.apps"]
    gtomo = "explore.apps.gtomo.app:GTomo"

The platform finds it there, shows its metadata in the catalogue, generates the configuration
panel, the API validation and the CLI options from its pydantic ``Params`` model, runs ``run`` in a
batch job with a :class:`RunContext`, and opens ``view`` in an interactive :class:`Session`.

An SDA imports the platform only through this module. Everything here is small and stable.
"""

from __future__ import annotations

import abc
import pathlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "App",
    "Access",
    "AnnotationRecord",
    "Compute",
    "NoParams",
    "Params",
    "RunCancelled",
    "RunContext",
    "SelectionRecord",
    "Session",
    "WorkspaceFile",
    "WorkspacePath",
    "Field",
    "LocalRunContext",
    "run_locally",
    "chunks",
]

Body = Literal["milkyway", "moon", "mars"]
T = TypeVar("T")
R = TypeVar("R")


class Params(BaseModel):
    """Base class of an app's batch parameters.

    Fields become the configuration panel in the portal, the JSON schema of the API and the
    ``key=value`` options of ``explore run``. Use ``Field(description=..., ge=..., le=...)`` for help
    texts and ranges, ``Literal[...]`` for choices, and :data:`WorkspacePath` for a file chosen from
    the user's workspace.
    """

    model_config = ConfigDict(extra="forbid")


class NoParams(Params):
    """Parameters of an app that takes none."""


def WorkspacePath(description: str = "", *, default: Any = ..., kinds: Sequence[str] = ()) -> Any:  # noqa: N802
    """A parameter field that names a file in the user's workspace (``alice/data/spectra.fits``).

    ``kinds`` lists accepted file suffixes (``(".fits", ".parquet")``); the portal shows a file picker
    filtered by them.
    """
    return Field(
        default,
        description=description,
        json_schema_extra={"format": "workspace-path", "kinds": list(kinds)},
    )


class RunCancelled(Exception):
    """Raised inside ``App.run`` (by :meth:`RunContext.progress`) when the user pressed STOP."""


class Compute(Protocol):
    """Where an app sends heavy work it can split: the local machine or a Dask cluster."""

    n_workers: int

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Apply ``fn`` to every item, in parallel where the executor can, and keep the order."""
        ...


class RunContext(abc.ABC):
    """What a batch run sees of the platform.

    ``progress`` reports how far the run is (0..1) with a short message, and is where a STOP
    requested by the user takes effect: it raises :class:`RunCancelled`, so an app that reports
    progress regularly stops cleanly without any code of its own.
    """

    #: the run's output folder on the local disk; everything written here ends in the user's
    #: workspace folder ``<app>_<YYYYMMDDTHHMMSS>`` next to ``params.json`` and ``provenance.json``.
    output: pathlib.Path
    #: the executor for splittable heavy work.
    compute: Compute
    #: the user name the run belongs to.
    user: str
    #: the run identifier.
    run_id: str

    @abc.abstractmethod
    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (``fraction`` in 0..1); raise :class:`RunCancelled` if STOP was pressed."""

    @property
    @abc.abstractmethod
    def cancelled(self) -> bool:
        """Whether the user asked the run to stop."""

    @abc.abstractmethod
    def log(self, message: str, level: str = "info") -> None:
        """Append a line to the run's log (shown live in the Runs page)."""

    @abc.abstractmethod
    def open_input(self, path: str) -> IO[bytes]:
        """Open a workspace file the user chose as an input (checked for read access, checksummed
        into ``provenance.json``)."""

    @abc.abstractmethod
    def input_path(self, path: str) -> pathlib.Path:
        """A local file path for a workspace input, for libraries that need a file name (h5py,
        rasterio, astropy); fetched to a local cache first when the workspace is remote."""


@dataclass(frozen=True)
class WorkspaceFile:
    """One entry of a workspace listing."""

    path: str
    name: str
    is_dir: bool
    size: int
    modified: float


@dataclass
class Access:
    """Who may read or write an annotation, a selection or a file.

    ``level`` is ``private`` (the owner only), ``shared`` (the named users and groups) or ``public``
    (every signed-in user for annotations and selections; anyone for public files).
    """

    level: Literal["private", "shared", "public"] = "private"
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass
class AnnotationRecord:
    id: int
    app: str
    view: str
    title: str
    description: str
    author: str
    object_ids: list[str] | None
    region: dict[str, Any] | None
    read: Access
    write: Access
    created: str
    updated: str
    can_write: bool = False


@dataclass
class SelectionRecord:
    id: int
    name: str
    app: str
    dataset: str
    owner: str
    ids: list[str]
    description: str = ""
    created: str = ""


class Session(Protocol):
    """What an interactive app view sees of the platform: the user, the workspace, annotations and
    the selection bus. Methods raise ``PermissionError`` where the user lacks a right and
    ``FileNotFoundError`` where a path does not exist (or must not be seen)."""

    user: str
    app_id: str
    #: a selection handed over by another app when this session was opened with one, else None
    incoming_selection: SelectionRecord | None

    # workspace
    def listdir(self, path: str = "") -> list[WorkspaceFile]: ...
    def open(self, path: str, mode: str = "rb") -> AbstractContextManager[IO[bytes]]: ...
    def read_bytes(self, path: str) -> bytes: ...
    def write_bytes(self, path: str, data: bytes) -> str: ...
    def makedirs(self, path: str) -> str: ...
    def local_path(self, path: str) -> pathlib.Path: ...
    def home(self) -> str: ...

    # annotations
    def annotations(self, view: str | None = None) -> list[AnnotationRecord]: ...
    def annotate(
        self,
        view: str,
        title: str,
        description: str = "",
        *,
        object_ids: Sequence[str] | None = None,
        region: dict[str, Any] | None = None,
        read: Access | None = None,
        write: Access | None = None,
    ) -> AnnotationRecord: ...
    def update_annotation(
        self,
        annotation_id: int,
        *,
        title: str | None = None,
        description: str | None = None,
        object_ids: Sequence[str] | None = None,
        region: dict[str, Any] | None = None,
        read: Access | None = None,
        write: Access | None = None,
    ) -> AnnotationRecord:
        """Change an annotation the user may write (``AnnotationRecord.can_write``); arguments left
        None keep their stored value. Only the author may change ``read`` and ``write``."""
        ...
    def delete_annotation(self, annotation_id: int) -> None:
        """Delete an annotation the user may write (``PermissionError`` otherwise)."""
        ...

    # selections (the selection bus)
    def save_selection(
        self, name: str, dataset: str, ids: Sequence[str], *, description: str = "", read: Access | None = None
    ) -> SelectionRecord: ...
    def selections(self, dataset: str | None = None) -> list[SelectionRecord]: ...
    def send_selection(self, selection_id: int, to_app: str) -> str:
        """Return the URL that opens ``to_app`` with the selection."""
        ...


class App:
    """Declaration of a Scientific Data Application.

    Subclass it, set the class attributes, define ``Params`` and override ``run`` (batch) and/or
    ``view`` (interactive). A ``cli`` Typer app, if set, is mounted as ``explore <id> ...``.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str] = ""
    description: ClassVar[str] = ""
    creator: ClassVar[str] = ""
    licence: ClassVar[str] = "Apache-2.0"
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = ""
    body: ClassVar[Body] = "milkyway"
    has_output: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = NoParams
    #: an optional typer.Typer mounted by the ``explore`` command as ``explore <cli_name or id> ...``
    cli: ClassVar[Any] = None
    cli_name: ClassVar[str | None] = None

    def run(self, params: Params, ctx: RunContext) -> None:
        """Run the batch computation, writing outputs into ``ctx.output``."""
        raise NotImplementedError(f"{self.id} has no batch run")

    def view(self, session: Session) -> Any:
        """Return the interactive view (a Panel viewable) for one user session."""
        raise NotImplementedError(f"{self.id} has no interactive view")

    def demo(self, folder: pathlib.Path) -> None:
        """Write the app's demo data into ``folder`` (called once, on the platform's first start).

        The platform publishes the folder read-only to every user as ``demo/<app id>/``. Keep it
        deterministic and quick (seconds): real small files where they exist, physically sensible
        synthetic data to reach scale.
        """

    @classmethod
    def has_demo(cls) -> bool:
        return cls.demo is not App.demo

    # ---- introspection used by the platform -------------------------------------------------
    @classmethod
    def has_run(cls) -> bool:
        return cls.run is not App.run

    @classmethod
    def has_view(cls) -> bool:
        return cls.view is not App.view

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "title": cls.title,
            "summary": cls.summary,
            "description": cls.description,
            "creator": cls.creator,
            "licence": cls.licence,
            "version": cls.version,
            "citation": cls.citation,
            "body": cls.body,
            "has_output": cls.has_output,
            "has_run": cls.has_run(),
            "has_view": cls.has_view(),
        }


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices that cut ``range(n)`` into pieces of at most ``size``: for splitting work over ``ctx.compute``."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class _SerialCompute:
    """Runs mapped work in the current process, in order: the compute of notebooks and tests."""

    n_workers = 1

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]


class LocalRunContext(RunContext):
    """A :class:`RunContext` for notebooks and tests: inputs are local files (relative to ``base``),
    outputs go to ``output``, progress and log lines are kept in lists (and echoed if ``echo``)."""

    def __init__(
        self,
        output: str | pathlib.Path,
        *,
        base: str | pathlib.Path = ".",
        user: str = "local",
        echo: bool = False,
        compute: Compute | None = None,
    ) -> None:
        self.output = pathlib.Path(output)
        self.output.mkdir(parents=True, exist_ok=True)
        self.base = pathlib.Path(base)
        self.user = user
        self.run_id = "local"
        self.compute = compute or _SerialCompute()
        self.echo = echo
        self.progress_steps: list[tuple[float, str]] = []
        self.lines: list[tuple[str, str]] = []
        self.inputs: list[str] = []
        self._cancel = False

    def cancel(self) -> None:
        """Ask the run to stop at its next progress step (what STOP does on the platform)."""
        self._cancel = True

    @property
    def cancelled(self) -> bool:
        return self._cancel

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.progress_steps.append((fraction, message))
        if self.echo:
            print(f"[{fraction:6.1%}] {message}")
        if self._cancel:
            raise RunCancelled("stopped by the user")

    def log(self, message: str, level: str = "info") -> None:
        self.lines.append((level, message))
        if self.echo:
            print(f"{level}: {message}")

    def input_path(self, path: str) -> pathlib.Path:
        resolved = self.base / path
        if not resolved.is_file():
            raise FileNotFoundError(f"input {path!r} not found under {self.base}")
        self.inputs.append(path)
        return resolved

    def open_input(self, path: str) -> IO[bytes]:
        return self.input_path(path).open("rb")


def run_locally(app: App | type[App], params: Params | dict[str, Any], output: str | pathlib.Path, **kwargs: Any) -> LocalRunContext:
    """Run an app's batch computation in this process (notebooks, tests); returns the context used.

    Example
    -------
    >>> ctx = run_locally(GTomo, {"cube": "cube.h5", "targets": "stars.csv"}, "out/", base="data/")
    >>> sorted(p.name for p in ctx.output.iterdir())
    """
    instance = app() if isinstance(app, type) else app
    if not isinstance(params, Params):
        params = instance.Params.model_validate(params)
    ctx = LocalRunContext(output, **kwargs)
    instance.run(params, ctx)
    return ctx

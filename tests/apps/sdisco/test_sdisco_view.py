"""S-Disco's interactive view on a small synthetic survey in a fake workspace: the selection spectra,
the correlation ranking, saving / exporting / sending a selection and an incoming selection, and one
real-browser test in which a box drawn on one plot is highlighted in another."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from browser import HIGHLIGHT, OUT, free_port, launch, pixels_like, skip_without_chromium, wait_until

from explore.astro.spectra import Spectra
from explore.sdk import Access, AnnotationRecord, SelectionRecord, WorkspaceFile

N_STARS, N_PIX = 3000, 60
SNR_MIN = 25.0


class FakeSession:
    """An :class:`explore.sdk.Session` over a local folder, recording every call."""

    def __init__(self, root: pathlib.Path, user: str = "alice") -> None:
        self.root = root
        self.user = user
        self.app_id = "sdisco"
        self.incoming_selection: SelectionRecord | None = None
        self.calls: list[tuple[str, tuple, dict]] = []
        self._annotations: dict[int, AnnotationRecord] = {}
        self._selections: dict[int, SelectionRecord] = {}
        self._next = 1

    def calls_to(self, name: str) -> list[tuple[tuple, dict]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def home(self) -> str:
        return self.user

    def local_path(self, path: str) -> pathlib.Path:
        return self.root / path

    def listdir(self, path: str = "") -> list[WorkspaceFile]:
        folder = self.root / (path or self.user)
        if not folder.is_dir():
            raise FileNotFoundError(path)
        return [WorkspaceFile(f"{path}/{p.name}", p.name, p.is_dir(), p.stat().st_size, 0.0)
                for p in sorted(folder.iterdir())]

    def read_bytes(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    @contextmanager
    def open(self, path: str, mode: str = "rb"):
        yield io.BytesIO(self.read_bytes(path))

    def write_bytes(self, path: str, data: bytes) -> str:
        self.calls.append(("write_bytes", (path, bytes(data)), {}))
        target = self.root / path
        if not target.parent.is_dir():  # as the platform's workspace does
            raise FileNotFoundError(f"the folder {path.rsplit('/', 1)[0]} does not exist")
        target.write_bytes(data)
        return path

    def makedirs(self, path: str) -> str:
        (self.root / path).mkdir(parents=True, exist_ok=True)
        return path

    def annotations(self, view: str | None = None) -> list[AnnotationRecord]:
        return [a for a in self._annotations.values() if view is None or a.view == view]

    def annotate(self, view: str, title: str, description: str = "", *, object_ids=None, region=None,
                 read: Access | None = None, write: Access | None = None) -> AnnotationRecord:
        self.calls.append(("annotate", (view, title, description), dict(object_ids=object_ids, region=region)))
        record = AnnotationRecord(self._next, self.app_id, view, title, description, self.user,
                                  list(object_ids) if object_ids is not None else None, region,
                                  read or Access(), write or Access(), "now", "now", True)
        self._annotations[record.id] = record
        self._next += 1
        return dataclasses.replace(record)

    def update_annotation(self, annotation_id: int, **changes: Any) -> AnnotationRecord:
        record = self._annotations[annotation_id]
        for key, value in changes.items():
            if value is not None:
                setattr(record, key, value)
        return record

    def delete_annotation(self, annotation_id: int) -> None:
        del self._annotations[annotation_id]

    def save_selection(self, name: str, dataset: str, ids: Sequence[str], *, description: str = "",
                       read: Access | None = None) -> SelectionRecord:
        self.calls.append(("save_selection", (name, dataset, list(ids)), dict(description=description, read=read)))
        record = SelectionRecord(self._next, name, self.app_id, dataset, self.user, list(ids), description, "now")
        self._selections[record.id] = record
        self._next += 1
        return record

    def selections(self, dataset: str | None = None) -> list[SelectionRecord]:
        return [s for s in self._selections.values() if dataset is None or s.dataset == dataset]

    def send_selection(self, selection_id: int, to_app: str) -> str:
        self.calls.append(("send_selection", (selection_id, to_app), {}))
        return f"/apps/{to_app}/open?selection={selection_id}"


@dataclasses.dataclass
class Synthetic:
    root: pathlib.Path
    folder: str
    table: pd.DataFrame
    flux: np.ndarray
    members: np.ndarray  # the rows of the injected group


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    """A run folder ``alice/sdisco_run`` (scores.parquet, params.json) and its spectra table: 3000 stars
    in two clumps of the UMAP map; the 300 stars of the small clump have a larger ``c_m`` (the injected
    correlate) and a deeper line, and a spread of SNR around the threshold."""
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("workspace")
    members = np.sort(rng.choice(N_STARS, 300, replace=False))
    member = np.zeros(N_STARS, bool)
    member[members] = True
    ids = np.array([f"star-{i:05d}" for i in range(N_STARS)])
    table = pd.DataFrame({
        "id": ids,
        "umap_x": np.where(member, 6.0, 0.0) + rng.normal(0, 1, N_STARS),
        "umap_y": rng.normal(0, 1, N_STARS),
        "x": rng.normal(0, 0.5, N_STARS), "y": rng.normal(0, 0.5, N_STARS), "z": rng.normal(0, 0.2, N_STARS),
        "bp_rp": rng.uniform(0.5, 1.5, N_STARS), "abs_g": rng.uniform(2, 7, N_STARS),
        "teff": rng.uniform(4500, 6500, N_STARS), "logg": rng.uniform(4, 5, N_STARS),
        "c_m": np.where(member, 0.4, 0.0) + rng.normal(0, 0.05, N_STARS),
        "snr": rng.uniform(5, 100, N_STARS),
        "w_knn": rng.gamma(2, 1, N_STARS),
    })
    wave = np.linspace(15200, 16900, N_PIX)
    line = np.exp(-0.5 * ((wave - 16000) / 30) ** 2)
    depth = np.where(member, 0.6, 0.2)[:, None]
    flux = (1 - depth * line + rng.normal(0, 0.02, (N_STARS, N_PIX))).astype(np.float32)
    spectra = Spectra(wave, flux, None, None, Table({"id": ids, "snr": table["snr"].to_numpy()}), normalised=True)
    (root / "alice" / "data").mkdir(parents=True)
    spectra.write(root / "alice" / "data" / "spectra.parquet")
    run = root / "alice" / "sdisco_20250101T000000"
    run.mkdir()
    Table.from_pandas(table).write(run / "scores.parquet", format="parquet")
    (run / "params.json").write_text(json.dumps({"app": "sdisco", "params": {"spectra": "alice/data/spectra.parquet"}}))
    return Synthetic(root, "alice/sdisco_20250101T000000", table, flux, members)


@pytest.fixture
def session(synthetic: Synthetic) -> FakeSession:
    return FakeSession(synthetic.root)


@pytest.fixture
def view(session: FakeSession):
    from explore.apps.sdisco.view import SDiscoView

    return SDiscoView(session)


def test_the_view_finds_the_run_folder_and_shows_every_star_datashaded(view, synthetic):
    assert view.dataset == synthetic.folder
    assert view.linked.n_rows == N_STARS
    assert view.linked.datashade_threshold == 0  # every star rasterised by datashader, none dropped
    assert view.color == "w_knn"
    kinds = [p.kind for p in view.panels]
    assert kinds == ["UMAP", "Galactic plane (x-y)", "Galactic side view (x-z)", "HR diagram"]
    assert view.linked.plot_names == ["umap", "galactic_xy", "galactic_xz", "hr"]


def test_the_mean_spectrum_of_a_selection_uses_only_spectra_above_the_snr_threshold(view, synthetic):
    view.snr_min = SNR_MIN
    view.linked.select_positions(synthetic.members)
    stats = view.selection_stats()
    above = synthetic.members[synthetic.table["snr"].to_numpy()[synthetic.members] > SNR_MIN]
    assert 0 < above.size < synthetic.members.size
    assert stats.n_selected == synthetic.members.size and stats.n_used == above.size
    np.testing.assert_allclose(stats.mean, synthetic.flux[above].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.median, np.median(synthetic.flux[above], axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.p16, np.percentile(synthetic.flux[above], 16, axis=0), rtol=1e-5)
    view.spectrum_plot()  # draws without error


def test_a_box_on_the_umap_selects_the_clump_and_the_ranking_puts_the_injected_column_first(view, synthetic):
    n = view.linked.select_box("umap_x", "umap_y", (3.5, -5, 12, 5))
    assert abs(n - synthetic.members.size) < 30
    view.linked.select_positions(synthetic.members)  # the box's own axis would rank first for a box
    ranking = view.ranking()
    assert ranking["column"][0] == "c_m" and ranking["r"][0] > 0.8
    view.ranking_method = "spearman"
    assert view.ranking()["column"][0] == "c_m"


def test_save_export_and_send_call_the_session_with_the_selection(view, session, synthetic):
    from explore.viz.linked import table_bytes

    view.linked.select_positions(synthetic.members)
    ids = synthetic.table["id"].to_numpy()[synthetic.members]
    actions = view.actions
    actions.name_input = "clump"
    record = actions.save()
    (args, _), = session.calls_to("save_selection")
    assert args == ("clump", f"{synthetic.folder}/scores.parquet", list(ids))
    for fmt, suffix in (("CSV", ".csv"), ("FITS", ".fits"), ("VOTable", ".vot")):
        actions.export_format = fmt
        actions.export_path = f"alice/selections/clump{suffix}"
        actions.export()
        path, data = session.calls_to("write_bytes")[-1][0]
        assert path == f"alice/selections/clump{suffix}"
        assert data == table_bytes(view.linked.selected_rows(), fmt)
        back = (pd.read_csv(io.BytesIO(data)) if fmt == "CSV"
                else Table.read(io.BytesIO(data), format="fits" if fmt == "FITS" else "votable").to_pandas())
        assert list(back["id"].astype(str)) == list(ids)
        np.testing.assert_allclose(back["c_m"], synthetic.table["c_m"].to_numpy()[synthetic.members])
    actions.to_app = "sphot"
    url = actions.send()
    assert session.calls_to("send_selection") == [((record.id, "sphot"), {})]
    assert url.endswith(f"selection={record.id}")


def test_an_incoming_selection_preselects_its_stars(session, synthetic):
    from explore.apps.sdisco.view import SDiscoView

    wanted = synthetic.members[:40]
    ids = [str(i) for i in synthetic.table["id"].to_numpy()[wanted]] + ["not-in-this-survey"]
    session.incoming_selection = SelectionRecord(7, "from sphot", "sphot", "alice/sphot_results.parquet",
                                                 "alice", ids)
    view = SDiscoView(session)
    assert view.linked.selection.tolist() == wanted.tolist()
    assert "40 stars selected" in view.message and "1 of its ids" in view.message


def test_hover_names_the_nearest_star_and_a_click_shows_it(view, synthetic):
    row = int(synthetic.members[5])
    t = synthetic.table.iloc[row]
    view._on_hover("umap_x", "umap_y", float(t.umap_x), float(t.umap_y))
    assert view.hovered.startswith(f"**{t.id}**") and "umap_x" in view.hovered
    view._on_tap("umap_x", "umap_y", float(t.umap_x), float(t.umap_y))
    assert view.star == row
    view.star_plot()  # its spectrum and values


def test_two_columns_and_colour_by_any_column(view):
    panel = view.panels[3]
    panel.param.update(kind="Two columns", x="teff", y="logg", invert_y=True)
    assert "logg_vs_teff" in view.linked.plot_names
    view.color = "c_m"
    assert view.linked._axes["umap"].color == "c_m"


# ---- in a real browser ------------------------------------------------------------------------------

@pytest.mark.browser
@skip_without_chromium
def test_in_a_browser_a_box_on_the_umap_is_highlighted_in_the_galactic_plane(session, synthetic):
    pytest.importorskip("playwright")
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explore.apps.sdisco.view import SDiscoView
    from explore.viz.linked import points_in_box

    OUT.mkdir(exist_ok=True)
    views: list[SDiscoView] = []

    def page():
        views.append(SDiscoView(session))
        return views[-1]

    port = free_port()
    server = pn.serve({"sdisco": page}, port=port, address="127.0.0.1", threaded=True, show=False, start=True)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            tab = browser.new_page(viewport={"width": 1700, "height": 1300})
            started = time.monotonic()
            tab.goto(f"http://127.0.0.1:{port}/sdisco", timeout=90_000)
            tab.locator(f"text=0 of {N_STARS:,} selected").wait_for(timeout=60_000)
            assert wait_until(lambda: tab.locator("canvas").count() >= 4, 30)
            tab.wait_for_timeout(1500)
            first_paint = time.monotonic() - started
            (OUT / "sdisco_view_before.png").write_bytes(tab.screenshot(full_page=True))
            boxes = [tab.locator("canvas").nth(i).bounding_box() for i in range(tab.locator("canvas").count())]
            # the linked plots are in the left column (the spectrum plot is on the right); a plot has
            # several canvas layers of the same size
            found = {(round(b["x"]), round(b["y"])): b for b in boxes
                     if b and b["width"] > 300 and b["height"] > 250 and b["x"] < 880}
            plots = [found[k] for k in sorted(found, key=lambda k: (k[1], k[0]))]
            umap_box, xy_box = plots[0], plots[1]
            assert xy_box["x"] > umap_box["x"] + 200
            xy_clip = dict(xy_box, width=xy_box["width"] - 80)  # without the colour bar and toolbar
            assert pixels_like(tab.screenshot(clip=xy_clip), HIGHLIGHT) == 0

            tab.locator('[title="Box Select"]').first.click()
            x0, y0 = umap_box["x"] + umap_box["width"] * 0.62, umap_box["y"] + 40
            tab.mouse.move(x0, y0)
            tab.mouse.down()
            tab.mouse.move(x0 + 60, y0 + 100, steps=5)
            tab.mouse.move(x0 + 110, umap_box["y"] + umap_box["height"] - 60, steps=5)
            tab.mouse.up()

            view = views[-1]
            assert wait_until(lambda: view.linked.n_selected > 0, 20)
            bounds = view.linked.streams("umap")[0].bounds
            expected = points_in_box(synthetic.table.umap_x.to_numpy(), synthetic.table.umap_y.to_numpy(), bounds)
            assert view.linked.selection.tolist() == expected.tolist()
            n = view.linked.n_selected
            tab.locator(f"text={n:,} of {N_STARS:,} selected").wait_for(timeout=15_000)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=xy_clip), HIGHLIGHT) > 100, 15)
            hr_box = plots[3]  # inverted magnitude axis: the highlight must still be drawn
            hr_clip = dict(hr_box, width=hr_box["width"] - 80)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=hr_clip), HIGHLIGHT) > 100, 15)
            # the ranking tab lists the injected correlate first
            tab.locator("text=c_m").first.wait_for(timeout=60_000)  # slow when the machine is busy
            tab.wait_for_timeout(1500)  # the spectrum plot's title is drawn on its canvas, not in the DOM
            (OUT / "sdisco_view_selected.png").write_bytes(tab.screenshot(full_page=True))

            # hovering names the nearest star; a click shows its spectrum and values
            cx, cy = umap_box["x"] + umap_box["width"] * 0.3, umap_box["y"] + umap_box["height"] * 0.5
            tab.mouse.move(cx, cy, steps=3)
            tab.locator("text=nearest to the cursor").first.wait_for(timeout=15_000)
            tab.mouse.click(cx, cy)
            assert wait_until(lambda: view.star is not None, 15)
            star_id = synthetic.table.id.iloc[view.star]
            tab.locator(f"text={star_id}").first.wait_for(timeout=15_000)
            tab.wait_for_timeout(1000)
            (OUT / "sdisco_view_star.png").write_bytes(tab.screenshot(full_page=True))
            browser.close()
        assert first_paint < 45
    finally:
        server.stop()

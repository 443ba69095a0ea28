"""Selection actions: save, list, load, send and export call the Session with the right arguments."""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import pytest

from explore.sdk import Access
from explore.viz.linked import LinkedViews, SelectionActions


@pytest.fixture
def linked(grid_table):
    return LinkedViews(grid_table, id_column="id", dataset="demo/grid.parquet")


def test_save_sends_the_ids_as_strings_with_the_chosen_access(linked, session):
    actions = SelectionActions(linked, session)
    linked.select_box("x", "y", (0, 0, 1, 0))
    actions.param.update(name_input="corner", description="two stars", read_level="shared",
                         read_users="bob, carol", read_groups="gaia")
    record = actions.save()
    (args, kwargs), = session.calls_to("save_selection")
    assert args == ("corner", "demo/grid.parquet", ["s0", "s1"])
    assert kwargs == {"description": "two stars", "read": Access("shared", users=["bob", "carol"], groups=["gaia"])}
    assert [s.id for s in actions.saved] == [record.id] and actions.chosen == record.id
    assert "Saved 2 objects" in actions.message


def test_save_refuses_without_a_name_or_a_selection(linked, session):
    actions = SelectionActions(linked, session)
    actions.name_input = "empty"
    assert actions.save() is None and "Nothing is selected" in actions.message
    linked.select_positions([1])
    actions.name_input = "  "
    assert actions.save() is None and "name" in actions.message
    assert session.calls_to("save_selection") == []


def test_load_selects_the_saved_objects_and_lists_only_this_dataset(linked, session):
    session.save_selection("elsewhere", "other.parquet", ["s1"])
    mine = session.save_selection("diagonal", "demo/grid.parquet", ["s0", "s11", "s22", "s999"])
    actions = SelectionActions(linked, session)
    assert [s.name for s in actions.saved] == ["diagonal"]
    actions.chosen = mine.id
    assert actions.load() == 3
    assert linked.selected_ids().tolist() == ["s0", "s11", "s22"]
    assert "1 not in this table" in actions.message


def test_send_returns_and_shows_the_url_that_opens_the_other_app(linked, session):
    record = session.save_selection("diagonal", "demo/grid.parquet", ["s0"])
    actions = SelectionActions(linked, session, apps=["sdisco", "sphot", "garch"])
    assert actions.apps == ["sphot", "garch"]  # not the app itself
    actions.chosen, actions.to_app = record.id, "garch"
    url = actions.send()
    assert session.calls_to("send_selection") == [((record.id, "garch"), {})]
    assert url == f"/apps/garch?selection={record.id}" and actions.link == url
    status = actions._status()
    assert url in status.object


def test_export_csv_writes_exactly_the_selected_rows(linked, session):
    actions = SelectionActions(linked, session)
    linked.select_box("x", "y", (8, 8, 9, 9))
    actions.name_input = "top right"
    path = actions.export()
    assert path == "alice/selections/top_right.csv"
    back = pd.read_csv(io.BytesIO(session.files[path]))
    assert back.id.tolist() == ["s88", "s89", "s98", "s99"]
    assert back.mag.tolist() == pytest.approx(linked.selected_rows().mag.tolist())


@pytest.mark.parametrize("fmt, suffix", [("FITS", ".fits"), ("VOTable", ".vot")])
def test_export_astronomy_formats_are_readable_tables(linked, session, fmt, suffix):
    from astropy.table import Table

    actions = SelectionActions(linked, session)
    linked.select_positions([5, 50])
    actions.param.update(export_format=fmt, export_path="alice/out/picked")
    path = actions.export()
    assert path == f"alice/out/picked{suffix}"
    table = Table.read(io.BytesIO(session.files[path]), format="fits" if fmt == "FITS" else "votable")
    assert [str(v) for v in table["id"]] == ["s5", "s50"]
    assert list(table["x"]) == [5.0, 0.0] and list(table["y"]) == [0.0, 5.0]


def test_export_without_selection_writes_nothing(linked, session):
    actions = SelectionActions(linked, session)
    assert actions.export() is None
    assert session.files == {}


def test_the_panel_builds(linked, session):
    actions = SelectionActions(linked, session, apps=["sphot"])
    root = pn.panel(actions).get_root()
    assert root is not None


def test_a_refusal_from_the_platform_is_shown_not_lost(linked, session):
    actions = SelectionActions(linked, session)
    linked.select_positions([1])
    actions.export_path = "../bob/stolen.csv"
    buttons = [b for b in pn.panel(actions).select() if getattr(b, "label", None) == "Export selected rows"]
    buttons[0].clicks += 1
    assert actions.message.startswith("Could not export:") and "leaves the workspace" in actions.message
    assert session.files == {}

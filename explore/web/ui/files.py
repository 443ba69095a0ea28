"""My Files: a file manager on the workspace (breadcrumb, sortable listing, upload with progress,
download, new folder, rename, delete with confirmation, permissions, preview)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pandas as pd
import panel as pn
import panel_material_ui as pmui
import param

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError
from explore.platform.paths import normalise
from explore.web.ui.layout import StatusBar
from explore.web.ui.preview import preview
from explore.web.ui.upload import Uploader


def human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


COLUMNS = ["", "name", "size", "modified", "path", "is_dir", "bytes"]


def _kind(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"csv": "table", "tsv": "table", "ecsv": "table", "parquet": "table", "fits": "FITS", "fit": "FITS",
            "h5": "HDF5", "hdf5": "HDF5", "png": "image", "jpg": "image", "jpeg": "image", "tif": "raster",
            "tiff": "raster", "txt": "text", "json": "JSON", "log": "text", "zarr": "Zarr"}.get(suffix, suffix or "file")


def file_url(path: str, download: bool = False) -> str:
    return "/api/v1/files/" + quote(path) + ("?download=1" if download else "")


class FileManager(param.Parameterized):
    """The state of the page is its parameters: the folder shown and the file selected."""

    path = param.String(default="")
    selected = param.String(default="")

    def __init__(self, platform: Platform, user: Principal, **params) -> None:
        super().__init__(**params)
        self.platform = platform
        self.user = user
        self.ws = platform.workspace
        self.status = StatusBar()
        self.crumbs = pn.Row(sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS),
            titles={"": "kind"},
            show_index=False, selectable=1, disabled=True, sizing_mode="stretch_width", height=420,
            hidden_columns=["path", "is_dir", "bytes"], layout="fit_data_stretch",
            sorters=[{"field": "name", "dir": "asc"}],
        )
        self.table.on_click(self._on_click)
        self.uploader = Uploader()
        self.uploader.param.watch(self._uploaded, "completed")
        self.preview = pn.Column(pn.pane.Markdown("Select a file to preview it."), sizing_mode="stretch_width")
        self.dialog = pmui.Dialog(title="", open=False, width_option="sm", show_close_button=True)
        self.shared = pn.Column(sizing_mode="stretch_width")
        b = dict(variant="outlined", size="small")
        self.new_folder_button = pmui.Button(label="New folder", icon="create_new_folder", on_click=self._new_folder, **b)
        self.rename_button = pmui.Button(label="Rename", icon="drive_file_rename_outline", on_click=self._rename, **b)
        self.delete_button = pmui.Button(label="Delete", icon="delete", color="error", on_click=self._delete, **b)
        self.share_button = pmui.Button(label="Permissions", icon="share", on_click=self._permissions, **b)
        self.download_button = pmui.Button(label="Download", icon="download", **b)
        self.refresh_button = pmui.Button(label="Refresh", icon="refresh", on_click=lambda _: self.refresh(), **b)
        self.quota = pmui.LinearProgress(value=0, max=100, sizing_mode="stretch_width", variant="determinate")
        self.quota_text = pn.pane.HTML("", styles={"font-size": "12px"})

    # ---- navigation ---------------------------------------------------------------------------
    @param.depends("path", watch=True, on_init=False)
    def refresh(self) -> None:
        try:
            entries = self.ws.listdir(self.user, self.path)
        except ExploreError as exc:
            self.say(exc.message, "error")
            if self.path != self.user.name:
                self.path = self.user.name
            return
        rows = [self._row(e) for e in sorted(entries, key=lambda e: (not e.is_dir, e.name.lower()))]
        self.table.value = pd.DataFrame(rows, columns=COLUMNS)
        self.table.selection = []
        self.selected = ""
        self.uploader.folder = self.path
        parts = self.path.split("/")
        crumbs = [pmui.Button(label="Workspace", variant="text", size="small",
                              on_click=lambda _: setattr(self, "path", self.user.name))]
        for i, part in enumerate(parts):
            target = "/".join(parts[: i + 1])
            crumbs.append(pmui.Typography("/", variant="body1", sx={"alignSelf": "center"}))
            crumbs.append(pmui.Button(label=part, variant="text", size="small",
                                      on_click=lambda _, t=target: setattr(self, "path", t)))
        self.crumbs.objects = crumbs
        owner = self.path.split("/")[0]
        rights = self.ws.rights(self.user, self.path)
        writable = "write" in rights
        self.new_folder_button.disabled = not writable
        self.uploader.visible = writable
        try:
            used, quota = self.ws.usage(owner), self.ws.quota(owner)
            self.quota.value = min(100, 100 * used / max(quota, 1))
            self.quota_text.object = f"{owner}: {human(used)} of {human(quota)} used"
        except ExploreError:
            pass
        self._update_buttons()
        self._refresh_shared()
        if pn.state.location is not None:
            pn.state.location.update_query(path=self.path)

    def _refresh_shared(self) -> None:
        items = self.ws.shared_with(self.user)
        if not items:
            self.shared.objects = [pmui.Typography("Nothing is shared with you yet.", variant="caption")]
            return
        self.shared.objects = [pmui.Button(label=f"{s['path']} ({s['access']})", variant="text", size="small",
                                           icon="folder_shared" if s["is_dir"] else "description",
                                           on_click=lambda _, s=s: self._open_shared(s))
                               for s in items]

    def _open_shared(self, item: dict) -> None:
        if item["is_dir"]:
            self.path = item["path"]
            return
        # a file shared alone: its folder cannot be listed, so the table shows just that file
        info = self.ws.stat(self.user, item["path"])
        self.table.value = pd.DataFrame([self._row(info)], columns=COLUMNS)
        self.crumbs.objects = [pmui.Button(label="Workspace", variant="text", size="small",
                                           on_click=lambda _: self.refresh()),
                               pmui.Typography(f"/ shared with you: {item['path']}", variant="body1",
                                               sx={"alignSelf": "center"})]
        self.uploader.visible = False
        self.new_folder_button.disabled = True
        self.table.selection = [0]
        self.selected = info.path
        self._update_buttons()
        self._show_preview(info.path, info.name, info.size)

    def _row(self, e) -> dict:
        return {"": "folder" if e.is_dir else _kind(e.name), "name": e.name + ("/" if e.is_dir else ""),
                "size": "" if e.is_dir else human(e.size),
                "modified": dt.datetime.fromtimestamp(e.modified).strftime("%Y-%m-%d %H:%M"), "path": e.path,
                "is_dir": e.is_dir, "bytes": e.size}

    def _show_preview(self, path: str, name: str, size: int) -> None:
        self.preview.objects = [pn.pane.Markdown("Loading the preview…")]
        self.preview.objects = [preview(name, int(size), lambda: self.ws.read_bytes(self.user, path))]

    def _on_click(self, event) -> None:
        row = self.table.value.iloc[event.row]
        if row["is_dir"] and event.column in ("name", ""):
            self.path = row["path"]
            return
        self.selected = row["path"]
        self._update_buttons()
        if not row["is_dir"]:
            self._show_preview(row["path"], row["name"], row["bytes"])
        else:
            self.preview.objects = [pn.pane.Markdown(f"Folder **{row['name']}**: click its name to open it.")]

    def _target(self) -> str:
        return self.selected or self.path

    def _update_buttons(self) -> None:
        target = self._target()
        try:
            rights = self.ws.rights(self.user, normalise(target)) if target else set()
        except ExploreError:
            rights = set()
        chosen = bool(self.selected)
        self.rename_button.disabled = not (chosen and "delete" in rights)
        self.delete_button.disabled = not (chosen and "delete" in rights)
        self.share_button.disabled = "share" not in rights
        is_file = chosen and not self.table.value.loc[self.table.value["path"] == self.selected, "is_dir"].any()
        self.download_button.disabled = not is_file
        self.download_button.href = file_url(self.selected, download=True) if is_file else None

    # ---- actions ------------------------------------------------------------------------------
    def say(self, text: str, severity: str = "success") -> None:
        self.status.show(text, severity)

    def _uploaded(self, _event) -> None:
        if self.uploader.errors:
            self.say("Some uploads failed: " + "; ".join(self.uploader.errors), "error")
        elif self.uploader.uploaded:
            self.say(f"Uploaded {', '.join(self.uploader.uploaded)}")
        self.refresh()

    def _ask(self, title: str, label: str, value: str, action, button: str) -> None:
        name = pmui.TextInput(label=label, value=value, sizing_mode="stretch_width")
        error = StatusBar()
        ok = pmui.Button(label=button, variant="contained")

        def go(_):
            try:
                message = action(name.value.strip())
            except ExploreError as exc:
                error.show(exc.message, "error")
                return
            self.dialog.open = False
            self.say(message)
            self.refresh()

        ok.on_click(go)
        self.dialog.title = title
        self.dialog.objects = [name, error, ok]
        self.dialog.open = True

    def _new_folder(self, _=None) -> None:
        def make(name: str) -> str:
            from explore.platform.paths import check_name

            check_name(name)
            self.ws.mkdir(self.user, f"{self.path}/{name}")
            return f"Created folder {name}"

        self._ask("New folder", "Folder name", "", make, "Create")

    def _rename(self, _=None) -> None:
        old = self.selected
        parent, name = old.rsplit("/", 1)

        def rename(new: str) -> str:
            from explore.platform.paths import check_name

            check_name(new)
            self.ws.move(self.user, old, f"{parent}/{new}")
            return f"Renamed {name} to {new}"

        self._ask(f"Rename {name}", "New name", name, rename, "Rename")

    def _delete(self, _=None) -> None:
        target = self.selected
        is_dir = self.table.value.loc[self.table.value["path"] == target, "is_dir"].any()
        confirm = pmui.Button(label="Delete", color="error", variant="contained")

        def go(_):
            try:
                self.ws.delete(self.user, target)
            except ExploreError as exc:
                self.dialog.open = False
                self.say(exc.message, "error")
                return
            self.dialog.open = False
            self.say(f"Deleted {target}")
            self.refresh()

        confirm.on_click(go)
        what = "the folder and everything inside it" if is_dir else "the file"
        self.dialog.title = "Delete?"
        self.dialog.objects = [pmui.Typography(f"Delete {what} {target}? This cannot be undone.", variant="body1"),
                               pn.Row(confirm, pmui.Button(label="Cancel", variant="text",
                                                           on_click=lambda _: setattr(self.dialog, "open", False)))]
        self.dialog.open = True

    def _permissions(self, _=None) -> None:
        target = self._target()
        try:
            perms = self.ws.get_permissions(self.user, target)
        except ExploreError as exc:
            self.say(exc.message, "error")
            return
        users = [u["name"] for u in self.platform.accounts.list_users() if u["active"] and u["name"] != self.user.name]
        groups = [g["name"] for g in self.platform.accounts.list_groups()]
        public = pmui.Switch(label="Public: anyone can read it, even without an account", value=perms["public"])
        readers = pmui.MultiChoice(label="Users who may read", options=users,
                                   value=[u for u, a in perms["users"].items() if a == "read"], sizing_mode="stretch_width")
        writers = pmui.MultiChoice(label="Users who may read and write", options=users,
                                   value=[u for u, a in perms["users"].items() if a == "write"], sizing_mode="stretch_width")
        group_readers = pmui.MultiChoice(label="Groups who may read", options=groups,
                                         value=[g for g, a in perms["groups"].items() if a == "read"],
                                         sizing_mode="stretch_width")
        group_writers = pmui.MultiChoice(label="Groups who may read and write", options=groups,
                                         value=[g for g, a in perms["groups"].items() if a == "write"],
                                         sizing_mode="stretch_width")
        inherited = "".join(f"\n- {g['path']}: {g['kind']} {g['principal'] or ''} ({g['access']})"
                            for g in perms["inherited"])
        error = StatusBar()
        save = pmui.Button(label="Save", variant="contained")

        def go(_):
            users_map = {u: "read" for u in readers.value} | {u: "write" for u in writers.value}
            groups_map = {g: "read" for g in group_readers.value} | {g: "write" for g in group_writers.value}
            try:
                self.ws.set_permissions(self.user, target, public=public.value, users=users_map, groups=groups_map)
            except ExploreError as exc:
                error.show(exc.message, "error")
                return
            self.dialog.open = False
            who = len(users_map) + len(groups_map)
            self.say(f"Permissions of {target} saved: "
                     + ("public, " if public.value else "") + (f"{who} grant(s)" if who else "private"))

        save.on_click(go)
        self.dialog.title = f"Who may use {target}"
        self.dialog.objects = [
            pmui.Typography("Private unless shared. What is inside a folder inherits its permissions.",
                            variant="body2"),
            public, readers, writers, group_readers, group_writers,
            pn.pane.Markdown("Inherited from above:" + inherited) if inherited else pn.Spacer(height=0),
            error, save]
        self.dialog.open = True

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        toolbar = pn.Row(self.uploader, self.new_folder_button, self.rename_button, self.delete_button,
                         self.share_button, self.download_button, self.refresh_button, sizing_mode="stretch_width")
        return pn.Column(
            pmui.Typography("My Files", variant="h4"),
            self.crumbs, toolbar, self.status,
            pn.Row(pn.Column(self.table, self.quota, self.quota_text, sizing_mode="stretch_width"),
                   pn.Column(self.preview, sizing_mode="stretch_width", min_width=360), sizing_mode="stretch_width"),
            pmui.Typography("Shared with me", variant="h6"), self.shared,
            self.dialog, sizing_mode="stretch_width",
        )


def files_page(platform: Platform, user: Principal) -> pn.viewable.Viewable:
    start = user.name
    if pn.state.location is not None:
        start = pn.state.location.query_params.get("path") or start
    manager = FileManager(platform, user)
    manager.path = start if isinstance(start, str) else user.name
    return manager.view()

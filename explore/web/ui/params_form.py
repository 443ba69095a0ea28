"""The configuration panel of a batch run, generated from the app's ``Params`` JSON schema: numbers with
their ranges, choices, switches, and file pickers on the workspace for :func:`explore.sdk.WorkspacePath`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import panel as pn
import panel_material_ui as pmui

MAX_PICKER = 3000


def _resolve(schema: dict, prop: dict) -> dict:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return {**schema.get("$defs", {}).get(name, {}), **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _unwrap_optional(prop: dict) -> tuple[dict, bool]:
    options = prop.get("anyOf")
    if not options:
        return prop, False
    non_null = [o for o in options if o.get("type") != "null"]
    if len(non_null) == 1:
        merged = {**non_null[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
        return merged, len(non_null) < len(options)
    return prop, any(o.get("type") == "null" for o in options)


class ParamsForm:
    """Widgets for one app's parameters; ``values()`` gives the dict to submit."""

    def __init__(self, schema: dict[str, Any], list_files: Callable[[list[str]], list[str]]) -> None:
        self.schema = schema
        self.widgets: dict[str, Any] = {}
        self.optional: set[str] = set()
        required = set(schema.get("required", []))
        for name, raw in schema.get("properties", {}).items():
            prop, nullable = _unwrap_optional(_resolve(schema, raw))
            if nullable:
                self.optional.add(name)
            self.widgets[name] = self._widget(name, prop, name in required, list_files)

    def _widget(self, name: str, prop: dict, required: bool, list_files) -> Any:
        label = prop.get("title") or name.replace("_", " ")
        label = f"{label}{' *' if required else ''}"
        help_text = prop.get("description", "")
        default = prop.get("default")
        kind = prop.get("type")
        common = {"label": label, "description": help_text or None, "sizing_mode": "stretch_width"}
        if prop.get("format") == "workspace-path":
            kinds = prop.get("kinds") or []
            options = [""] + list_files(kinds)[:MAX_PICKER]
            return pmui.AutocompleteInput(options=options, value=default or "", restrict=False, min_characters=0,
                                          placeholder="choose a file of your workspace (or type its path)",
                                          **common)
        if "enum" in prop or "const" in prop:
            options = prop.get("enum") or [prop["const"]]
            return pmui.Select(options=list(options), value=default if default in options else options[0], **common)
        if kind == "boolean":
            return pmui.Switch(value=bool(default), **common)
        if kind in ("integer", "number"):
            # the range is shown, and checked by the app's Params on submit (a widget that silently
            # refuses a value would submit a different one from what the user sees)
            lo, hi = prop.get("minimum", prop.get("exclusiveMinimum")), prop.get("maximum", prop.get("exclusiveMaximum"))
            if lo is not None or hi is not None:
                common["label"] = f"{label} ({'' if lo is None else lo} … {'' if hi is None else hi})"
            cls = pmui.IntInput if kind == "integer" else pmui.FloatInput
            value = default if default is not None else lo
            return cls(value=value, **common)
        if kind == "string":
            return pmui.TextInput(value=default or "", **common)
        # arrays, objects and unions: JSON text
        return pmui.TextInput(value=json.dumps(default) if default is not None else "",
                              placeholder="a JSON value", **common)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, widget in self.widgets.items():
            value = widget.value
            if isinstance(widget, pmui.TextInput) and widget.placeholder == "a JSON value":
                if value.strip() == "":
                    continue
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    pass
            if value in ("", None) and name in self.optional:
                out[name] = None
                continue
            if value == "" and isinstance(widget, pmui.AutocompleteInput):
                continue
            out[name] = value
        return out

    def panel(self) -> pn.Column:
        return pn.Column(*self.widgets.values(), sizing_mode="stretch_width")

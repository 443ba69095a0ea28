"""Home: choose a body; it leads to that body's apps and data."""

from __future__ import annotations

import panel as pn
import panel_material_ui as pmui

from explore.platform.accounts import Principal
from explore.platform.core import Platform

BODIES = {
    "milkyway": ("The Milky Way", "Stars and interstellar dust: spectra, photometry, 3D extinction.",
                 "radial-gradient(ellipse at 50% 50%, #fff8e1 0%, #ffd27a 10%, #8d6e63 22%, #283593 48%, #0b1026 75%)",
                 "ellipse"),
    "moon": ("The Moon", "Orbital products, elevation, albedo, craters and the south pole.",
             "radial-gradient(circle at 35% 35%, #f5f5f5 0%, #bdbdbd 35%, #757575 65%, #212121 100%)", "circle"),
    "mars": ("Mars", "No app for Mars yet: its products can be indexed in the space browser.",
             "radial-gradient(circle at 35% 35%, #ffccbc 0%, #e64a19 40%, #8d2f0f 75%, #3e1206 100%)", "circle"),
}


def globe(body: str, size: int = 120) -> pn.pane.HTML:
    title, _, gradient, shape = BODIES[body]
    w, h = (size * 1.6, size * 0.7) if shape == "ellipse" else (size, size)
    craters = ""
    if body == "moon":
        craters = "".join(
            f'<div style="position:absolute;left:{x}%;top:{y}%;width:{r}%;height:{r}%;border-radius:50%;'
            f'background:rgba(0,0,0,.18);box-shadow:inset 2px 2px 3px rgba(0,0,0,.35)"></div>'
            for x, y, r in ((22, 30, 14), (55, 52, 20), (40, 70, 9), (65, 22, 11), (30, 55, 7)))
    return pn.pane.HTML(
        f'<div role="img" aria-label="{title}" style="position:relative;width:{w:.0f}px;height:{h:.0f}px;'
        f'border-radius:50%;background:{gradient};margin:8px auto;box-shadow:0 0 24px rgba(0,0,0,.35)">{craters}</div>',
        sizing_mode="stretch_width")


def home_page(platform: Platform, user: Principal) -> pn.viewable.Viewable:
    cards = []
    for body, (title, text, *_rest) in BODIES.items():
        apps = platform.catalogue.list(body)
        names = ", ".join(a.title for a in apps) or "no app yet"
        actions = [pmui.Button(label="Apps", href=f"/apps?body={body}", variant="contained",
                               disabled=not apps)]
        if body in ("moon", "mars"):
            actions.append(pmui.Button(label="Find data", href=f"/browse?body={body}", variant="outlined"))
        cards.append(pmui.Card(
            globe(body),
            pmui.Typography(text, variant="body2"),
            pmui.Typography(f"Apps: {names}", variant="caption"),
            pn.Row(*actions),
            title=title, width=330, margin=12, collapsible=False,
        ))
    intro = pmui.Typography(
        "Find data on the stars of the Milky Way and on the Moon, run Scientific Data Applications next to it, "
        "keep results in your workspace and explore them in linked views.", variant="body1", max_width=900)
    return pn.Column(pmui.Typography("Where do you want to explore?", variant="h4"), intro,
                     pn.FlexBox(*cards), sizing_mode="stretch_width")

"""The look shared by the plain HTML pages (sign-in, account, errors) and the Panel pages."""

from __future__ import annotations

import html

PRIMARY = "#3f51b5"
CSS = """
:root { --primary: #3f51b5; --bg: #f5f6fa; --fg: #1d1f27; --card: #fff; --muted: #5f6473; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15161c; --fg: #e8e9f0; --card: #22242d; --muted: #a3a7b7; }
}
* { box-sizing: border-box; }
body { margin: 0; font-family: Roboto, "Segoe UI", Helvetica, Arial, sans-serif; background: var(--bg); color: var(--fg); }
header { background: var(--primary); color: #fff; padding: 0 24px; height: 56px; display: flex; align-items: center;
  gap: 16px; box-shadow: 0 2px 4px rgba(0,0,0,.2); }
header a { color: #fff; text-decoration: none; font-weight: 500; }
header .brand { font-size: 20px; letter-spacing: .08em; }
main { padding: 32px 16px; }
.card { background: var(--card); border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); padding: 24px 28px; }
.narrow { max-width: 420px; margin: 32px auto; display: flex; flex-direction: column; gap: 14px; }
h1 { font-size: 22px; font-weight: 500; margin: 0 0 4px; }
label { display: flex; flex-direction: column; gap: 6px; font-size: 14px; color: var(--muted); }
input { font-size: 16px; padding: 10px 12px; border: 1px solid #c5c8d4; border-radius: 4px; background: var(--card);
  color: var(--fg); }
button { background: var(--primary); color: #fff; border: 0; border-radius: 4px; padding: 10px 16px; font-size: 15px;
  font-weight: 500; letter-spacing: .04em; text-transform: uppercase; cursor: pointer; }
.error { color: #b00020; background: #fde7ea; padding: 8px 12px; border-radius: 4px; margin: 0; }
.ok { color: #1b5e20; background: #e6f4ea; padding: 8px 12px; border-radius: 4px; margin: 0; }
.hint { font-size: 13px; color: var(--muted); margin: 0; }
"""


def page(title: str, body: str, *, user: str | None = None) -> str:
    who = f'<span style="margin-left:auto">{html.escape(user)}</span>' if user else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · EXPLORE</title><style>{CSS}</style></head>
<body><header><a class="brand" href="/">EXPLORE</a>{who}</header><main>{body}</main></body></html>"""

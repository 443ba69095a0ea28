"""Pages served as plain HTML around the Panel applications: sign-in and the account page."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from explore.platform.core import Platform
from explore.web.deps import CSRF_COOKIE, session_user
from explore.web.ui.theme import page


def mount(app: FastAPI, platform: Platform) -> None:
    @app.get("/login", include_in_schema=False)
    def login(request: Request, next: str = "/", error: str = ""):
        message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        body = f"""
        <form class="card narrow" method="post" action="/api/v1/auth/login">
          <h1>Sign in to EXPLORE</h1>
          {message}
          <label>User name <input name="username" autocomplete="username" required autofocus></label>
          <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
          <input type="hidden" name="next" value="{html.escape(next)}">
          <button type="submit">Sign in</button>
          <p class="hint">No account yet? Ask your administrator (<code>explore users add NAME</code>).</p>
        </form>"""
        return HTMLResponse(page("Sign in", body))

    @app.get("/account", include_in_schema=False)
    def account(request: Request, welcome: int = 0, error: str = "", done: int = 0):
        found = session_user(platform, request.cookies.get("explore_session"))
        if found is None:
            return RedirectResponse("/login?next=/account", status_code=303)
        user, _ = found
        has_password = platform.accounts.has_password(user.name)
        intro = ("<p>Welcome! Choose a password so that you can sign in again later.</p>" if welcome or not has_password
                 else "")
        message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        if done:
            message = '<p class="ok" role="status">Password changed.</p>'
        current = "" if not has_password else (
            '<label>Current password <input name="current" type="password" autocomplete="current-password" required></label>')
        body = f"""
        <form class="card narrow" id="password-form">
          <h1>Account: {html.escape(user.name)}</h1>
          {intro}{message}
          {current}
          <label>New password (8 characters or more)
            <input name="password" type="password" minlength="8" autocomplete="new-password" required></label>
          <button type="submit">Set password</button>
          <p class="hint"><a href="/">Continue to EXPLORE</a></p>
        </form>
        <script>
        document.getElementById('password-form').addEventListener('submit', async (ev) => {{
          ev.preventDefault();
          const csrf = (document.cookie.match(/(?:^|; ){CSRF_COOKIE}=([^;]*)/) || [])[1] || '';
          const r = await fetch('/api/v1/me/password', {{method: 'POST', body: new FormData(ev.target),
                                headers: {{'X-CSRF-Token': csrf}}}});
          if (r.ok) {{ location.href = '/login?next=/'; }}
          else {{ const j = await r.json(); location.href = '/account?error=' + encodeURIComponent(j.message); }}
        }});
        </script>"""
        return HTMLResponse(page("Account", body))

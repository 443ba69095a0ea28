"""Helpers for tests that need more than the fixtures give."""


def token_for_client(client, name: str, password: str | None = None) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": name, "password": password or f"{name}-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}

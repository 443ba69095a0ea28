"""Apps, runs (with server-sent events), annotations, selections and cookie sessions over HTTP."""

import json
import time


def test_apps_catalogue(client, auth):
    apps = {a["id"]: a for a in client.get("/api/v1/apps").json()}
    assert apps["countdown"]["version"] == "1.2.3" and apps["countdown"]["has_run"] is True
    assert apps["viewonly"]["has_run"] is False and apps["viewonly"]["body"] == "moon"
    detail = client.get("/api/v1/apps/countdown").json()
    props = detail["params_schema"]["properties"]
    assert props["steps"]["minimum"] == 1 and props["steps"]["maximum"] == 100000
    assert props["mode"]["enum"] == ["sum", "product"]
    assert props["input"]["format"] == "workspace-path"
    moon = client.get("/api/v1/apps?body=moon").json()
    assert "viewonly" in [a["id"] for a in moon] and "countdown" not in [a["id"] for a in moon]
    assert {a["body"] for a in moon} == {"moon"}
    r = client.get("/api/v1/apps/nope")
    assert r.status_code == 404 and "countdown" in r.json()["message"]


def test_run_over_http_with_events(client, auth):
    r = client.post("/api/v1/runs", json={"app": "countdown", "params": {"steps": 0}}, headers=auth["alice"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "steps"
    r = client.post("/api/v1/runs", json={"app": "countdown", "params": {"steps": 20, "delay": 0.03}},
                    headers=auth["alice"])
    assert r.status_code == 201
    run_id = r.json()["id"]
    states = []
    with client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=auth["alice"]) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "state":
                states.append(json.loads(line[6:]))
    assert states[-1]["phase"] == "COMPLETED" and states[-1]["progress"] == 1.0
    assert any(s["phase"] == "EXECUTING" and 0 < s["progress"] < 1 for s in states)
    listing = client.get(f"/api/v1/files/{states[-1]['output']}", headers=auth["alice"]).json()
    assert {"params.json", "provenance.json", "result.txt"} == {e["name"] for e in listing["entries"]}
    assert client.get(f"/api/v1/runs/{run_id}", headers=auth["bob"]).status_code == 404
    assert [r["id"] for r in client.get("/api/v1/runs", headers=auth["alice"]).json()] == [run_id]
    again = client.post(f"/api/v1/runs/{run_id}/rerun", headers=auth["alice"]).json()
    assert again["rerun_of"] == run_id


def test_stop_over_http(client, auth):
    run_id = client.post("/api/v1/runs", json={"app": "countdown", "params": {"steps": 500, "delay": 0.05}},
                         headers=auth["alice"]).json()["id"]
    for _ in range(200):
        if client.get(f"/api/v1/runs/{run_id}", headers=auth["alice"]).json()["progress"] > 0:
            break
        time.sleep(0.05)
    assert client.post(f"/api/v1/runs/{run_id}/stop", headers=auth["bob"]).status_code == 404
    assert client.post(f"/api/v1/runs/{run_id}/stop", headers=auth["alice"]).status_code == 200
    for _ in range(200):
        state = client.get(f"/api/v1/runs/{run_id}", headers=auth["alice"]).json()
        if state["phase"] == "ABORTED":
            break
        time.sleep(0.05)
    assert state["phase"] == "ABORTED"
    assert client.post(f"/api/v1/runs/{run_id}/stop", headers=auth["alice"]).status_code == 409
    log = client.get(f"/api/v1/runs/{run_id}/log", headers=auth["alice"]).json()
    assert any("STOP requested by alice" in line["message"] for line in log)


def test_annotations_rights(client, auth):
    body = {"app": "countdown", "view": "umap", "title": "A cluster of giants", "description": "odd",
            "object_ids": ["a1", "a2"], "region": {"type": "box", "x": [0, 1], "y": [2, 3]},
            "read": {"level": "shared", "users": ["bob"]}, "write": {"level": "shared", "groups": ["astro"]}}
    r = client.post("/api/v1/annotations", json=body, headers=auth["alice"])
    assert r.status_code == 201
    note = r.json()
    assert note["author"] == "alice" and note["object_ids"] == ["a1", "a2"] and note["can_write"] is True
    nid = note["id"]
    # bob reads, cannot write
    assert client.get(f"/api/v1/annotations/{nid}", headers=auth["bob"]).json()["can_write"] is False
    assert client.patch(f"/api/v1/annotations/{nid}", json={"title": "x"}, headers=auth["bob"]).status_code == 403
    assert client.delete(f"/api/v1/annotations/{nid}", headers=auth["bob"]).status_code == 403
    # carol (group astro) writes but cannot re-share
    r = client.patch(f"/api/v1/annotations/{nid}", json={"description": "red clump"}, headers=auth["carol"])
    assert r.status_code == 200 and r.json()["description"] == "red clump"
    r = client.patch(f"/api/v1/annotations/{nid}", json={"read": {"level": "public"}}, headers=auth["carol"])
    assert r.status_code == 403
    # root sees it; an unrelated user does not
    other = client.post("/api/v1/users", json={"name": "eve", "password": "eve-password"}, headers=auth["root"])
    assert other.status_code == 201
    from tests_helpers import token_for_client

    eve = token_for_client(client, "eve")
    assert client.get(f"/api/v1/annotations/{nid}", headers=eve).status_code == 404
    assert client.get("/api/v1/annotations?app=countdown", headers=eve).json() == []
    assert [a["id"] for a in client.get("/api/v1/annotations?app=countdown&view=umap",
                                        headers=auth["bob"]).json()] == [nid]
    r = client.post("/api/v1/annotations", json={**body, "read": {"level": "shared", "users": ["zed"]}},
                    headers=auth["alice"])
    assert r.status_code == 400 and r.json()["message"] == "no user named 'zed'"
    r = client.post("/api/v1/annotations", json={**body, "title": "  "}, headers=auth["alice"])
    assert r.status_code == 400 and "title" in r.json()["message"]
    assert client.delete(f"/api/v1/annotations/{nid}", headers=auth["alice"]).status_code == 204


def test_selections_save_share_send(client, auth):
    ids = [f"2M{i:08d}" for i in range(20000)]
    body = {"name": "weird giants", "app": "countdown", "dataset": "demo/apogee", "ids": ids,
            "read": {"level": "shared", "users": ["bob"]}}
    r = client.post("/api/v1/selections", json=body, headers=auth["alice"])
    assert r.status_code == 201 and r.json()["count"] == 20000
    sid = r.json()["id"]
    got = client.get(f"/api/v1/selections/{sid}", headers=auth["bob"]).json()
    assert got["ids"] == ids
    assert client.get(f"/api/v1/selections/{sid}", headers=auth["carol"]).status_code == 404
    assert client.patch(f"/api/v1/selections/{sid}", json={"name": "x"}, headers=auth["bob"]).status_code == 403
    r = client.patch(f"/api/v1/selections/{sid}", json={"ids": ids[:10]}, headers=auth["alice"])
    assert r.json()["count"] == 10
    sent = client.post(f"/api/v1/selections/{sid}/send", json={"to_app": "viewonly"}, headers=auth["bob"]).json()
    assert sent["url"] == f"/apps/viewonly/open?selection={sid}"
    r = client.post(f"/api/v1/selections/{sid}/send", json={"to_app": "nope"}, headers=auth["bob"])
    assert r.status_code == 404
    assert [s["name"] for s in client.get("/api/v1/selections?dataset=demo/apogee", headers=auth["bob"]).json()] == [
        "weird giants"]


def test_cookie_session_needs_csrf_for_changes(client, people):
    r = client.post("/api/v1/auth/login", json={"username": "alice", "password": "alice-password"})
    assert r.status_code == 200
    assert "explore_session" in client.cookies and "explore_csrf" in client.cookies
    assert client.get("/api/v1/me").json()["name"] == "alice"  # reading needs no CSRF token
    r = client.put("/api/v1/files/alice/a.txt", content=b"x")
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    r = client.put("/api/v1/files/alice/a.txt", content=b"x", headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = client.put("/api/v1/files/alice/a.txt", content=b"x", headers={"X-CSRF-Token": client.cookies["explore_csrf"]})
    assert r.status_code == 201
    # a tampered cookie is no session
    tampered = client.cookies["explore_session"][:-2] + "xx"
    client.cookies.clear()
    client.cookies.set("explore_session", tampered)
    assert client.get("/api/v1/me").status_code == 401


def test_logout_revokes_the_session(client, people):
    client.post("/api/v1/auth/login", json={"username": "bob", "password": "bob-password"})
    cookie = client.cookies["explore_session"]
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": client.cookies["explore_csrf"]},
                follow_redirects=False)
    client.cookies.clear()
    client.cookies.set("explore_session", cookie)
    assert client.get("/api/v1/me").status_code == 401


def test_signin_link_then_password(client, platform):
    from explore.cli.server import first_start_link

    link = first_start_link(platform)
    assert link is not None and "/api/v1/auth/signin/" in link
    r = client.get(link.split("8000", 1)[1], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?welcome=1"
    r = client.post("/api/v1/me/password", data={"password": "a-new-secret"},
                    headers={"X-CSRF-Token": client.cookies["explore_csrf"]})
    assert r.status_code == 200
    assert platform.accounts.authenticate("admin", "a-new-secret").is_admin
    assert first_start_link(platform) is None  # an administrator can now sign in
    assert client.get(link.split("8000", 1)[1], follow_redirects=False).status_code == 401  # used once


def test_open_api_document(client):
    doc = client.get("/api/openapi.json").json()
    paths = set(doc["paths"])
    for p in ("/api/v1/auth/token", "/api/v1/me", "/api/v1/files/{path}", "/api/v1/folders/{path}",
              "/api/v1/permissions/{path}", "/api/v1/apps", "/api/v1/apps/{app_id}", "/api/v1/runs",
              "/api/v1/runs/{run_id}", "/api/v1/runs/{run_id}/events", "/api/v1/runs/{run_id}/stop",
              "/api/v1/annotations", "/api/v1/selections"):
        assert p in paths, p
    assert client.get("/api/docs").status_code == 200

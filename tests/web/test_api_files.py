"""The workspace through the REST API: status codes and JSON errors for every kind of bad input."""

import pytest


def test_token_and_me(client, auth):
    r = client.get("/api/v1/me", headers=auth["alice"])
    assert r.status_code == 200
    assert r.json()["name"] == "alice" and r.json()["quota"] == 10_000_000


def test_bad_credentials_are_401_json(client, people):
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": "nope"})
    assert r.status_code == 401
    assert r.json() == {"error": "Unauthorized", "message": "wrong user name or password"}
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    assert client.get("/api/v1/me").status_code == 401
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["message"]


def test_login_throttling_over_http(client, people):
    for _ in range(3):
        assert client.post("/api/v1/auth/token", data={"username": "bob", "password": "x"}).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "bob", "password": "bob-password"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_upload_list_download(client, auth):
    data = bytes(range(256)) * 100
    r = client.put("/api/v1/files/alice/data/raw.bin", content=data, headers=auth["alice"])
    assert r.status_code == 404 and "does not exist" in r.json()["message"]  # no such folder yet
    assert client.post("/api/v1/folders/alice/data", headers=auth["alice"]).status_code == 201
    r = client.put("/api/v1/files/alice/data/raw.bin", content=data, headers=auth["alice"])
    assert r.status_code == 201 and r.json()["size"] == len(data)
    listing = client.get("/api/v1/files/alice/data", headers=auth["alice"]).json()
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("raw.bin", 25600)]
    assert listing["rights"] == ["delete", "read", "share", "write"]
    r = client.get("/api/v1/files/alice/data/raw.bin", headers=auth["alice"])
    assert r.status_code == 200 and r.content == data and r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == str(len(data))


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-9", slice(0, 10)),
    ("bytes=100-", slice(100, None)),
    ("bytes=-16", slice(-16, None)),
    ("bytes=25590-999999", slice(25590, None)),
])
def test_download_ranges(client, auth, header, expected):
    data = bytes(range(256)) * 100
    client.put("/api/v1/files/alice/raw.bin", content=data, headers=auth["alice"])
    r = client.get("/api/v1/files/alice/raw.bin", headers={**auth["alice"], "Range": header})
    assert r.status_code == 206
    assert r.content == data[expected]
    start = expected.start % len(data)
    assert r.headers["content-range"] == f"bytes {start}-{len(data) - 1 if expected.stop is None else expected.stop - 1}/{len(data)}"


def test_unsatisfiable_range(client, auth):
    client.put("/api/v1/files/alice/small.txt", content=b"abc", headers=auth["alice"])
    r = client.get("/api/v1/files/alice/small.txt", headers={**auth["alice"], "Range": "bytes=10-20"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */3"
    assert r.json()["error"] == "RangeNotSatisfiable"


@pytest.mark.parametrize("path", [
    "alice/../bob/secret.txt", "alice/%2e%2e/bob/secret.txt", "alice/..%2fbob/secret.txt",
    "alice/%2E%2E/%2E%2E/etc/passwd", "alice/..\\bob", "alice/a%00b",
])
def test_traversal_never_leaves_the_workspace(client, auth, path):
    client.put("/api/v1/files/bob/secret.txt", content=b"bob's", headers=auth["bob"])
    r = client.get(f"/api/v1/files/{path}", headers=auth["alice"])
    assert r.status_code in (400, 404), r.text
    assert b"bob's" not in r.content
    r = client.put(f"/api/v1/files/{path}", content=b"overwrite", headers=auth["alice"])
    assert r.status_code in (400, 404)
    assert client.get("/api/v1/files/bob/secret.txt", headers=auth["bob"]).content == b"bob's"


def test_absolute_and_double_slash_paths(client, auth):
    r = client.get("/api/v1/files//etc/passwd", headers=auth["alice"])
    assert r.status_code == 404  # normalised to etc/passwd: a home nobody can read
    assert b"root:" not in r.content


def test_quota_413_and_previous_version_kept(client, auth, platform):
    platform.accounts.update_user("alice", quota=1000)
    client.put("/api/v1/files/alice/a.bin", content=b"1" * 500, headers=auth["alice"])
    r = client.put("/api/v1/files/alice/b.bin", content=b"2" * 700, headers=auth["alice"])
    assert r.status_code == 413 and "quota" in r.json()["message"]
    assert client.get("/api/v1/files/alice/b.bin", headers=auth["alice"]).status_code == 404
    # streamed without a length: cut when it crosses the quota
    def body():
        for _ in range(10):
            yield b"3" * 100
    r = client.put("/api/v1/files/alice/a.bin", content=body(), headers=auth["alice"])
    assert r.status_code == 201  # 1000 bytes replaces the 500-byte file: fits exactly
    def too_much():
        for _ in range(11):
            yield b"4" * 100
    r = client.put("/api/v1/files/alice/a.bin", content=too_much(), headers=auth["alice"])
    assert r.status_code == 413
    assert client.get("/api/v1/files/alice/a.bin", headers=auth["alice"]).content == b"3" * 1000


def test_upload_limit(client, auth):
    r = client.put("/api/v1/files/alice/huge.bin", headers={**auth["alice"], "Content-Length": "6000000"},
                   content=b"")
    assert r.status_code == 413 and "largest upload" in r.json()["message"]


def test_conflicts_are_409(client, auth):
    client.post("/api/v1/folders/alice/x", headers=auth["alice"])
    client.put("/api/v1/files/alice/y.txt", content=b"y", headers=auth["alice"])
    r = client.patch("/api/v1/files/alice/y.txt", json={"to": "alice/x"}, headers=auth["alice"])
    assert r.status_code == 409
    r = client.put("/api/v1/files/alice/x", content=b"file over folder", headers=auth["alice"])
    assert r.status_code == 409
    r = client.post("/api/v1/folders/alice/y.txt", headers=auth["alice"])
    assert r.status_code == 409


def test_rename_and_delete(client, auth):
    client.put("/api/v1/files/alice/a.txt", content=b"a", headers=auth["alice"])
    r = client.patch("/api/v1/files/alice/a.txt", json={"to": "alice/b.txt"}, headers=auth["alice"])
    assert r.status_code == 200 and r.json()["path"] == "alice/b.txt"
    assert client.delete("/api/v1/files/alice/b.txt", headers=auth["alice"]).status_code == 204
    assert client.get("/api/v1/files/alice/b.txt", headers=auth["alice"]).status_code == 404
    r = client.patch("/api/v1/files/alice/nothing", json={"to": "alice/x"}, headers=auth["alice"])
    assert r.status_code == 404
    r = client.patch("/api/v1/files/alice/nothing", json={"too": "alice/x"}, headers=auth["alice"])
    assert r.status_code == 422 and r.json()["error"] == "InvalidRequest"


def test_bad_names(client, auth):
    for bad in ("alice/.explore-x", "alice/a\\b"):
        r = client.put(f"/api/v1/files/{bad}", content=b"x", headers=auth["alice"])
        assert r.status_code == 400, bad


def test_sharing_over_http(client, auth):
    client.post("/api/v1/folders/alice/shared", headers=auth["alice"])
    client.put("/api/v1/files/alice/shared/t.csv", content=b"a\n1\n", headers=auth["alice"])
    assert client.get("/api/v1/files/alice/shared/t.csv", headers=auth["bob"]).status_code == 404
    r = client.put("/api/v1/permissions/alice/shared", json={"users": {"bob": "read"}}, headers=auth["alice"])
    assert r.status_code == 200 and r.json()["users"] == {"bob": "read"}
    assert client.get("/api/v1/files/alice/shared/t.csv", headers=auth["bob"]).content == b"a\n1\n"
    assert client.delete("/api/v1/files/alice/shared/t.csv", headers=auth["bob"]).status_code == 403
    assert client.put("/api/v1/permissions/alice/shared", json={"public": True}, headers=auth["bob"]).status_code == 403
    shared = client.get("/api/v1/shared", headers=auth["bob"]).json()
    assert [s["path"] for s in shared] == ["alice/shared"]
    perms = client.get("/api/v1/permissions/alice/shared/t.csv", headers=auth["bob"]).json()
    assert perms["inherited"][0]["principal"] == "bob" and perms["your_rights"] == ["read"]
    # public: anonymous readers
    client.put("/api/v1/permissions/alice/shared", json={"public": True}, headers=auth["alice"])
    assert client.get("/api/v1/files/alice/shared/t.csv").content == b"a\n1\n"
    assert client.delete("/api/v1/files/alice/shared/t.csv").status_code == 401
    r = client.put("/api/v1/permissions/alice/shared", json={"users": {"bob": "admin"}}, headers=auth["alice"])
    assert r.status_code == 422


def test_interrupted_upload_leaves_nothing(client, auth, platform):
    client.put("/api/v1/files/alice/a.txt", content=b"version 1", headers=auth["alice"])

    def broken():
        yield b"version 2 begins"
        raise ConnectionError("network gone")

    with pytest.raises(ConnectionError):
        client.put("/api/v1/files/alice/a.txt", content=broken(), headers=auth["alice"])
    assert client.get("/api/v1/files/alice/a.txt", headers=auth["alice"]).content == b"version 1"
    tmp = platform.storage.local_path("alice/.explore-tmp")
    assert not tmp.exists() or not any(tmp.iterdir())


def test_short_body_is_refused(client, auth):
    r = client.put("/api/v1/files/alice/a.txt", content=b"abc", headers={**auth["alice"], "Content-Length": "10"})
    assert r.status_code == 400 and "cut short" in r.json()["message"]
    assert client.get("/api/v1/files/alice/a.txt", headers=auth["alice"]).status_code == 404


def test_storage_full_is_507(client, auth, platform, monkeypatch):
    import errno

    from explore.platform import storage

    client.put("/api/v1/files/alice/a.txt", content=b"version 1", headers=auth["alice"])

    def full(fd, chunks):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "_write_all", full)
    r = client.put("/api/v1/files/alice/a.txt", content=b"version 2", headers=auth["alice"])
    assert r.status_code == 507 and "full" in r.json()["message"]
    monkeypatch.undo()
    assert client.get("/api/v1/files/alice/a.txt", headers=auth["alice"]).content == b"version 1"
    assert not any(platform.storage.local_path("alice/.explore-tmp").iterdir())


def test_admin_sees_everything(client, auth):
    client.put("/api/v1/files/alice/a.txt", content=b"a", headers=auth["alice"])
    assert client.get("/api/v1/files/alice/a.txt", headers=auth["root"]).content == b"a"
    homes = [e["name"] for e in client.get("/api/v1/files", headers=auth["root"]).json()["entries"]]
    assert {"alice", "bob", "root"} <= set(homes)
    assert [e["name"] for e in client.get("/api/v1/files", headers=auth["bob"]).json()["entries"]] == ["bob"]

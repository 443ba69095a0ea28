"""The workspace: one permission check, quotas, atomic writes, confinement."""

import os
import threading
import time

import pytest

from explore.platform.errors import BadRequest, Conflict, Forbidden, NotFound, TooLarge
from explore.platform.storage import Storage


@pytest.fixture
def shared_tree(platform, people):
    """alice owns data/ (shared read with bob, write with group astro) and private/."""
    ws = platform.workspace
    a = people["alice"]
    ws.mkdir(a, "alice/data")
    ws.mkdir(a, "alice/private")
    ws.write_bytes(a, "alice/data/table.csv", b"a,b\n1,2\n")
    ws.write_bytes(a, "alice/private/secret.txt", b"secret")
    ws.set_permissions(a, "alice/data", public=False, users={"bob": "read"}, groups={"astro": "write"})
    return ws


# who x what on alice/data/table.csv: expected outcome (None = allowed)
MATRIX = {
    "alice": {"read": None, "write": None, "delete": None, "share": None},
    "bob": {"read": None, "write": Forbidden, "delete": Forbidden, "share": Forbidden},
    "carol": {"read": None, "write": None, "delete": None, "share": Forbidden},
    "root": {"read": None, "write": None, "delete": None, "share": None},
    "eve": {"read": NotFound, "write": NotFound, "delete": NotFound, "share": NotFound},  # another user
    "anonymous": {"read": NotFound, "write": NotFound, "delete": NotFound, "share": NotFound},
}


@pytest.mark.parametrize("who", list(MATRIX))
@pytest.mark.parametrize("action", ["read", "write", "delete", "share"])
def test_permission_matrix(platform, people, shared_tree, who, action):
    if who == "eve":
        user = platform.create_user("eve", "eve-password")
    elif who == "anonymous":
        user = None
    else:
        user = people[who]
    expected = MATRIX[who][action]
    path = "alice/data/table.csv"
    do = {
        "read": lambda: shared_tree.read_bytes(user, path),
        "write": lambda: shared_tree.write_bytes(user, path, b"changed\n"),
        "delete": lambda: shared_tree.delete(user, path),
        "share": lambda: shared_tree.set_permissions(user, path, public=True, users={}, groups={}),
    }[action]
    if expected is None:
        do()
    else:
        with pytest.raises(expected):
            do()
        # nothing changed
        assert shared_tree.read_bytes(people["alice"], path) == b"a,b\n1,2\n"


def test_private_folder_does_not_leak(shared_tree, people):
    with pytest.raises(NotFound):
        shared_tree.listdir(people["bob"], "alice/private")
    with pytest.raises(NotFound):
        shared_tree.listdir(people["bob"], "alice")
    # existing and missing paths look the same to someone without rights
    with pytest.raises(NotFound) as a:
        shared_tree.stat(people["bob"], "alice/private/secret.txt")
    with pytest.raises(NotFound) as b:
        shared_tree.stat(people["bob"], "alice/private/nothing.txt")
    assert str(a.value).replace("secret", "X") == str(b.value).replace("nothing", "X")


def test_rights_are_inherited(shared_tree, people):
    a = people["alice"]
    shared_tree.mkdir(a, "alice/data/deep")
    shared_tree.write_bytes(a, "alice/data/deep/x.txt", b"x")
    assert shared_tree.read_bytes(people["bob"], "alice/data/deep/x.txt") == b"x"
    # carol (group astro, write) may add files in the shared folder
    shared_tree.write_bytes(people["carol"], "alice/data/deep/from-carol.txt", b"hi")
    assert shared_tree.stat(a, "alice/data/deep/from-carol.txt").size == 2


def test_public_files_readable_anonymously(shared_tree, people):
    a = people["alice"]
    shared_tree.write_bytes(a, "alice/poster.png", b"\x89PNG")
    shared_tree.set_permissions(a, "alice/poster.png", public=True, users={}, groups={})
    assert shared_tree.read_bytes(None, "alice/poster.png") == b"\x89PNG"
    with pytest.raises(Forbidden):
        shared_tree.write_bytes(None, "alice/poster.png", b"x")
    # public read never means public write, even for signed-in users
    with pytest.raises(Forbidden):
        shared_tree.write_bytes(people["bob"], "alice/poster.png", b"x")


def test_shared_with_lists_grants(shared_tree, people):
    entries = shared_tree.shared_with(people["bob"])
    assert [(e["path"], e["access"]) for e in entries] == [("alice/data", "read")]
    assert [(e["path"], e["via"]) for e in shared_tree.shared_with(people["dave"])] == [("alice/data", "group")]


def test_share_with_unknown_user_is_refused(shared_tree, people):
    with pytest.raises(BadRequest, match="no user named 'zed'"):
        shared_tree.set_permissions(people["alice"], "alice/data", public=False, users={"zed": "read"}, groups={})


def test_home_cannot_be_deleted(shared_tree, people):
    with pytest.raises(Forbidden):
        shared_tree.delete(people["alice"], "alice")


def test_move_carries_permissions(shared_tree, people):
    a = people["alice"]
    shared_tree.move(a, "alice/data", "alice/archive")
    assert shared_tree.read_bytes(people["bob"], "alice/archive/table.csv") == b"a,b\n1,2\n"
    with pytest.raises(NotFound):
        shared_tree.stat(a, "alice/data")
    with pytest.raises(Conflict):
        shared_tree.move(a, "alice/private", "alice/archive")
    with pytest.raises(BadRequest):
        shared_tree.move(a, "alice/archive", "alice/archive/inside")


def test_delete_removes_grants(shared_tree, people, platform):
    a = people["alice"]
    shared_tree.delete(a, "alice/data")
    shared_tree.mkdir(a, "alice/data")
    assert shared_tree.get_permissions(a, "alice/data")["users"] == {}
    with pytest.raises(NotFound):
        shared_tree.listdir(people["bob"], "alice/data")


def test_quota_is_enforced_and_nothing_is_half_written(platform, people):
    ws = platform.workspace
    a = people["alice"]
    platform.accounts.update_user("alice", quota=1000)
    ws.write_bytes(a, "alice/small.bin", b"x" * 600)
    with pytest.raises(TooLarge, match="quota"):
        ws.write_bytes(a, "alice/big.bin", b"y" * 600)
    with pytest.raises(NotFound):
        ws.stat(a, "alice/big.bin")
    # a streamed write that crosses the quota is cut and leaves nothing
    w = ws.writer(a, "alice/stream.bin")
    w.write(b"z" * 300)
    with pytest.raises(TooLarge):
        w.write(b"z" * 300)
    with pytest.raises(NotFound):
        ws.stat(a, "alice/stream.bin")
    # replacing a file may reuse the space it frees
    ws.write_bytes(a, "alice/small.bin", b"w" * 900)
    assert ws.usage("alice") == 900


def test_uploads_in_progress_hold_their_space(platform, people):
    """Two uploads at once into one home cannot both use the same space left: each holds what it
    announced (Content-Length) or has written so far, until it is committed or abandoned."""
    ws = platform.workspace
    a = people["alice"]
    platform.accounts.update_user("alice", quota=1000)
    first = ws.writer(a, "alice/one.bin", expected_size=700)
    with pytest.raises(TooLarge, match="700 bytes are held by other uploads"):
        ws.writer(a, "alice/two.bin", expected_size=400)
    second = ws.writer(a, "alice/two.bin")  # size unknown: it holds what it writes
    second.write(b"b" * 300)
    with pytest.raises(TooLarge, match="held by other uploads"):
        second.write(b"b" * 1)
    with pytest.raises(NotFound):
        ws.stat(a, "alice/two.bin")
    first.write(b"a" * 700)
    first.commit()
    assert ws.usage("alice") == 700
    # a third one streamed, then abandoned: its space is free again
    third = ws.writer(a, "alice/three.bin")
    third.write(b"c" * 250)
    with pytest.raises(TooLarge, match="250 bytes are held"):
        ws.writer(a, "alice/four.bin", expected_size=100)
    third.abort()
    ws.write_bytes(a, "alice/four.bin", b"d" * 300)
    assert ws.usage("alice") == 1000
    assert not ws._held  # nothing left held


def test_concurrent_uploads_respect_the_quota(platform, people):
    """Four uploads of 400 bytes at once into a 1000-byte quota, in threads as the server runs them: at most
    two succeed, the others get 413, and the home never holds more than the quota."""
    import concurrent.futures

    ws = platform.workspace
    a = people["alice"]
    platform.accounts.update_user("alice", quota=1000)
    barrier = threading.Barrier(4)

    def upload(k: int) -> str:
        barrier.wait()
        try:
            with ws.writer(a, f"alice/up{k}.bin") as w:
                for _ in range(4):
                    w.write(b"u" * 100)
                    time.sleep(0.01)
            return "ok"
        except TooLarge:
            return "too large"

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(upload, range(4)))
    assert outcomes.count("ok") <= 2 and outcomes.count("ok") >= 1, outcomes
    assert ws.storage.usage("alice") <= 1000
    assert not ws._held


def test_upload_size_limit(platform, people):
    with pytest.raises(TooLarge, match="largest upload"):
        platform.workspace.writer(people["bob"], "bob/huge.bin", expected_size=6_000_000)


def test_interrupted_write_keeps_previous_version(platform, people):
    ws = platform.workspace
    a = people["alice"]
    ws.write_bytes(a, "alice/a.txt", b"version 1")
    w = ws.writer(a, "alice/a.txt")
    w.write(b"version 2, half")
    w.abort()
    assert ws.read_bytes(a, "alice/a.txt") == b"version 1"
    tmp = platform.storage.local_path("alice/.explore-tmp")
    assert not any(tmp.iterdir())


def test_hidden_platform_files_are_not_listed_nor_reachable(platform, people):
    ws = platform.workspace
    a = people["alice"]
    ws.write_bytes(a, "alice/a.txt", b"1")
    assert [e.name for e in ws.listdir(a, "alice")] == ["a.txt"]
    with pytest.raises(BadRequest):
        ws.read_bytes(a, "alice/.explore-tmp")


def test_symlinks_out_of_the_workspace_are_not_followed(platform, people, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("do not read me")
    home = platform.storage.local_path("alice")
    os.symlink(outside, home / "link.txt")
    os.symlink(tmp_path, home / "linkdir")
    a = people["alice"]
    with pytest.raises(NotFound):
        platform.workspace.read_bytes(a, "alice/link.txt")
    with pytest.raises(NotFound):
        platform.workspace.listdir(a, "alice/linkdir")
    assert "link.txt" not in [e.name for e in platform.workspace.listdir(a, "alice")]


def test_root_listing(platform, people):
    names = [e.name for e in platform.workspace.listdir(people["bob"], "")]
    assert names == ["bob"]
    assert {"alice", "bob", "root"} <= {e.name for e in platform.workspace.listdir(people["root"], "")}


def test_memory_filesystem_behaves_like_a_folder():
    """The same storage code on a non-local fsspec filesystem (as S3 through s3fs)."""
    import uuid

    s = Storage(f"memory://explore-{uuid.uuid4().hex}")
    s.makedirs("alice/sub")
    with s.writer("alice/sub/a.bin") as w:
        w.write(b"hello ")
        w.write(b"world")
    assert b"".join(s.iter_bytes("alice/sub/a.bin", 6, 10)) == b"world"
    assert [e.name for e in s.listdir("alice")] == ["sub"]
    assert s.usage("alice") == 11
    w = s.writer("alice/sub/a.bin")
    w.write(b"partial")
    w.abort()
    assert b"".join(s.iter_bytes("alice/sub/a.bin")) == b"hello world"
    s.move("alice/sub", "alice/moved")
    assert s.info("alice/moved/a.bin").size == 11
    s.delete("alice/moved")
    assert s.listdir("alice") == []
    with pytest.raises(NotFound):
        s.info("alice/moved/a.bin")


def test_one_check_then_listing_and_reading_look_up_no_more_grants(platform, people, shared_tree):
    from sqlalchemy import event

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(platform.db.engine, "before_cursor_execute", count)
    try:
        folder = shared_tree.check(people["bob"], "alice/data")
        names = [e.name for e in shared_tree.entries(folder)]
        file = shared_tree.check(people["carol"], "alice/data/table.csv")
        data = b"".join(shared_tree.read_range(file, 2, 5))
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", count)
    assert names == ["table.csv"] and folder.rights == {"read"}
    assert data == b"b\n1," and file.rights == {"read", "write", "delete"}
    assert sum("file_permissions" in s for s in statements) == 2  # one per check, none after
    for stranger in (platform.create_user("eve", "eve-password"), None):  # another user, anonymous
        with pytest.raises(NotFound):
            shared_tree.check(stranger, "alice/data/table.csv")
    with pytest.raises(NotFound):
        shared_tree.check(people["bob"], "alice/private")
    with pytest.raises(BadRequest):
        shared_tree.entries(file)
    with pytest.raises(BadRequest):
        list(shared_tree.read_range(folder))


def test_usage_follows_every_change_without_walking_the_home_again(platform, people, monkeypatch):
    ws, a, b = platform.workspace, people["alice"], people["bob"]
    ws.mkdir(a, "alice/runs")
    ws.write_bytes(a, "alice/runs/a.bin", b"a" * 1000)
    ws.write_bytes(b, "bob/own.bin", b"o" * 10)
    assert ws.usage("alice") == 1000 and ws.usage("bob") == 10
    walks = []
    walk = platform.storage.usage
    monkeypatch.setattr(platform.storage, "usage", lambda path: walks.append(path) or walk(path))
    ws.write_bytes(a, "alice/runs/b.bin", b"b" * 300)  # new file
    ws.write_bytes(a, "alice/runs/a.bin", b"a" * 200)  # replaced by a smaller one
    w = ws.writer(a, "alice/runs/c.bin")
    w.write(b"c" * 5000)
    w.abort()  # abandoned: nothing used
    assert ws.usage("alice") == 500 and walks == []
    assert walk("alice") == 500
    ws.set_permissions(a, "alice/runs", public=False, users={"bob": "write"}, groups={})
    ws.write_bytes(b, "alice/runs/from_bob.bin", b"x" * 70)  # written by bob, counted for alice
    assert ws.usage("alice") == 570 == walk("alice") and walks == []
    ws.delete(a, "alice/runs/b.bin")
    assert ws.usage("alice") == 270 == walk("alice")
    ws.move(people["root"], "alice/runs/a.bin", "bob/a.bin")  # between homes (an administrator)
    assert (ws.usage("alice"), ws.usage("bob")) == (70, 210) == (walk("alice"), walk("bob"))


def test_usage_takes_in_files_written_behind_its_back_once_old_enough(platform, people):
    ws = platform.workspace
    ws.write_bytes(people["alice"], "alice/a.bin", b"a" * 100)
    assert ws.usage("alice") == 100
    # as a run in another process writes its outputs: this process is not told
    (platform.storage.local_path("alice") / "out.csv").write_bytes(b"x" * 50)
    assert ws.usage("alice") == 100
    ws.usage_max_age = 0.0
    assert ws.usage("alice") == 150

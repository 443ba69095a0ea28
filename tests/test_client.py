"""The Python client (explore.client) against a real server on loopback: files both ways on every
transfer path, errors as ApiError, runs waited for, interrupted downloads that leave nothing behind."""

from __future__ import annotations

import os
import random
import socket
import threading

import pytest
from live_server import serving

import explore.client as client_module
from explore.client import ApiError, Client

MB = 1_000_000


@pytest.fixture
def server(platform, people):
    from explore.web.app import create_app

    with serving(create_app(platform=platform, scheduler=True, ui=False)) as url:
        yield url


@pytest.fixture
def alice(server):
    with Client.login(server, "alice", "alice-password") as c:
        yield c


def random_file(path, n: int, seed: int = 1) -> bytes:
    data = random.Random(seed).randbytes(n)
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("path", ["splice", "recv_into", "httpx"])
def test_upload_and_download_byte_for_byte(alice, tmp_path, monkeypatch, path):
    """4.5 MB up and down on each of the client's ways: the kernel's splice, large reads, httpx (what
    HTTPS and proxies get)."""
    if path == "splice" and not hasattr(os, "splice"):
        pytest.skip("os.splice is Linux only")
    if path == "recv_into":
        monkeypatch.delattr(os, "splice", raising=False)
    if path == "httpx":
        monkeypatch.setattr(Client, "_direct", lambda self: False)
    data = random_file(tmp_path / "stars.bin", 4_500_000)
    seen = []
    alice.mkdir("alice/data")
    entry = alice.upload(tmp_path / "stars.bin", "alice/data/", progress=lambda done, total: seen.append((done, total)))
    assert entry["path"] == "alice/data/stars.bin" and entry["size"] == len(data)
    assert seen[-1] == (len(data), len(data))
    got = []
    (tmp_path / "down").mkdir()
    out = alice.download("alice/data/stars.bin", tmp_path / "down", progress=lambda d, t: got.append((d, t)))
    assert out == tmp_path / "down" / "stars.bin"
    assert out.read_bytes() == data
    assert got[-1] == (len(data), len(data)) and [d for d, _ in got] == sorted(d for d, _ in got)
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == ["stars.bin"]  # no .part left


def test_files_folders_and_sharing(server, alice, tmp_path):
    (tmp_path / "a.csv").write_text("ra,dec\n1,2\n")
    alice.mkdir("alice/results")
    alice.upload(tmp_path / "a.csv", "alice/results/a.csv")
    assert [(e["name"], e["size"]) for e in alice.ls("alice/results")] == [("a.csv", 11)]
    alice.move("alice/results/a.csv", "alice/results/b.csv")
    assert alice.stat("alice/results/b.csv")["rights"] == ["delete", "read", "share", "write"]
    with Client.login(server, "bob", "bob-password") as bob:
        with pytest.raises(ApiError) as err:
            bob.read_bytes("alice/results/b.csv")
        assert err.value.status == 404  # existence does not leak
        alice.share("alice/results", users={"bob": "read"})
        assert bob.read_bytes("alice/results/b.csv") == b"ra,dec\n1,2\n"
        assert bob.download("alice/results/b.csv", tmp_path / "copy.csv").read_text() == "ra,dec\n1,2\n"
        with pytest.raises(ApiError) as err:
            bob.upload(tmp_path / "a.csv", "alice/results/c.csv")
        assert err.value.status == 403
    alice.delete("alice/results")
    assert alice.ls("alice") == []


def test_errors_name_the_problem(server, alice, tmp_path):
    with pytest.raises(ApiError) as err:
        Client.login(server, "alice", "wrong-password")
    assert err.value.status == 401
    with pytest.raises(ApiError) as err:
        Client(server, "not-a-token").me()
    assert err.value.status == 401
    here = tmp_path / "here"
    here.mkdir()
    with pytest.raises(ApiError) as err:
        alice.download("alice/missing.fits", here / "missing.fits")
    assert err.value.status == 404 and "missing.fits" in err.value.message
    assert list(here.iterdir()) == []  # neither the file nor its .part
    # over the server's upload limit (5 MB in the tests): refused on the headers, before the body
    random_file(here / "big.bin", 6 * MB)
    with pytest.raises(ApiError) as err:
        alice.upload(here / "big.bin", "alice/big.bin")
    assert err.value.status == 413
    assert [e["name"] for e in alice.ls("alice")] == []


def test_runs_submitted_and_waited_for(alice):
    states = []
    run = alice.run("countdown", {"steps": 4, "delay": 0.01}, progress=lambda r: states.append(r["phase"]),
                    timeout=120)
    assert run["phase"] == "COMPLETED" and states[-1] == "COMPLETED"
    names = {e["name"] for e in alice.ls(run["output"])}
    assert {"result.txt", "params.json", "provenance.json"} <= names
    assert alice.read_bytes(f"{run['output']}/result.txt") == b"10\n"  # 1 + 2 + 3 + 4
    assert alice.runs("countdown")[0]["id"] == run["id"]
    with pytest.raises(ApiError) as err:
        alice.run("countdown", {"steps": 4, "delay": 0.01, "fail": True}, timeout=120)
    assert err.value.kind == "ERROR" and "asked to fail" in err.value.message
    with pytest.raises(ApiError) as err:
        alice.submit("countdown", {"steps": 0})
    assert err.value.status == 422


class CutShort(threading.Thread):
    """A server that promises 1,000,000 bytes and closes the connection after 300,000."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def run(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 300_000)


@pytest.mark.parametrize("way", ["splice", "recv_into"])
def test_download_cut_short_keeps_the_old_file(tmp_path, monkeypatch, way):
    if way == "recv_into":
        monkeypatch.delattr(os, "splice", raising=False)
    elif not hasattr(os, "splice"):
        pytest.skip("os.splice is Linux only")
    (tmp_path / "result.fits").write_bytes(b"the previous download")
    fake = CutShort()
    fake.start()
    with pytest.raises(ApiError) as err:
        Client(fake.url, "token").fetch("alice/result.fits", tmp_path / "result.fits")
    assert err.value.status == 502 and "300,000 of 1,000,000" in err.value.message
    assert (tmp_path / "result.fits").read_bytes() == b"the previous download"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.fits"]
    fake.listener.close()


def test_client_imports_nothing_of_the_platform():
    """The client runs on a laptop with httpx alone."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(client_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(name and name.startswith("explore") for name in imported)


def test_folders_both_ways(alice, tmp_path):
    """A local folder tree uploaded, listed with walk(), and downloaded again whole, byte for byte; a
    folder is not mistaken for a file."""
    src = tmp_path / "spectra"
    (src / "apogee" / "visits").mkdir(parents=True)
    (src / "empty").mkdir()
    data = {
        "readme.txt": b"three spectra\n",
        "apogee/a.fits": random.Random(1).randbytes(300_000),
        "apogee/visits/v1.fits": random.Random(2).randbytes(70_000),
    }
    for rel, content in data.items():
        (src / rel).write_bytes(content)
    seen = []
    entries = alice.upload_folder(src, "alice/spectra", progress=lambda d, t: seen.append((d, t)))
    assert sorted(e["path"] for e in entries) == sorted(f"alice/spectra/{rel}" for rel in data)
    assert seen[-1] == (370_014, 370_014)
    walked = {folder: ([d["name"] for d in dirs], [f["name"] for f in files])
              for folder, dirs, files in alice.walk("alice/spectra")}
    assert walked == {"alice/spectra": (["apogee", "empty"], ["readme.txt"]),
                      "alice/spectra/apogee": (["visits"], ["a.fits"]),
                      "alice/spectra/apogee/visits": ([], ["v1.fits"]),
                      "alice/spectra/empty": ([], [])}
    with pytest.raises(ApiError) as err:
        alice.download("alice/spectra", tmp_path / "x")
    assert err.value.status == 400 and "download_folder()" in err.value.message
    got = []
    back = alice.download_folder("alice/spectra", tmp_path / "back", progress=lambda d, t: got.append((d, t)))
    assert back == tmp_path / "back" and (back / "empty").is_dir()
    assert {str(p.relative_to(back)): p.read_bytes() for p in back.rglob("*") if p.is_file()} == data
    assert got[-1] == (370_014, 370_014) and [d for d, _ in got] == sorted(d for d, _ in got)


def test_a_server_cannot_write_outside_the_download_folder(tmp_path):
    """Entry names from a (hostile) server that would climb out of the local folder are refused."""
    from explore.client import download_tree

    class Hostile:
        def ls(self, path):
            return [{"name": "../../evil.sh", "is_dir": False, "size": 3}]

        def fetch(self, path, target, progress=None):  # pragma: no cover - must not be reached
            raise AssertionError(f"asked to write {target}")

    with pytest.raises(ApiError) as err:
        download_tree(Hostile(), "alice/x", tmp_path / "x")
    assert err.value.status == 502 and "not a plain file name" in err.value.message
    assert not (tmp_path.parent / "evil.sh").exists()


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".vot", ".parquet"])
def test_tables_written_and_read_back_with_their_units(alice, suffix):
    """A notebook's round trip: an astropy table stored in the workspace in the format its name says,
    read back with the same values (and units, where the format keeps them)."""
    import astropy.units as u
    import numpy as np
    from astropy.table import Table

    targets = Table({"name": ["Vega", "Sirius", "Deneb"], "l": [67.45, 227.23, 84.28] * u.deg,
                     "b": [19.24, -8.89, 1.99] * u.deg, "distance": [7.68, 2.64, 802.0] * u.pc})
    entry = alice.write_table(targets, f"alice/targets{suffix}")
    assert entry["path"] == f"alice/targets{suffix}" and entry["size"] > 0
    back = alice.read_table(f"alice/targets{suffix}")
    assert list(back["name"]) == ["Vega", "Sirius", "Deneb"]
    assert np.allclose(back["distance"], [7.68, 2.64, 802.0])
    if suffix != ".csv":  # plain CSV has no place for units
        assert back["l"].unit == u.deg and back["distance"].unit == u.pc


def test_a_dataframe_becomes_a_workspace_table(alice):
    import pandas as pd

    frame = pd.DataFrame({"source_id": [1, 2, 3], "phot_g_mean_mag": [10.5, 12.25, 8.0]})
    alice.write_table(frame, "alice/gaia.parquet")
    back = alice.read_table("alice/gaia.parquet")
    assert list(back["source_id"]) == [1, 2, 3] and list(back["phot_g_mean_mag"]) == [10.5, 12.25, 8.0]

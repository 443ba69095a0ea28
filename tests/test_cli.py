"""The ``explore`` command: users, files, apps, runs, and errors as one clear line."""

from __future__ import annotations

import os
import pathlib

import pytest
from typer.testing import CliRunner

SUPPORT = str(pathlib.Path(__file__).resolve().parent / "support")


@pytest.fixture
def cli(tmp_path, monkeypatch, database_url):
    """Invoke ``explore ...`` against a fresh data folder (and database)."""
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("EXPLORE_DATABASE_URL", database_url)
    monkeypatch.setenv("EXPLORE_EXTRA_APPS", "explore_test_apps:Countdown,explore_test_apps:ViewOnly")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([SUPPORT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.delenv("EXPLORE_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    from explore.cli import _mount_extensions, app

    _mount_extensions()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


def test_users_add_reads_the_password_from_stdin(cli):
    r = cli("users", "add", "alice", "--admin", input="a-long-password\n")
    assert r.exit_code == 0, r.output
    assert "created administrator alice" in r.output
    from explore.platform.core import Platform

    p = Platform()
    assert p.accounts.authenticate("alice", "a-long-password").is_admin
    r = cli("users", "add", "alice", input="another-password\n")
    assert r.exit_code == 1 and "already taken" in r.output
    r = cli("users", "add", "bob", input="short\n")
    assert r.exit_code == 1 and "at least 8 characters" in r.output
    r = cli("users", "list")
    assert "alice" in r.output and "admin" in r.output


def test_files_put_ls_get_share_rm(cli, tmp_path):
    cli("users", "add", "alice", input="alice-password\n")
    cli("users", "add", "bob", input="bob-password\n")
    local = tmp_path / "stars.csv"
    local.write_text("id,ra,dec\n1,2,3\n")
    r = cli("files", "put", str(local), "alice/", "--user", "alice")
    assert r.exit_code == 0 and "uploaded alice/stars.csv" in r.output
    r = cli("files", "ls", "--user", "alice")
    assert "stars.csv" in r.output
    r = cli("files", "ls", "alice", "--user", "bob")
    assert r.exit_code == 1 and "no such file or folder: alice" in r.output
    r = cli("files", "share", "alice/stars.csv", "--with", "bob:read", "--user", "alice")
    assert r.exit_code == 0 and "bob (read)" in r.output
    out = tmp_path / "copy.csv"
    r = cli("files", "get", "alice/stars.csv", str(out), "--user", "bob")
    assert r.exit_code == 0 and out.read_text() == "id,ra,dec\n1,2,3\n"
    r = cli("files", "rm", "alice/stars.csv", "--user", "bob")
    assert r.exit_code == 1 and "may read alice/stars.csv but not delete" in r.output
    r = cli("files", "rm", "alice/stars.csv", "--user", "alice")
    assert r.exit_code == 0
    r = cli("files", "ls", "--user", "nobody")
    assert r.exit_code == 1 and "no user named 'nobody'" in r.output


def make_tree(root: pathlib.Path) -> dict[str, bytes]:
    files = {"notes.txt": b"two spectra\n", "apogee/a.fits": b"A" * 5000, "apogee/visits/v1.fits": b"V" * 300}
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return files


def read_tree(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_folders_put_and_get_with_recursive(cli, tmp_path):
    cli("users", "add", "alice", input="alice-password\n")
    files = make_tree(tmp_path / "spectra")
    r = cli("files", "put", str(tmp_path / "spectra"), "--user", "alice")
    assert r.exit_code == 1 and "is a folder: add --recursive (-r)" in r.output
    r = cli("files", "put", str(tmp_path / "spectra"), "--user", "alice", "-r")
    assert r.exit_code == 0 and "uploaded alice/spectra/ (3 files, 5.3 kB)" in r.output, r.output
    r = cli("files", "get", "alice/spectra", str(tmp_path / "back"), "--user", "alice")
    assert r.exit_code == 1 and "is a folder: add --recursive (-r)" in r.output
    r = cli("files", "get", "alice/spectra", str(tmp_path / "back"), "--user", "alice", "--recursive")
    assert r.exit_code == 0 and "(3 files, 5.3 kB)" in r.output, r.output
    assert read_tree(tmp_path / "back") == files


def test_apps_and_a_run_with_progress(cli):
    cli("users", "add", "alice", input="alice-password\n")
    r = cli("apps", "list")
    assert "countdown" in r.output and "Countdown" in r.output
    r = cli("apps", "show", "countdown")
    assert "steps" in r.output and "number of steps" in r.output
    r = cli("run", "countdown", "steps=3", "delay=0", "mode=product", "--user", "alice")
    assert r.exit_code == 0, r.output
    assert "COMPLETED" in r.output
    folder = r.output.split("output folder: ")[1].split()[0]
    assert folder.startswith("alice/countdown_")
    from explore.platform.core import Platform

    p = Platform()
    assert p.workspace.read_bytes(p.accounts.get("alice"), f"{folder}/result.txt") == b"6\n"
    r = cli("runs", "list", "--user", "alice")
    assert "COMPLETED" in r.output and "countdown" in r.output
    r = cli("run", "countdown", "steps=0", "--user", "alice")
    assert r.exit_code == 1 and "greater than or equal to 1" in r.output
    r = cli("run", "countdown", "steps", "--user", "alice")
    assert r.exit_code == 1 and "key=value" in r.output


def test_detached_run_then_stop(cli):
    cli("users", "add", "alice", input="alice-password\n")
    r = cli("run", "countdown", "steps=1000", "delay=1", "--detach", "--user", "alice")
    assert r.exit_code == 0
    run_id = r.output.split("run ")[1].split()[0]
    r = cli("runs", "stop", run_id[:10], "--user", "alice")
    assert r.exit_code == 0 and "ABORTED" in r.output  # stopped while queued: no server is running
    r = cli("runs", "show", run_id, "--user", "alice")
    assert '"phase": "ABORTED"' in r.output and "STOP requested by alice" in r.output


def test_groups(cli):
    cli("users", "add", "carol", input="carol-password\n")
    assert cli("groups", "add", "astro", "carol").exit_code == 0
    r = cli("groups", "list")
    assert "astro" in r.output and "carol" in r.output


def test_serve_prints_a_one_time_link_on_a_first_start(cli, monkeypatch):
    from explore.cli.server import first_start_link
    from explore.platform.core import Platform

    p = Platform()
    link = first_start_link(p)
    assert link.startswith("http://127.0.0.1:8000/api/v1/auth/signin/")
    assert p.accounts.get("admin").is_admin and not p.accounts.has_password("admin")
    # until a password is set, each start prints a new link; there is never a default password
    assert first_start_link(p) != link


def test_core_commands_do_not_import_the_apps_but_help_lists_them():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "sys.argv = ['explore'] + sys.argv[1:]\n"
        "from explore.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('APPS', sorted(m for m in sys.modules if m.startswith('explore.apps.')))\n"
    )
    core = subprocess.run([sys.executable, "-c", probe, "users", "--help"], capture_output=True, text=True, check=True)
    assert "APPS []" in core.stdout and "Manage user accounts" in core.stdout
    full = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, check=True)
    assert "gtomo" in full.stdout and "explore.apps.gtomo.app" in full.stdout


def test_login_then_files_on_a_server(cli, platform, people, tmp_path, monkeypatch):
    """``explore login URL`` keeps a token (owner-only file); ``--server`` makes files ls / put / get act
    on that server through its API."""
    from live_server import serving

    from explore.web.app import create_app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("EXPLORE_TOKEN", raising=False)
    local = tmp_path / "stars.csv"
    local.write_text("ra,dec\n10.5,-3.25\n")
    with serving(create_app(platform=platform, scheduler=False, ui=False)) as url:
        r = cli("files", "ls", "--server", url)
        assert r.exit_code == 1 and f"not signed in to {url}: run 'explore login {url}'" in r.output
        r = cli("login", url, "--user", "alice", input="wrong-password\n")
        assert r.exit_code == 1 and "(401)" in r.output
        r = cli("login", url, "--user", "alice", input="alice-password\n")
        assert r.exit_code == 0, r.output
        assert "signed in to" in r.output and "as alice" in r.output
        tokens = tmp_path / "config" / "explore" / "tokens.json"
        assert tokens.stat().st_mode & 0o777 == 0o600
        r = cli("files", "put", str(local), "--server", url)
        assert r.exit_code == 0 and "uploaded alice/stars.csv (18 B)" in r.output, r.output
        r = cli("files", "ls", "--server", url)
        assert r.exit_code == 0 and "stars.csv" in r.output and "18 B" in r.output
        out = tmp_path / "back.csv"
        r = cli("files", "get", "alice/stars.csv", str(out), "--server", url)
        assert r.exit_code == 0 and out.read_text() == "ra,dec\n10.5,-3.25\n"
        r = cli("files", "get", "alice", str(out), "--server", url)
        assert r.exit_code == 1 and "alice is a folder" in r.output
        r = cli("files", "get", "bob/secret.csv", "--server", url)
        assert r.exit_code == 1 and "no such file" in r.output and "(404)" in r.output
        files = make_tree(tmp_path / "spectra")
        r = cli("files", "put", str(tmp_path / "spectra"), "alice/in", "-r", "--server", url)
        assert r.exit_code == 0 and "uploaded alice/in/ (3 files, 5.3 kB) to" in r.output, r.output
        r = cli("files", "get", "alice/in", str(tmp_path / "out"), "-r", "--server", url)
        assert r.exit_code == 0 and "(3 files, 5.3 kB) from" in r.output, r.output
        assert read_tree(tmp_path / "out") == files
    r = cli("files", "ls", "--server", url)  # the server is gone
    assert r.exit_code == 1 and "the server did not answer" in r.output


def test_a_local_file_error_is_one_line_not_a_traceback(cli, tmp_path):
    """Errors of the local side (a destination folder that does not exist) print one line and exit 1,
    like the platform's own errors."""
    cli("users", "add", "alice", input="alice-password\n")
    local = tmp_path / "stars.csv"
    local.write_text("id\n1\n")
    assert cli("files", "put", str(local), "alice/", "--user", "alice").exit_code == 0
    r = cli("files", "get", "alice/stars.csv", str(tmp_path / "no" / "such" / "dir" / "s.csv"), "--user", "alice")
    assert r.exit_code == 1 and r.output.strip().startswith("error:") and "No such file or directory" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1

"""Runs: UWS phases, progress, log, STOP, restarts, outputs and provenance, on both executors."""

import hashlib
import json
import time

import pytest

from explore.platform.errors import Conflict, InvalidParams, NotFound


def wait_for(predicate, timeout=30.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


@pytest.fixture
def running(platform):
    platform.start_scheduler()
    return platform


def test_params_are_validated(platform, people):
    with pytest.raises(InvalidParams, match="steps") as info:
        platform.runs.submit(people["alice"], "countdown", {"steps": 0})
    assert info.value.errors[0]["field"] == "steps"
    with pytest.raises(InvalidParams, match="unknown"):
        platform.runs.submit(people["alice"], "countdown", {"unknown": 1})
    with pytest.raises(NotFound):
        platform.runs.submit(people["alice"], "no-such-app", {})
    with pytest.raises(Conflict, match="no batch run"):
        platform.runs.submit(people["alice"], "viewonly", {})


def test_a_run_completes_with_outputs_and_provenance(running, people):
    ws = running.workspace
    alice = people["alice"]
    ws.write_bytes(alice, "alice/input.txt", b"one\ntwo\nthree\n")
    run = running.runs.submit(alice, "countdown", {"steps": 4, "delay": 0.01, "input": "alice/input.txt"})
    assert run["phase"] == "QUEUED"
    done = running.runs.wait(alice, run["id"], timeout=60)
    assert done["phase"] == "COMPLETED", done
    assert done["progress"] == 1.0
    folder = done["output"]
    assert folder.startswith("alice/countdown_") and len(folder) == len("alice/countdown_20260101T000000")
    names = {e.name for e in ws.listdir(alice, folder)}
    assert names == {"params.json", "provenance.json", "result.txt", "lines.txt"}
    assert ws.read_bytes(alice, f"{folder}/result.txt") == b"10\n"
    assert ws.read_bytes(alice, f"{folder}/lines.txt") == b"3\n"
    params = json.loads(ws.read_bytes(alice, f"{folder}/params.json"))
    assert params["params"]["steps"] == 4 and params["version"] == "1.2.3"
    prov = json.loads(ws.read_bytes(alice, f"{folder}/provenance.json"))
    assert prov["app"]["version"] == "1.2.3"
    assert prov["inputs"] == [{"path": "alice/input.txt", "size": 14,
                               "sha256": hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()}]
    assert prov["started"] < prov["finished"] and prov["phase"] == "COMPLETED"
    assert "numpy" in prov["packages"] and prov["packages"]["explore-platform"]
    log = [line["message"] for line in running.runs.log(alice, run["id"])]
    assert "total = 10" in log


def test_progress_is_reported_while_executing(running, people):
    alice = people["alice"]
    run = running.runs.submit(alice, "countdown", {"steps": 40, "delay": 0.05})
    seen = []
    for state in running.runs.events(alice, run["id"], interval=0.05, timeout=60):
        seen.append((state["phase"], state["progress"]))
    phases = [p for p, _ in seen]
    assert "EXECUTING" in phases and phases[-1] == "COMPLETED"
    fractions = [f for p, f in seen if p == "EXECUTING"]
    assert any(0 < f < 1 for f in fractions), seen
    assert fractions == sorted(fractions)


def test_an_app_error_becomes_a_clear_message(running, people):
    alice = people["alice"]
    run = running.runs.submit(alice, "countdown", {"steps": 4, "delay": 0, "fail": True})
    done = running.runs.wait(alice, run["id"], timeout=60)
    assert done["phase"] == "ERROR"
    assert done["message"] == "ValueError: asked to fail at step 3"
    log = running.runs.log(alice, run["id"])
    assert any("Traceback" in line["message"] for line in log)  # the details are in the log
    # the output folder exists with params and provenance
    names = {e.name for e in running.workspace.listdir(alice, done["output"])}
    assert {"params.json", "provenance.json"} <= names


def test_stop_a_long_run(running, people):
    alice = people["alice"]
    run = running.runs.submit(alice, "countdown", {"steps": 1000, "delay": 0.05})
    wait_for(lambda: running.runs.get(alice, run["id"])["progress"] > 0)
    running.runs.stop(alice, run["id"])
    done = running.runs.wait(alice, run["id"], timeout=30)
    assert done["phase"] == "ABORTED"
    assert 0 < done["progress"] < 1
    with pytest.raises(Conflict):
        running.runs.stop(alice, run["id"])


def test_stop_kills_a_run_that_ignores_it(running, people, monkeypatch):
    from explore.platform import executors

    monkeypatch.setattr(executors, "STOP_GRACE", 0.5)
    alice = people["alice"]
    run = running.runs.submit(alice, "stubborn", {"seconds": 120})
    wait_for(lambda: running.runs.get(alice, run["id"])["phase"] == "EXECUTING"
             and running.runs.get(alice, run["id"])["output"])
    t0 = time.monotonic()
    running.runs.stop(alice, run["id"])
    done = running.runs.wait(alice, run["id"], timeout=30)
    assert done["phase"] == "ABORTED"
    assert time.monotonic() - t0 < 10


def test_limit_on_runs_at_once_and_stop_while_queued(running, people):
    alice = people["alice"]
    ids = [running.runs.submit(alice, "countdown", {"steps": 200, "delay": 0.05})["id"] for _ in range(3)]
    wait_for(lambda: sum(running.runs.get(alice, i)["phase"] == "EXECUTING" for i in ids) == 2)
    time.sleep(0.5)
    phases = [running.runs.get(alice, i)["phase"] for i in ids]
    assert phases.count("EXECUTING") == 2 and phases.count("QUEUED") == 1  # max_runs = 2
    queued = ids[phases.index("QUEUED")]
    assert running.runs.stop(alice, queued)["phase"] == "ABORTED"
    for i in ids:
        if i != queued:
            running.runs.stop(alice, i)
    for i in ids:
        assert running.runs.wait(alice, i, timeout=30)["phase"] == "ABORTED"


def test_restart_marks_executing_runs_interrupted(settings, people, platform):
    from explore.platform.core import Platform

    alice = people["alice"]
    platform.start_scheduler()
    run = platform.runs.submit(alice, "countdown", {"steps": 1000, "delay": 0.05})
    wait_for(lambda: platform.runs.get(alice, run["id"])["progress"] > 0)
    # the server goes away without a clean shutdown of its runs...
    platform.scheduler._stop.set()
    platform.scheduler.executor.procs.clear()
    # ...and a new one starts
    again = Platform(settings)
    again.start_scheduler()
    try:
        state = again.runs.get(alice, run["id"])
        assert state["phase"] == "ERROR"
        assert "interrupted" in state["message"]
    finally:
        again.close()


def test_rerun_with_same_parameters(running, people):
    alice = people["alice"]
    first = running.runs.submit(alice, "countdown", {"steps": 3, "delay": 0, "mode": "product"})
    running.runs.wait(alice, first["id"], timeout=60)
    second = running.runs.rerun(alice, first["id"])
    assert second["params"] == first["params"] and second["rerun_of"] == first["id"]
    done = running.runs.wait(alice, second["id"], timeout=60)
    assert running.workspace.read_bytes(alice, f"{done['output']}/result.txt") == b"6\n"
    assert done["output"] != running.runs.get(alice, first["id"])["output"]


def test_runs_are_private(running, people):
    run = running.runs.submit(people["alice"], "countdown", {"steps": 1, "delay": 0})
    with pytest.raises(NotFound):
        running.runs.get(people["bob"], run["id"])
    assert running.runs.get(people["root"], run["id"])["owner"] == "alice"
    assert running.runs.list(people["bob"]) == []


def test_input_without_read_right_fails_cleanly(running, people):
    alice, bob = people["alice"], people["bob"]
    running.workspace.write_bytes(alice, "alice/secret.txt", b"x\n")
    run = running.runs.submit(bob, "countdown", {"steps": 1, "delay": 0, "input": "alice/secret.txt"})
    done = running.runs.wait(bob, run["id"], timeout=60)
    assert done["phase"] == "ERROR"
    assert "no such file or folder: alice/secret.txt" in done["message"]


@pytest.mark.slow
def test_dask_executor_on_a_local_cluster(settings, people, platform, database_url):
    from distributed import LocalCluster

    if not database_url.startswith("sqlite"):
        pytest.skip("the Dask executor is database-agnostic; tested once, on SQLite, to keep the suite short")

    from explore.platform.core import Platform

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        dask_settings = settings.model_copy(update={"executor": address})
        p = Platform(dask_settings)
        p.start_scheduler()
        try:
            alice = people["alice"]
            run = p.runs.submit(alice, "countdown", {"steps": 5, "delay": 0.01})
            done = p.runs.wait(alice, run["id"], timeout=120)
            assert done["phase"] == "COMPLETED", (done["message"], p.runs.log(alice, run["id"]))
            assert p.workspace.read_bytes(alice, f"{done['output']}/result.txt") == b"15\n"
            assert done["executor"] == "dask"
            long = p.runs.submit(alice, "countdown", {"steps": 1000, "delay": 0.05})
            wait_for(lambda: p.runs.get(alice, long["id"])["progress"] > 0, timeout=60)
            p.runs.stop(alice, long["id"])
            assert p.runs.wait(alice, long["id"], timeout=60)["phase"] == "ABORTED"
        finally:
            p.close()

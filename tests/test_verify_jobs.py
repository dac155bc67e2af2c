"""Verification in several processes (``verify(..., jobs=N)``, ``matident verify --jobs N``):
the same report, progress, errors and Ctrl-C as in one process, and no worker left behind."""
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import matident
from conftest import ROOT
from matident import cli
from matident.catalogue import catalogue, load
from matident.errors import UsageError

V = importlib.import_module("matident.verify")
WRONG = sorted((ROOT / "tests" / "fixtures" / "wrong").glob("*.yaml")) + \
    sorted((ROOT / "tests" / "fixtures" / "wrong-constructed").glob("*.yaml"))


def run(*args, **kwargs):
    proc = subprocess.run([sys.executable, "-m", "matident", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, **kwargs)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def forked(monkeypatch):
    """The pids of the processes verify forks during the test."""
    pids, fork = [], os.fork

    def recording():
        pid = fork()
        if pid:
            pids.append(pid)
        return pid
    monkeypatch.setattr(os, "fork", recording)
    return pids


def all_waited_for(pids):
    """True if there were workers and each has ended and been waited for (not one is running
    or a zombie).  Only these pids are asked: other tests' children are none of our business."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)


def test_the_catalogue_gives_the_same_json_with_one_and_two_processes():
    one, two = run("verify", "--json", "--jobs", "1", "--seed", "1"), run("verify", "--json", "--jobs", "2",
                                                                         "--seed", "1")
    assert one[0] == two[0] == 0
    assert one[1] == two[1] and json.loads(one[1])["passed"] == len(catalogue())
    assert one[2] == two[2]


def test_failures_and_inconclusive_records_are_reported_alike_by_any_number_of_processes():
    files = [str(p) for p in WRONG]
    outputs = {jobs: run("verify", "--json", "--jobs", str(jobs), *files) for jobs in (1, 2, 3)}
    assert outputs[1][0] == 1 and json.loads(outputs[1][1])["failed"] > 50
    assert json.loads(outputs[1][1])["inconclusive"] >= 1
    assert outputs[1] == outputs[2] == outputs[3]       # exit code, JSON, stderr: byte for byte


def test_the_api_gives_the_same_results_and_progress_in_any_number_of_processes(forked):
    records = list(load(WRONG)) + list(catalogue())[:60]
    seen = {}
    reports = {}
    for jobs in (1, 2, 4):
        calls = seen[jobs] = []
        reports[jobs] = matident.verify(records, seed=3, jobs=jobs,
                                        progress=lambda done, total, r: calls.append((done, total, r)))
    assert reports[1].to_json() == reports[2].to_json() == reports[4].to_json()
    assert seen[1] == seen[2] == seen[4]
    assert [done for done, _, _ in seen[2]] == list(range(1, len(records) + 1))
    assert len(forked) == 1 + 3 and all_waited_for(forked)


def test_a_short_list_is_checked_without_forking(monkeypatch):
    monkeypatch.setattr(V.os, "fork", lambda: pytest.fail("forked for a short list"))
    records = list(catalogue())[:2 * V.RECORDS_PER_PROCESS - 1]
    assert matident.verify(records, jobs=4).passed == len(records)


def _in_a_worker_only(monkeypatch, rid, action):
    """check_record doing ``action`` for record ``rid`` in a forked worker (never in this process)."""
    parent, check = os.getpid(), V.check_record

    def patched(record, **kwargs):
        if record.id == rid and os.getpid() != parent:
            action()
        return check(record, **kwargs)
    monkeypatch.setattr(V, "check_record", patched)


def test_an_exception_in_a_worker_is_raised_at_its_record_and_the_workers_are_ended(monkeypatch, forked):
    records = list(catalogue())[:40]
    target = records[17]                                # 17 % 2 == 1: the worker's record

    def fail():
        raise ValueError("a bug in check_record")
    _in_a_worker_only(monkeypatch, target.id, fail)
    done = []
    with pytest.raises(ValueError, match="a bug in check_record"):
        matident.verify(records, jobs=2, progress=lambda d, t, r: done.append(r.id))
    assert done == [r.id for r in records[:17]]         # as in one process: every record before it
    assert all_waited_for(forked)


def test_a_worker_that_dies_is_an_error_not_a_hang(monkeypatch, forked):
    records = list(catalogue())[:40]
    _in_a_worker_only(monkeypatch, records[21].id, lambda: os._exit(7))
    with pytest.raises(RuntimeError, match=r"a verification worker stopped without a result \(exit status 7\)"):
        matident.verify(records, jobs=2)
    assert all_waited_for(forked)


def test_an_interruption_in_this_process_ends_the_workers(forked):
    records = list(catalogue())[:60]

    def interrupt(done, total, result):
        if done == 9:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        matident.verify(records, jobs=3, progress=interrupt)
    assert len(forked) == 2 and all_waited_for(forked)


def _children(pid):
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc to see the workers")
def test_ctrl_c_during_a_parallel_run_prints_one_line_and_leaves_no_process():
    """Ctrl-C reaches the whole foreground process group: the workers ignore it, the parent
    ends them and says 'interrupted' (exit 130), as in one process."""
    proc = subprocess.Popen([sys.executable, "-m", "matident", "verify", "--jobs", "2", "--trials", "50"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _children(proc.pid):                  # the worker runs: verification has begun
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # 130 as in one process; in a few percent of runs here (also when only the parent is
    # signalled) the parent, having printed the line and ended its worker, ends by SIGINT
    # itself, which a shell reports as 130 too (not yet explained)
    assert proc.returncode in (130, -signal.SIGINT) and out == ""
    assert err == "matident: interrupted\n"
    with pytest.raises(ProcessLookupError):             # nothing of the group is left
        os.killpg(proc.pid, 0)


def test_jobs_must_be_a_sensible_number():
    with pytest.raises(UsageError, match="jobs must be a whole number from 1 to 64"):
        matident.verify([], jobs=0)
    for bad in ("0", "65", "two"):
        code, out, err = run("verify", "--jobs", bad)
        assert code == 2 and out == "" and "argument --jobs: expected" in err.splitlines()[-1]


def test_the_default_is_the_usable_cpus_at_most_four(monkeypatch):
    import sys
    import threading
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    for name in ("jax", "torch"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert cli.default_jobs() == 1
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert cli.default_jobs() == cli.DEFAULT_MAX_JOBS == 4


def test_the_default_is_one_process_beside_threads_of_the_callers(monkeypatch):
    """Called in-process by a program with threads (Python's, JAX's, PyTorch's), the command
    does not fork: a fork copies other threads' locks mid-step."""
    import sys
    import threading
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert cli.default_jobs() == 1
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "jax", sys)
    assert cli.default_jobs() == 1


def test_when_no_process_can_be_forked_this_one_checks_every_record(monkeypatch, forked):
    records = list(catalogue())[:60]
    expected = matident.verify(records, jobs=1).to_json()
    calls = []
    real = os.fork                      # the recording fork of the fixture: the first one works

    def second_fails():
        calls.append(1)
        if len(calls) > 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real()
    monkeypatch.setattr(os, "fork", second_fails)
    assert matident.verify(records, jobs=3).to_json() == expected
    assert len(calls) == 2 and len(forked) == 1 and all_waited_for(forked)

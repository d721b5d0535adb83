"""A job in a forked child: its files, its failures and its warnings reach the parent; its end is clean."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings

import pytest

from walkcircle._background import background
from walkcircle.errors import InputError, WalkcircleWarning


def test_the_job_runs_in_another_process_beside_this_one(tmp_path):
    with background(lambda: (tmp_path / "child.txt").write_text(str(os.getpid()))) as task:
        (tmp_path / "parent.txt").write_text(str(os.getpid()))
        task.join()
    child = int((tmp_path / "child.txt").read_text())
    assert child != os.getpid() and int((tmp_path / "parent.txt").read_text()) == os.getpid()


def test_without_fork_the_job_runs_here_at_join(tmp_path):
    with background(lambda: (tmp_path / "x.txt").write_text(str(os.getpid())), fork=False) as task:
        assert not (tmp_path / "x.txt").exists()
        task.join()
    assert int((tmp_path / "x.txt").read_text()) == os.getpid()


def _fail() -> None:
    msg = "communities.gpkg: field 'name' is empty; fill it"
    raise InputError(msg)


@pytest.mark.parametrize("fork", [True, False])
def test_a_failure_in_the_job_is_raised_here_as_itself(fork):
    with pytest.raises(InputError, match="field 'name' is empty"), background(_fail, fork=fork) as task:
        task.join()


def test_the_jobs_warnings_are_raised_here():
    def job() -> None:
        warnings.warn("3 rows without coordinates were dropped", WalkcircleWarning, stacklevel=1)

    with pytest.warns(WalkcircleWarning, match="3 rows without coordinates"), background(job) as task:
        task.join()


def test_the_child_never_runs_the_parents_cleanup(tmp_path):
    """The child leaves with os._exit: a `finally` around the block runs once, in the parent."""
    log = tmp_path / "cleanup.log"
    try:
        with background(_fail) as task:
            task.join()
    except InputError:
        pass
    finally:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
    assert log.read_text().split() == [str(os.getpid())]


def test_leaving_early_kills_the_child(tmp_path):
    late = tmp_path / "late.txt"

    def slow() -> None:
        time.sleep(30)
        late.write_text("too late")

    pids = []
    try:
        with background(slow) as task:
            pids.append(task._pid)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left
        os.waitpid(pids[0], os.WNOHANG)
    time.sleep(0.2)
    assert not late.exists()


def test_the_jobs_result_comes_back():
    with background(lambda: {"pid": os.getpid(), "squares": [i * i for i in range(5)]}) as task:
        result = task.join()
    assert result["pid"] != os.getpid() and result["squares"] == [0, 1, 4, 9, 16]


def test_a_result_that_cannot_be_sent_back_is_one_clear_failure():
    with (
        pytest.raises(RuntimeError, match="cannot send the result back"),
        background(lambda: lambda: 1) as task,
    ):
        task.join()


def test_a_join_cut_short_closes_no_other_file(tmp_path):
    """An exception while join waits (a signal) leaves the pipe closed once: a file opened later
    under the same descriptor number stays open when the block is left."""

    class AlarmError(Exception):
        pass

    def ring(_signum, _frame):
        raise AlarmError

    previous = signal.signal(signal.SIGALRM, ring)
    opened: list[int] = []
    try:
        with background(lambda: time.sleep(30)) as task:
            pipe_fd = task._read_fd
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(AlarmError):
                task.join()
            while len(opened) < 64 and pipe_fd not in opened:  # the lowest free number comes first
                opened.append(os.open(tmp_path / f"f{len(opened)}", os.O_CREAT | os.O_RDWR))
            assert pipe_fd in opened
        for fd in opened:
            os.fstat(fd)  # raises if leaving the block closed it
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for fd in opened:
            with contextlib.suppress(OSError):
                os.close(fd)

"""One job in a forked process while this process goes on (the report beside the tables and map).

Writing a study's outputs is single-threaded Python (GeoPackage, CSV, the map, the report, the
PDF), and so is most of contouring the service areas, so on two cores a forked copy of the
process takes a share: the report while the tables and the map are written, service areas
while the homes and the access are computed (`walkcircle.service_areas.AreaDrawing`, where the
two processes take categories from one list). The child sees the results without copying them
(copy on write), sends back the warnings it raised and its result or failure, and leaves with
``os._exit``: it never runs this process's cleanup (the partial folder, the lock). `join` waits
for it, re-emits its warnings and returns its result or re-raises its failure here, so errors
read as before. Leaving the ``with`` block early (an error, Ctrl-C, SIGTERM) kills the child
first.

Where ``fork`` is missing or unsafe (Windows, macOS) the job simply runs in `join`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Background", "Captured", "Claims", "background", "can_fork", "captured"]

_CAN_FORK = hasattr(os, "fork") and sys.platform.startswith("linux")


def can_fork() -> bool:
    """Return whether jobs run in a forked child here (Linux), not in `Background.join`.

    Returns
    -------
    bool
        True on Linux.
    """
    return _CAN_FORK


class Background:
    """A job started in a forked child; `join` waits for it and raises its failure here.

    Parameters
    ----------
    job
        What the child does (writes files; its return value is ignored).
    fork
        Run it in a forked child where fork is safe (Linux); False, or elsewhere, runs it in `join`.
    """

    def __init__(self, job: Callable[[], Any], fork: bool = True) -> None:
        self._job: Callable[[], Any] | None = job
        self._pid: int | None = None
        self._read_fd: int | None = None
        if fork and _CAN_FORK:
            self._start()

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run the job, report, and leave without any cleanup of the parent
            os.close(read_fd)
            _child(self._job, write_fd)  # never returns
        os.close(write_fd)
        self._pid, self._read_fd, self._job = pid, read_fd, None

    def join(self) -> Any:
        """Wait for the job; re-emit its warnings, raise its failure here or return its result.

        Returns
        -------
        object
            What the job returned (sent back pickled when it ran in the child).
        """
        if self._job is not None:  # not forked: run it here
            job, self._job = self._job, None
            return job()
        if self._pid is None:
            return None
        read_fd, self._read_fd = self._read_fd, None  # the file below owns it: closed once, whatever happens
        with os.fdopen(read_fd, "rb") as pipe:  # type: ignore[arg-type]
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if not payload:
            msg = f"the background job died without a word (exit status {status})"
            raise RuntimeError(msg)
        return pickle.loads(payload).replay()  # our own child's bytes: a Captured

    def kill(self) -> None:
        """Stop a child still running (nothing happens if it finished or never started)."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None


def _child(job: Callable[[], Any] | None, write_fd: int) -> None:
    code = 0
    failure: BaseException | None = None
    result = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            if job is not None:
                result = job()
        except BaseException as exc:  # every failure goes back to the parent
            failure, code = exc, 1
    records = _records(caught)
    try:
        payload = pickle.dumps(Captured(result, failure, records))
    except Exception as exc:  # a failure or result that does not pickle: its words
        words = (
            f"{type(failure).__name__}: {failure}"
            if failure is not None
            else f"cannot send the result back: {exc}"
        )
        payload, code = pickle.dumps(Captured(None, RuntimeError(words), records)), 1
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)


@contextmanager
def background(job: Callable[[], Any], fork: bool = True) -> Iterator[Background]:
    """Start `job` in a forked child for the ``with`` block; leaving it early kills the child.

    Parameters
    ----------
    job
        What the child does.
    fork
        False (or a system without a safe fork) runs the job in `Background.join` instead.

    Yields
    ------
    Background
        Call its `join` where the job's result is needed.

    Examples
    --------
    >>> from pathlib import Path
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with background(lambda: (folder / "a.txt").write_text("from the child")) as task:
    ...     _ = (folder / "b.txt").write_text("from the parent")
    ...     task.join()  # what the job returned: the characters it wrote
    14
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    task = Background(job, fork=fork)
    try:
        yield task
    finally:
        task.kill()


@dataclass
class Captured:
    """What a call returned or raised, and the warnings it gave, to be replayed later.

    A job in a forked child that does several things (`walkcircle.study.Study.read_inputs`
    reads the facilities and the buildings) sends each one back this way, so that each
    thing's warnings and failure surface where the parent uses it, not when it joins.
    """

    value: Any = None
    failure: BaseException | None = None
    warnings: list[tuple[str, type[Warning], str, int]] = field(default_factory=list)

    def replay(self) -> Any:
        """Re-emit the warnings, then raise the failure or return the value.

        Returns
        -------
        object
            What the call returned.
        """
        for message, category, filename, lineno in self.warnings:
            warnings.warn_explicit(message, category, filename, lineno)
        if self.failure is not None:
            raise self.failure
        return self.value


def captured(call: Callable[[], Any]) -> Captured:
    """Run `call`, keeping what it returns or raises (an `Exception`) and the warnings it gives.

    Parameters
    ----------
    call
        What to run.

    Returns
    -------
    Captured
        Its value or failure and its warnings.

    Examples
    --------
    >>> import warnings
    >>> def read():
    ...     warnings.warn("3 rows dropped")
    ...     return 42
    >>> got = captured(read)  # nothing is shown yet
    >>> with warnings.catch_warnings(record=True) as shown:
    ...     warnings.simplefilter("always")
    ...     got.replay()
    42
    >>> [str(w.message) for w in shown]
    ['3 rows dropped']
    """
    out = Captured()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            out.value = call()
        except Exception as exc:  # kept, and raised again by replay
            out.failure = exc
    out.warnings = _records(caught)
    return out


def _records(caught: list[warnings.WarningMessage]) -> list[tuple[str, type[Warning], str, int]]:
    """Warnings caught, as picklable (message, category, file, line) to re-emit elsewhere."""
    return [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


class Claims:
    """Which items of a list are taken, shared by a process and its forked child.

    One byte per item in an unlinked temporary file, changed under a POSIX record lock
    (``lockf``): such a lock belongs to a process, so parent and child exclude each other, and
    the system drops it if its holder dies (a killed child never leaves the parent waiting).
    Without fork there is no child, and a plain list does. Service areas share categories this
    way (`walkcircle.service_areas.AreaDrawing`), and `walkcircle.pipeline.write_study` its
    output files.

    Parameters
    ----------
    n
        How many items.
    """

    def __init__(self, n: int) -> None:
        self._taken = bytearray(n)
        self._fd: int | None = None
        if can_fork() and n > 0:
            self._fd, name = tempfile.mkstemp(prefix="walkcircle-claims-")
            Path(name).unlink()  # the open descriptor keeps it until closed
            os.pwrite(self._fd, bytes(n), 0)

    def take(self, order: Sequence[int]) -> int | None:
        """Mark the first item of `order` that nobody took as taken and return it (None: all are).

        Parameters
        ----------
        order
            Item numbers, in the order this process wants them.

        Returns
        -------
        int or None
            The item taken.
        """
        if self._fd is None:
            return _first_free(self._taken, order)
        import fcntl  # POSIX only, as fork is

        fd = self._fd
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            taken = bytearray(os.pread(fd, len(self._taken), 0))
            g = _first_free(taken, order)
            if g is not None:
                os.pwrite(fd, b"\x01", g)
            return g
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Free the file (every item then counts as taken)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._taken[:] = b"\x01" * len(self._taken)


def _first_free(taken: bytearray, order: Sequence[int]) -> int | None:
    for g in order:
        if not taken[g]:
            taken[g] = 1
            return g
    return None

"""Ctrl-C and SIGTERM: raised as exceptions, remembered once they arrived.

A signal that arrives while a native module initialises (a lazy import of a C extension) comes
back from the import as another exception, e.g. ``ImportError: initialization failed``.
`SIGNALLED` keeps the signals that arrived, so the command line still reports them as signals
(exit 130 or 143) and not as an internal error. A signal that lands where Python ignores
exceptions (an import lock's weakref callback, a ``__del__``) is sent again a moment later,
unless a signal's exception has reached the program meanwhile (`_RAISED`): the cleanup that
exception started is then not cut short by the copy.
"""

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

__all__ = ["SIGNALLED", "Terminated", "ignore_signals", "install_signals", "interruptible", "leave"]

SIGNALLED: list[type[BaseException]] = []  # the signals that arrived, as the exceptions they raise
_RAISED = [False]  # a signal's exception reached the program (not lost in a callback): it is leaving


class Terminated(BaseException):
    """SIGTERM arrived: clean up like Ctrl-C."""


def _terminate(_signum: int, _frame: Any) -> None:
    SIGNALLED.append(Terminated)
    _RAISED[0] = True
    raise Terminated


def _interrupt(_signum: int, _frame: Any) -> None:
    SIGNALLED.append(KeyboardInterrupt)
    _RAISED[0] = True
    raise KeyboardInterrupt


def _send_again(signum: int) -> None:
    """Send the signal whose exception was lost, unless the program is leaving by another way.

    (`interruptible`'s check raises for the same Ctrl-C: a second exception would cut its cleanup short.)
    """
    if not _RAISED[0]:
        os.kill(os.getpid(), signum)


def _deliver_again(unraisable: Any) -> None:
    """Send a signal again that landed where Python ignores exceptions; pass anything else on.

    A signal raised in a weakref callback (an import lock's) or a ``__del__`` would be printed as
    "Exception ignored" and lost.
    """
    kind = unraisable.exc_type
    if kind is Terminated or kind is KeyboardInterrupt:
        signum = signal.SIGTERM if kind is Terminated else signal.SIGINT
        _RAISED[0] = False  # that exception never reached the program
        timer = threading.Timer(0.01, _send_again, (signum,))
        timer.daemon = True
        timer.start()
        return
    sys.__unraisablehook__(unraisable)


def install_signals() -> None:
    """Raise `Terminated` on SIGTERM and `KeyboardInterrupt` on SIGINT, and remember each in `SIGNALLED`.

    A signal that lands in a callback whose exceptions Python ignores is delivered again.
    """
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _interrupt)
    sys.unraisablehook = _deliver_again


def ignore_signals() -> None:
    """Ignore SIGINT and SIGTERM from now on: the process is leaving because one arrived.

    A signal that landed in a callback is sent again a moment later (`install_signals`); if
    that copy arrived after the first was handled, it would end the process by the signal
    instead of the exit status 130 or 143 the command line promises.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def leave(code: int) -> NoReturn:
    """End the process after a signal with exit status `code`, whatever Python remembers of Ctrl-C.

    Run as ``python -m``, Python ends in SIGINT itself (exit status -2) when a KeyboardInterrupt
    ever ended code run through ``PyRun_String`` and friends, even after the program chose its
    status: it keeps one flag for the whole process. So the status is set here, with
    ``os._exit``, once the exit handlers (``atexit``: a compile helper stopped, temporary
    folders removed) have run and the output is flushed.

    Parameters
    ----------
    code
        Exit status (130 after Ctrl-C, 143 after SIGTERM, or the command's own).
    """
    ignore_signals()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


@contextmanager
def interruptible() -> Iterator[Callable[[], None]]:
    """Make Ctrl-C reliable inside native callbacks that swallow it: the handler also sets a flag that the check raises."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    pressed = {"flag": False}

    def handler(signum: int, frame: Any) -> None:
        pressed["flag"] = True
        _interrupt(signum, frame)

    def check() -> None:
        if pressed["flag"]:
            _RAISED[0] = True
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)

"""The ``walkcircle`` command: thin adapters over `walkcircle.settings` and `walkcircle.Study`.

Exit codes: 0 ok, 1 data (bad input, refused download, full disk), 2 usage (unknown option or
profile, bad value, conflicting flags, an existing output without --overwrite), 130 Ctrl-C,
143 SIGTERM; errors are one line. Commands load in `main`, so Ctrl-C while starting is handled.
"""

import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line."""
    from walkcircle._signals import SIGNALLED, Terminated, ignore_signals, install_signals, leave

    install_signals()
    try:
        from walkcircle.cli.commands import app

        app()
    except SystemExit as done:
        if SIGNALLED and (done.code is None or isinstance(done.code, int)):
            leave(done.code or 0)  # the status the command chose, not death by the signal
        raise
    except BaseException:  # a signal before a command took over (while starting up), maybe wrapped
        if not SIGNALLED:
            raise
        terminated = SIGNALLED[-1] is Terminated
        ignore_signals()
        sys.stderr.write("terminated\n" if terminated else "interrupted\n")
        leave(143 if terminated else 130)


def __getattr__(name: str) -> Any:
    if name == "app":
        from walkcircle.cli.commands import app

        return app
    raise AttributeError(name)

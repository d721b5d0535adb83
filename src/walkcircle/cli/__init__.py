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
    try:
        from walkcircle.cli._common import install_signals
        from walkcircle.cli.commands import app

        install_signals()
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command took over (while starting up)
        sys.stderr.write("interrupted\n")
        sys.exit(130)


def __getattr__(name: str) -> Any:
    if name == "app":
        from walkcircle.cli.commands import app

        return app
    raise AttributeError(name)

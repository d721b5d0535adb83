"""The ``walkcircle`` command (Typer): thin adapters over `walkcircle.settings` and `walkcircle.Study`.

Exit codes: 0 ok, 1 a failure walkcircle can explain (bad data, a refused download, a full
disk), 2 a usage error (unknown option or profile, a bad flag value, conflicting flags, an
output that exists without --overwrite), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Errors are one line on stderr. Importing this package is cheap: the commands load in `main`,
so that Ctrl-C while starting up is handled like any other.
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

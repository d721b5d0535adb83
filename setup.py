"""Build hook: compile walkcircle's numba kernels ahead of time, into the package.

Everything else about the build is in pyproject.toml. After setuptools' ``build_py`` (which
also runs for ``pip install -e .``), `compile_kernels_into` runs
`walkcircle._numba_cache.build_kernels` on the package being built, in the build's Python (numba
is a build requirement), which compiles the kernels into ``walkcircle/_compiled``. If that fails
or times out, the install goes on (``pip install -v`` shows why) and the kernels compile on
first use, as they would without this step. ``WALKCIRCLE_BUILD_KERNELS=0`` skips the step, e.g.
for a wheel meant for other machines (compiled kernels suit only this CPU, numba and numpy).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SRC = Path(__file__).resolve().parent / "src"
COMPILE_TIMEOUT_S = 900


def compile_kernels_into(root: Path, timeout_s: float = COMPILE_TIMEOUT_S) -> str | None:
    """Compile the kernels of ``root/walkcircle`` into its ``_compiled`` folder.

    Parameters
    ----------
    root
        The folder that holds the ``walkcircle`` package being built.
    timeout_s
        Longest time the step may take, seconds.

    Returns
    -------
    str or None
        None when compiled, else why not (one line).
    """
    # walkcircle from the package being built, put first after site setup: pip's isolated
    # build environment rebuilds the path (and finds numba) through its own PYTHONPATH
    code = (
        f"import sys; sys.path.insert(0, {str(root)!r}); from walkcircle._numba_cache import build_kernels;"
        f" build_kernels({str(root / 'walkcircle')!r}, timeout_s={timeout_s!r})"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=timeout_s + 60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["no message"])[-1]
    return None


class BuildWithKernels(build_py):
    """setuptools' ``build_py``, then the kernels compiled into the package being built."""

    def run(self) -> None:
        """Build the package, then compile its kernels (in place for an editable install)."""
        super().run()
        if os.environ.get("WALKCIRCLE_BUILD_KERNELS", "1") == "0":
            return
        root = SRC if getattr(self, "editable_mode", False) else Path(self.build_lib).resolve()
        failed = compile_kernels_into(root)
        if failed:
            print(f"walkcircle: kernels not compiled ahead of time ({failed}); they compile on first use",
                  file=sys.stderr)  # fmt: skip


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import it
    setup(cmdclass={"build_py": BuildWithKernels})

"""Build hook: compile walkcircle's numba kernels ahead of time, into the package.

Everything else about the build is in pyproject.toml. After setuptools' ``build_py`` (which
also runs for ``pip install -e .``), this runs `walkcircle._numba_cache.build_kernels` on the
package being built, in the build's Python, which compiles the kernels into ``walkcircle/_compiled`` (see
`walkcircle._numba_cache.build_kernels`). If that fails the install goes on and says so: the
kernels then compile on first use, as they would without this step.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SRC = Path(__file__).resolve().parent / "src"


class BuildWithKernels(build_py):
    """setuptools' ``build_py``, then the kernels compiled into the package being built."""

    def run(self) -> None:
        """Build the package, then compile its kernels (in place for an editable install)."""
        super().run()
        root = SRC if getattr(self, "editable_mode", False) else Path(self.build_lib).resolve()
        # walkcircle from the package being built, put first after site setup: pip's isolated
        # build environment rebuilds the path (and finds numba) through its own PYTHONPATH
        code = (
            f"import sys; sys.path.insert(0, {str(root)!r}); from walkcircle._numba_cache import build_kernels;"
            f" build_kernels({str(root / 'walkcircle')!r})"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"walkcircle: kernels not compiled ahead of time ({last}); they compile on first use",
                  file=sys.stderr)  # fmt: skip


setup(cmdclass={"build_py": BuildWithKernels})

"""The promises the repository makes to a new user: README commands and CI agree."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_starts_with_setup_and_test_commands():
    setup, tests = _readme_commands()[:2]
    assert "pip install" in setup and "walkcircle" in setup
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _readme_commands()[:2]
    ci = (REPO / ".ci" / "run").read_text()
    assert tests in ci.splitlines()


def test_processed_outputs_are_ignored():
    ignore = (REPO / ".gitignore").read_text()
    assert "data/processed/*" in ignore and "data/raw/*" in ignore

"""The command line's progress steps in the study language: every step the code reports has Chinese."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from walkcircle.i18n import PROPER_NAMES, translate_progress

SRC = Path(__file__).resolve().parents[1] / "src" / "walkcircle"
CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
REPORTERS = {"progress", "step"}  # Study(progress=...), pipeline's progress, the command line's step
SAMPLES = {"what": ["map", "report"], "status": ["ok", "skipped", "failed"]}  # values an f-string takes


def _texts(node: ast.expr) -> list[str]:
    """The messages an argument can be: a string, either branch of a conditional, an f-string filled in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _texts(node.body) + _texts(node.orelse)
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                texts = [t + str(part.value) for t in texts]
            else:
                values = SAMPLES.get(ast.unparse(part.value), ["7"])  # numbers and names alike
                texts = [t + v for t in texts for v in values]
        return texts
    return []


def reported_messages() -> set[str]:
    """Every progress message in the package's code, as a user would see it in English."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if name in REPORTERS:
                    found.update(_texts(node.args[0]))
            # the output jobs: ("drawing the map", job) pairs put on a list
            if isinstance(node, ast.Tuple) and len(node.elts) == 2 and path.name == "pipeline.py":
                first = node.elts[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and " " in first.value:
                    found.add(first.value)
    return found


def english_words(text: str) -> list[str]:
    return [
        w for w in WORD.findall(text) if w not in PROPER_NAMES and w not in {"Overpass", "GeoPackage", "Dask"}
    ]


def test_every_reported_step_has_chinese():
    messages = reported_messages()
    assert len(messages) >= 25, sorted(messages)  # the scan finds the steps (not vacuous)
    assert {"placing homes", "drawing the map", "writing the map", "reading 7"} <= messages
    untranslated = {}
    for message in messages:
        zh = translate_progress(message, "zh")
        assert translate_progress(message, "en") == message
        if not CJK.search(zh) or english_words(zh):
            untranslated[message] = zh
    assert not untranslated


def test_names_stay_as_they_are():
    assert translate_progress("reading 鹤壁 extract.osm.pbf", "zh") == "读取 鹤壁 extract.osm.pbf"
    assert translate_progress("淇滨区: failed", "zh") == "淇滨区：失败"
    assert translate_progress("something new", "zh") == "something new"  # never lost


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_lines_steps_are_in_the_study_language(cau_osm, tmp_path, lang):
    done = subprocess.run(
        [sys.executable, "-m", "walkcircle.cli", "score", "--osm", str(cau_osm), "--lang", lang, "--verbose",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = re.findall(r"(?:完成|done) (.+?)(?:，用时 | in )[\d.]+ (?:秒|s)", done.stderr)
    assert len(steps) >= 6, done.stderr
    for step in steps:
        text = step.replace(cau_osm.name, " ")
        if lang == "zh":
            assert CJK.search(text) and not english_words(text), step
        else:
            assert not CJK.search(text), step

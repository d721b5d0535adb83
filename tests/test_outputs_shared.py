"""A study's files written by two processes: each file once, the same files as one process writes, failures raised here."""

from __future__ import annotations

import warnings

import pytest

import walkcircle._background as background
from walkcircle import Study
from walkcircle.errors import WalkcircleWarning
from walkcircle.pipeline import write_study

JOB_MESSAGES = ("drawing the map", "writing the GeoPackage", "writing tables", "writing the workbook")


def _write(cau_osm, folder, fork: bool, monkeypatch) -> list[str]:
    messages: list[str] = []
    with monkeypatch.context() as patch:
        patch.setattr(background, "_CAN_FORK", fork and background.can_fork())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WalkcircleWarning)
            study = Study(osm=cau_osm, profile="hebi-2021", progress=messages.append)
            write_study(study, folder, progress=messages.append)
    return messages


def test_two_processes_write_the_files_one_process_writes(tmp_path, cau_osm, monkeypatch):
    shared = _write(cau_osm, tmp_path / "two", True, monkeypatch)
    alone = _write(cau_osm, tmp_path / "one", False, monkeypatch)
    names = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert {"map.html", "study.gpkg", "homes.csv", "study.xlsx", "report.html", "report.pdf"} <= set(names)
    for name in names:
        if name.endswith(".csv"):
            assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    # each file written once, by one process or the other; the wait for the report comes last
    for messages in (shared, alone):
        assert all(messages.count(m) <= 1 for m in JOB_MESSAGES)
        assert messages[-1] == "writing the report"
    assert set(JOB_MESSAGES) <= set(alone)  # one process: this one writes them all, then the report


@pytest.mark.parametrize("fork", [True, False])
@pytest.mark.parametrize("blocked", ["report.html", "study.xlsx", "map.html"])
def test_a_file_that_cannot_be_written_fails_the_run_here(tmp_path, cau_osm, monkeypatch, fork, blocked):
    """The report is always the helper's job; the others go to whichever process is free."""
    folder = tmp_path / "out"
    (folder / blocked / "inside").mkdir(parents=True)  # a folder where the file should go
    with pytest.raises(OSError, match=blocked):
        _write(cau_osm, folder, fork, monkeypatch)

"""Every subcommand: --help, --quiet, --json and an unknown profile, with the same options and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from walkcircle.cli import app

runner = CliRunner()
COMMANDS = sorted((c.name or c.callback.__name__).replace("_command", "") for c in app.registered_commands)
COMMANDS += sorted(
    f"{g.name} {(c.name or c.callback.__name__)}"
    for g in app.registered_groups
    for c in g.typer_instance.registered_commands
)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_shared_options(command):
    res = runner.invoke(app, [*command.split(), "--help"])
    assert res.exit_code == 0, res.output
    for flag in ("--quiet", "--verbose", "--json"):
        assert flag in res.output, (command, flag)
    assert "<bool>" not in res.output and "list[" not in res.output


def _work(command, tmp_path, osm):
    """Arguments that make each command do a small real job on a fixture."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    areas = tmp_path / "areas.toml"
    areas.write_text(f'[[area]]\nname = "cau"\nosm = "{osm}"\nhomes = "h3"\n', encoding="utf-8")
    study = ["--osm", str(osm), "--homes", "h3"]
    return {
        "network": ["--osm", str(osm), "--out", str(tmp_path / "n")],
        "facilities": ["--osm", str(osm), "--out", str(tmp_path / "f")],
        "isochrones": ["--osm", str(osm), "--at", "116.352,40.003", "--minutes", "5"],
        "score": [*study, "--out", str(tmp_path / "s")],
        "suggest": [*study, "--category", "elderly_care", "--count", "1", "--out", str(tmp_path / "g")],
        "map": [*study, "--out", str(tmp_path / "m.html")],
        "report": [*study, "--out", str(tmp_path / "r.html")],
        "init": [str(tmp_path / "w.toml")],
        "run": [*study, "--out", str(tmp_path / "o")],
        "batch": [str(areas), "--out", str(tmp_path / "b"), "--workers", "1"],
        "compare": [str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "cmp")],
    }


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if " " not in c])
def test_quiet_json_and_unknown_profile(command, tmp_path, cau_osm):
    if command == "compare":  # two finished studies of one area
        for sub in ("quiet", "json", "bad"):
            for name in ("s1", "s2"):
                args = [
                    "score",
                    "--osm",
                    str(cau_osm),
                    "--homes",
                    "h3",
                    "--out",
                    str(tmp_path / sub / name),
                    "-q",
                ]
                assert runner.invoke(app, args).exit_code == 0
    args = _work(command, tmp_path / "quiet", cau_osm)[command]
    res = runner.invoke(app, [command, *args, "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.strip().splitlines()) <= 1, res.stdout  # at most the line naming what was written
    args = _work(command, tmp_path / "json", cau_osm)[command]
    res = runner.invoke(app, [command, *args, "--json"])
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)  # nothing but JSON on stdout
    assert "NaN" not in res.stdout and "Infinity" not in res.stdout
    # an unknown profile is a usage error everywhere (commands without --profile refuse the option)
    args = _work(command, tmp_path / "bad", cau_osm)[command]
    if command == "batch":
        (tmp_path / "bad" / "areas.toml").write_text(
            f'[[area]]\nname = "cau"\nosm = "{cau_osm}"\nprofile = "gb-50180"\n', encoding="utf-8"
        )
        res = runner.invoke(app, [command, *args])
    else:
        res = runner.invoke(app, [command, *args, "--profile", "gb-50180"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_overwrite_rule_is_the_same_for_every_folder(tmp_path, cau_osm):
    for command in ("network", "facilities", "score"):
        out = tmp_path / command
        args = [command, *_work(command, tmp_path, cau_osm)[command][:2], "--out", str(out), "-q"]
        assert runner.invoke(app, args).exit_code == 0
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and "exists; pass --overwrite" in res.output, (command, res.output)
        assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0

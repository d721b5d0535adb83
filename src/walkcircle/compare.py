"""Compare two finished studies of the same area (e.g. 2021 and 2024 facility data).

`compare_studies` reads two output folders written by ``walkcircle run`` (`summary.json` and
`homes.parquet`), checks that they cover the same area (same network, same homes), matches the
homes by id (or by position) and gives the same before/after tables as a scenario
(`walkcircle.scenario.change_tables`), with the sides named ``a`` and ``b``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from walkcircle.defaults import COMPARE_LABELS
from walkcircle.errors import InputError
from walkcircle.scenario import ChangeTables, change_tables
from walkcircle.scoring import ScoringRules

__all__ = ["Comparison", "StudyOutputs", "compare_studies", "read_study"]

_SAME_POSITION_DEG = 1e-6
"""Homes of two studies at the same place differ by less than this (about 0.1 m)."""
_NETWORK_KEYS = ("nodes", "edges")


@dataclass
class StudyOutputs:
    """What `compare_studies` reads from a study's output folder."""

    folder: Path
    summary: dict[str, Any]
    homes: gpd.GeoDataFrame

    @property
    def categories(self) -> list[str]:
        """Categories scored (those with ``reached_<cat>`` columns), in summary order."""
        listed = list(self.summary.get("coverage", {}))
        return [c for c in listed if f"reached_{c}" in self.homes.columns]


def read_study(folder: str | os.PathLike[str]) -> StudyOutputs:
    """Read a finished study's summary and homes.

    Parameters
    ----------
    folder
        An output folder of ``walkcircle run`` (or `walkcircle.outputs.export.export_results`).

    Returns
    -------
    StudyOutputs
        Summary and homes (WGS-84).
    """
    folder = Path(folder)
    summary_path, homes_path = folder / "summary.json", folder / "homes.parquet"
    for path in (summary_path, homes_path):
        if not path.exists():
            msg = f"{folder}: not a finished study (no {path.name}); give an output folder of walkcircle run"
            raise InputError(msg)
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{summary_path}: unreadable ({exc.__class__.__name__}); run the study again"
        raise InputError(msg) from exc
    homes = gpd.read_parquet(homes_path)
    missing = [c for c in ("population",) if c not in homes.columns]
    if missing:
        msg = f"{homes_path}: lacks column(s) {', '.join(missing)}; run the study again with this walkcircle"
        raise InputError(msg)
    return StudyOutputs(folder, summary, homes)


def _position_key(homes: pd.DataFrame) -> np.ndarray:
    lon = np.round(homes["lon"].to_numpy(np.float64) / _SAME_POSITION_DEG).astype(np.int64)
    lat = np.round(homes["lat"].to_numpy(np.float64) / _SAME_POSITION_DEG).astype(np.int64)
    return np.array([f"{x}:{y}" for x, y in zip(lon, lat, strict=True)])


def _match_homes(a: StudyOutputs, b: StudyOutputs) -> np.ndarray | None:
    """Row of b for each row of a, or None when the home sets differ."""
    if len(a.homes) != len(b.homes):
        return None
    key_a, key_b = _position_key(a.homes), _position_key(b.homes)
    if "home_id" in a.homes.columns and "home_id" in b.homes.columns:
        ids_b = pd.Index(b.homes["home_id"].astype(str))
        if ids_b.is_unique:
            order = ids_b.get_indexer(a.homes["home_id"].astype(str))
            if (order >= 0).all() and (key_a == key_b[order]).all():
                return order
    index_b = pd.Index(key_b)
    if not index_b.is_unique:
        return None
    order = index_b.get_indexer(key_a)
    return order if (order >= 0).all() else None


def _same_network(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if not a or not b:
        return True  # older summaries without network facts: the homes decide
    same = all(a.get(k) == b.get(k) for k in _NETWORK_KEYS)
    la, lb = a.get("length_km"), b.get("length_km")
    if la is not None and lb is not None:
        same &= abs(float(la) - float(lb)) <= 1e-6 * max(abs(float(la)), 1.0)
    return same


@dataclass
class Comparison:
    """Two studies side by side.

    Attributes
    ----------
    a, b
        The studies read.
    tables
        `walkcircle.scenario.ChangeTables` over the categories both scored, sides ``a``/``b``.
    only_a, only_b
        Categories scored by one study only (e.g. two profiles): listed, not compared.
    """

    a: StudyOutputs
    b: StudyOutputs
    tables: ChangeTables
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)


def compare_studies(
    dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], rules: ScoringRules | None = None
) -> Comparison:
    """Compare two finished studies of the same area.

    Parameters
    ----------
    dir_a, dir_b
        Output folders of ``walkcircle run``.
    rules
        Scoring rules for the community tables (pass share); the default rules when None.

    Returns
    -------
    Comparison
        Per category and per community a and b side by side, and the homes whose coverage
        changed (a map layer).
    """
    a, b = read_study(dir_a), read_study(dir_b)
    net_a, net_b = a.summary.get("network", {}), b.summary.get("network", {})
    order = _match_homes(a, b) if _same_network(net_a, net_b) else None
    if order is None:
        msg = (
            f"{a.folder} and {b.folder} are studies of different areas (network {net_a.get('nodes')} vs "
            f"{net_b.get('nodes')} nodes, {len(a.homes)} vs {len(b.homes)} homes): compare two studies of the same area"
        )
        raise InputError(msg)
    cats_b = set(b.categories)
    shared = [c for c in a.categories if c in cats_b]
    homes_b = b.homes.iloc[order].reset_index(drop=True)
    homes_a = a.homes.reset_index(drop=True)
    tables = change_tables(
        homes_a,
        homes_a,
        homes_b,
        shared,
        a.summary.get("facilities", {}),
        b.summary.get("facilities", {}),
        rules=rules,
        labels=COMPARE_LABELS,
    )
    return Comparison(
        a,
        b,
        tables,
        [c for c in a.categories if c not in cats_b],
        [c for c in b.categories if c not in set(shared)],
    )


def comparison_files(comparison: Comparison) -> dict[str, Callable[[Path], object]]:
    """Return the files that hold a comparison, by name, each with the function that writes it.

    ``compare.csv`` (per category), ``compare_communities.csv``, ``compare.json`` (the summary and
    the categories scored by one study only) and ``compare.gpkg`` (homes whose coverage changed).

    Parameters
    ----------
    comparison
        `compare_studies` output.

    Returns
    -------
    dict
        File name -> writer taking the target path (for `walkcircle.pipeline.write_folder`).
    """
    from walkcircle.outputs.export import write_csv, write_geopackage, write_json

    t = comparison.tables
    payload = {"summary": t.summary, "only_a": comparison.only_a, "only_b": comparison.only_b,
               "a": str(comparison.a.folder), "b": str(comparison.b.folder)}  # fmt: skip
    files: dict[str, Callable[[Path], object]] = {
        "compare.csv": lambda p: write_csv(t.categories, p),
        "compare_communities.csv": lambda p: write_csv(t.communities, p),
        "compare.json": lambda p: write_json(payload, p),
    }
    if len(t.changes):
        files["compare.gpkg"] = lambda p: write_geopackage({"changes": t.changes}, p)
    return files

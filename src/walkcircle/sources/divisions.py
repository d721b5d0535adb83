"""Statistical division lists shipped with walkcircle (NBS 2023), and community templates from them.

A planner in Hebi has the names of the communities (社区) but rarely their locations or
boundaries. `city_communities_template` writes the communities of a city's urban districts as a
table with empty ``population``, ``lon`` and ``lat`` columns, to fill in by hand or to geocode,
and then to pass as the study's communities file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from walkcircle.errors import InputError


@dataclass(frozen=True)
class CityDivisions:
    """A city whose division list ships with walkcircle."""

    file: str
    """File name under ``walkcircle/data``."""
    urban_districts: tuple[str, ...]
    """Districts (``area_name``) of the central urban area, in order."""


CITIES: dict[str, CityDivisions] = {
    "hebi": CityDivisions(
        file="hebi_divisions_nbs2023.csv",
        urban_districts=("淇滨区", "山城区", "鹤山区", "鹤壁经济技术开发区"),
    ),
}
"""Cities with a shipped division list, by lower-case key."""

TEMPLATE_COLUMNS = ("code", "name", "sub-district", "district", "population", "lon", "lat")
"""Columns of a communities template, in order."""


def _city(city: str) -> CityDivisions:
    key = str(city).strip().lower()
    if key in ("鹤壁", "鹤壁市"):
        key = "hebi"
    if key not in CITIES:
        msg = f"no division list for city {city!r}; known: {', '.join(sorted(CITIES))}"
        raise InputError(msg)
    return CITIES[key]


def read_divisions(city: str = "hebi") -> pd.DataFrame:
    """Read the shipped division list of a city.

    Parameters
    ----------
    city
        ``"hebi"`` (or ``"鹤壁"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``kind`` (``community`` or ``village``), ``street_code``,
        ``street_name``, ``area_code``, ``area_name``, all strings.
    """
    spec = _city(city)
    with resources.files("walkcircle.data").joinpath(spec.file).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, comment="#", keep_default_na=False)


def city_communities_template(city: str = "hebi") -> pd.DataFrame:
    """Return the communities of a city's urban districts as a communities table to fill in.

    Only rows of kind ``community`` (社区居民委员会) are kept; villages are left out. For Hebi
    that is 178 communities: 淇滨区 69, 山城区 62, 鹤山区 30, 鹤壁经济技术开发区 17
    (NBS 2023).

    Parameters
    ----------
    city
        ``"hebi"`` (or ``"鹤壁"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``sub-district``, ``district`` (strings) and empty
        ``population``, ``lon``, ``lat`` (NaN), ordered by district as listed in `CITIES`,
        then by code. `walkcircle.sources.homes.read_communities` reads the filled table
        (name, population, district and lon/lat columns are found by these names).
    """
    spec = _city(city)
    table = read_divisions(city)
    rows = table[(table["kind"] == "community") & table["area_name"].isin(spec.urban_districts)].copy()
    order = {name: i for i, name in enumerate(spec.urban_districts)}
    rows["_order"] = rows["area_name"].map(order)
    rows = rows.sort_values(["_order", "code"], kind="stable")
    out = pd.DataFrame(
        {
            "code": rows["code"].to_numpy(),
            "name": rows["name"].to_numpy(),
            "sub-district": rows["street_name"].to_numpy(),
            "district": rows["area_name"].to_numpy(),
        }
    )
    for column in ("population", "lon", "lat"):
        out[column] = float("nan")
    return out[list(TEMPLATE_COLUMNS)]

"""A study: the whole job from sources to scores, for the CLI and for notebooks.

    >>> from walkcircle import Study
    >>> study = Study(osm="hebi.osm.pbf", profile="hebi-2021")           # doctest: +SKIP
    >>> study.add_facilities("amap_pois.csv", crs="gcj02")                # doctest: +SKIP
    >>> results = study.run()                                             # doctest: +SKIP
    >>> results.communities.head()                                        # doctest: +SKIP

Every step is computed once, when first needed, and kept; changing an input through the
methods below forgets what depends on it.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle.access import AccessResult, compute_access
from walkcircle.defaults import DEFAULT_PROFILE, DEFAULT_TIERS_MIN, HEBI_CENTRAL_PLACES
from walkcircle.errors import InputError, WalkcircleWarning
from walkcircle.network import Snapped, WalkNetwork
from walkcircle.profile import Profile, load_profile
from walkcircle.scoring import (
    ScoringRules,
    category_gaps,
    community_by_category,
    community_table,
    district_table,
    home_table,
    ledger_table,
    programme_summary,
)
from walkcircle.siting import Suggestion, suggest_sites
from walkcircle.sources.facilities import collect_facilities
from walkcircle.sources.homes import (
    Homes,
    assign_to_community_points,
    homes_for_communities,
    homes_from_h3,
    homes_from_osm,
    read_communities,
)
from walkcircle.sources.loads import FacilityLoad
from walkcircle.sources.tables import TableSpec

HOME_SOURCES = ("auto", "osm", "h3")
Progress = Callable[[str], None]


@dataclass
class StudyConfig:
    """Everything a study needs; the fields of ``walkcircle.toml``.

    Attributes
    ----------
    name
        Study name (output folder ``data/processed/<name>``).
    osm, place, bbox, demo
        The network source: an OSM file, a place name, a bbox (W,S,E,N), or the offline demo.
    overpass_url, timeout_s, cache_dir, include_private
        Download and walk-rule settings.
    facilities
        Facility tables (each with its declared coordinate system).
    osm_facilities
        Also take facilities from OSM.
    communities, communities_crs, community_name_col, population_col, district_col
        A communities file and how to read it.
    homes
        Where homes come from without polygons: ``auto`` (OSM residential buildings, else an
        H3 grid), ``osm`` or ``h3``.
    h3_resolution, grid_m, assign_m
        H3 resolution; grid spacing for residential areas/polygons; how far a home may be
        from the community point it is assigned to.
    profile, speed_kmh, tiers_min, snap_cap_m, dedupe_m, k
        Standard and routing settings.
    decay_factor, pass_share, gap_ratio
        Scoring rules.
    suggest, suggest_method
        Categories to suggest new sites for: ``{category: count}``.
    lang
        ``zh`` or ``en`` for labels.
    """

    name: str = "study"
    osm: Path | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    demo: bool = False
    overpass_url: str | None = None
    nominatim_url: str | None = None
    timeout_s: float = 180.0
    cache_dir: Path = Path("data/raw")
    include_private: bool = False
    facilities: list[TableSpec] = field(default_factory=list)
    osm_facilities: bool = True
    communities: Path | None = None
    communities_crs: str = "wgs84"
    community_name_col: str | None = None
    population_col: str | None = None
    district_col: str | None = None
    homes: str = "auto"
    h3_resolution: int = 10
    grid_m: float = 50.0
    assign_m: float = 1000.0
    profile: str = DEFAULT_PROFILE
    speed_kmh: float = 4.8
    tiers_min: tuple[float, ...] = DEFAULT_TIERS_MIN
    snap_cap_m: float = 300.0
    dedupe_m: float = 30.0
    k: int = 3
    decay_factor: float = 2.0
    pass_share: float = 0.8
    gap_ratio: float = 0.5
    suggest: dict[str, int] = field(default_factory=dict)
    suggest_method: str = "auto"
    lang: str = "en"

    def sources(self) -> dict[str, Any]:
        """Return the inputs, for reports and summary.json.

        Returns
        -------
        dict
            Network source, facility tables, communities.
        """
        return {
            "network": str(self.osm) if self.osm else self.place or (list(self.bbox) if self.bbox else None),
            "demo": self.demo,
            "osm_facilities": self.osm_facilities,
            "facility_tables": [{"path": str(t.path), "crs": t.crs} for t in self.facilities],
            "communities": str(self.communities) if self.communities else None,
        }


@dataclass
class StudyResults:
    """What a study produced (GeoDataFrames in WGS-84)."""

    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    homes: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | pd.DataFrame
    districts: pd.DataFrame
    community_by_category: pd.DataFrame
    programme: dict[str, Any]
    ledger: pd.DataFrame
    suggestions: list[Suggestion]
    access: AccessResult
    summary: dict[str, Any]


class Study:
    """A life-circle study: load, add facilities, run, read results.

    Parameters
    ----------
    config
        A `StudyConfig`; keyword arguments override its fields.
    progress
        Called with a short message at each step (the CLI shows them in a progress bar).
    **overrides
        Any `StudyConfig` field.
    """

    def __init__(
        self, config: StudyConfig | None = None, progress: Progress | None = None, **overrides: Any
    ) -> None:
        config = config or StudyConfig()
        names = {f.name for f in fields(StudyConfig)}
        unknown = set(overrides) - names
        if unknown:
            msg = f"unknown study setting(s): {', '.join(sorted(unknown))}"
            raise InputError(msg)
        for key in ("osm", "communities", "cache_dir"):
            if overrides.get(key) is not None:
                overrides[key] = Path(overrides[key])
        self.config = replace(config, **overrides)
        if self.config.homes not in HOME_SOURCES:
            msg = f"homes must be one of {', '.join(HOME_SOURCES)} (got {self.config.homes!r})"
            raise InputError(msg)
        if self.config.lang not in ("zh", "en"):
            msg = f"lang must be zh or en (got {self.config.lang!r})"
            raise InputError(msg)
        self.progress = progress or (lambda _message: None)
        self.warnings: list[str] = []
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ inputs
    @property
    def profile(self) -> Profile:
        """The profile (standard)."""
        if "profile" not in self._cache:
            self._cache["profile"] = load_profile(self.config.profile)
        return self._cache["profile"]

    @property
    def rules(self) -> ScoringRules:
        """The scoring rules."""
        c = self.config
        return ScoringRules(decay_factor=c.decay_factor, pass_share=c.pass_share, gap_ratio=c.gap_ratio)

    def _forget(self, *keys: str) -> None:
        for key in keys:
            self._cache.pop(key, None)

    def add_facilities(self, path: str | Path, crs: str, **options: Any) -> Study:
        """Add a facility table (see `walkcircle.sources.facilities.read_facility_table`).

        Parameters
        ----------
        path
            CSV, GeoJSON, GeoPackage or GeoParquet.
        crs
            ``wgs84``, ``gcj02`` or ``bd09``.
        **options
            ``lon_col``, ``lat_col``, ``category_col``, ``typecode_col``, ``name_col``,
            ``category``, ``layer``.

        Returns
        -------
        Study
            Itself, for chaining.
        """
        self.config.facilities.append(TableSpec(path=Path(path), crs=crs, **options))
        self._forget("facilities", "access", "scores", "suggestions")
        return self

    @property
    def osm_path(self) -> Path | None:
        """The OSM file the network (and OSM facilities/homes) come from, if any."""
        if self.config.demo:
            from walkcircle.sources.demo import demo_osm_path

            return demo_osm_path()
        return Path(self.config.osm) if self.config.osm else None

    # ------------------------------------------------------------------ steps
    def network(self) -> WalkNetwork:
        """Load (or download) the walking network.

        Returns
        -------
        WalkNetwork
            The network.
        """
        if "network" not in self._cache:
            from walkcircle.sources.osm import WalkRules, download_network, read_network

            c = self.config
            rules = WalkRules(include_private=c.include_private)
            given = [c.osm is not None, c.place is not None, c.bbox is not None, c.demo]
            if sum(given) > 1:
                msg = "give only one network source: osm, place, bbox or demo"
                raise InputError(msg)
            if self.osm_path is not None:
                self.progress(f"reading {self.osm_path.name}")
                self._cache["network"] = read_network(self.osm_path, rules)
            elif c.place is not None or c.bbox is not None:
                self.progress("downloading the network from Overpass")
                self._cache["network"] = download_network(
                    place=c.place, bbox=c.bbox, config=self._overpass_config(), rules=rules
                )
            else:
                self.progress("downloading the default study area (Hebi's central districts)")
                self._cache["network"] = download_network(
                    place=list(HEBI_CENTRAL_PLACES), config=self._overpass_config(), rules=rules
                )
        return self._cache["network"]

    def _overpass_config(self) -> Any:
        from walkcircle.sources.osm import OverpassConfig

        c = self.config
        return OverpassConfig(
            overpass_url=c.overpass_url or OverpassConfig.overpass_url,
            nominatim_url=c.nominatim_url or OverpassConfig.nominatim_url,
            timeout_s=c.timeout_s,
            cache_dir=c.cache_dir,
        )

    def area(self) -> shapely.Geometry:
        """Return the study area: the network's bounds.

        Returns
        -------
        shapely.Geometry
            Polygon in WGS-84.
        """
        net = self.network()
        return shapely.box(*net.bounds_lonlat())

    def facilities(self) -> FacilityLoad:
        """Load, classify, check and merge facilities.

        Returns
        -------
        FacilityLoad
            Facilities and reports.
        """
        if "facilities" not in self._cache:
            c = self.config
            net = self.network()
            self.progress("loading facilities")
            w, s, e, n = net.bounds_lonlat()
            osm_path = self.osm_path if c.osm_facilities else None
            overpass_area = None
            if c.osm_facilities and osm_path is None:
                overpass_area = shapely.box(w, s, e, n)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", WalkcircleWarning)
                load = collect_facilities(
                    self.profile,
                    osm_path=osm_path,
                    overpass_area=overpass_area,
                    overpass_config=self._overpass_config(),
                    tables=c.facilities,
                    area=(w - 0.01, s - 0.01, e + 0.01, n + 0.01),
                    dedupe_m=c.dedupe_m,
                )
            self._note(caught)
            self._cache["facilities"] = load
        return self._cache["facilities"]

    def homes(self) -> Homes:
        """Make the homes (origins), from communities, OSM or an H3 grid.

        Returns
        -------
        Homes
            Homes and communities.
        """
        if "homes" not in self._cache:
            c = self.config
            net = self.network()
            self.progress("placing homes")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", WalkcircleWarning)
                base = self._base_homes(net)
                if c.communities is not None:
                    communities, report = read_communities(
                        c.communities,
                        name_col=c.community_name_col,
                        population_col=c.population_col,
                        district_col=c.district_col,
                        crs=c.communities_crs,
                    )
                    polygons = communities.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
                    if polygons.all():
                        homes = homes_for_communities(communities, base.homes, c.grid_m, report)
                    elif not polygons.any():
                        homes = assign_to_community_points(base.homes, communities, c.assign_m, report)
                    else:
                        msg = f"{c.communities}: mixes points and polygons; use one kind per file"
                        raise InputError(msg)
                    if "district" in homes.communities.columns:
                        district = dict(
                            zip(homes.communities["community"], homes.communities["district"], strict=True)
                        )
                        homes.homes["district"] = homes.homes["community"].map(district).fillna("")
                else:
                    homes = base
            self._note(caught)
            if len(homes.homes) == 0:
                msg = "no homes to score: give --communities, or use the H3 grid (--homes h3)"
                raise InputError(msg)
            self._cache["homes"] = homes
        return self._cache["homes"]

    def _base_homes(self, net: WalkNetwork) -> Homes:
        c = self.config
        if c.homes in ("auto", "osm") and self.osm_path is not None:
            osm_homes = homes_from_osm(self.osm_path, grid_m=c.grid_m)
            if len(osm_homes.homes) or c.homes == "osm":
                return osm_homes
        elif c.homes == "osm":
            msg = "homes from OSM need an OSM file (--osm); downloads use the H3 grid (--homes h3)"
            raise InputError(msg)
        return homes_from_h3(net, c.h3_resolution)

    def home_snap(self) -> Snapped:
        """Snap the homes onto the network.

        Returns
        -------
        Snapped
            One row per home.
        """
        if "home_snap" not in self._cache:
            homes = self.homes().homes
            self._cache["home_snap"] = self.network().snap(
                homes["lon"].to_numpy(), homes["lat"].to_numpy(), self.config.snap_cap_m
            )
        return self._cache["home_snap"]

    def access(self) -> AccessResult:
        """Compute access for every profile category.

        Returns
        -------
        AccessResult
            The results.
        """
        if "access" not in self._cache:
            c = self.config
            profile = self.profile
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", WalkcircleWarning)
                self._cache["access"] = compute_access(
                    self.network(),
                    self.home_snap(),
                    self.facilities().facilities,
                    categories=profile.category_ids,
                    thresholds_m={cat.id: cat.distance_m(c.speed_kmh) for cat in profile.categories},
                    tiers_min=c.tiers_min,
                    speed_kmh=c.speed_kmh,
                    k=c.k,
                    snap_cap_m=c.snap_cap_m,
                    progress=self.progress,
                )
            self._note(caught)
        return self._cache["access"]

    def suggest(self, category: str, count: int, candidates: gpd.GeoDataFrame | None = None) -> Suggestion:
        """Suggest up to `count` new sites for a category.

        Parameters
        ----------
        category
            Category id.
        count
            How many sites.
        candidates
            Candidate points (``lon``/``lat``); the network's nodes when None.

        Returns
        -------
        Suggestion
            Sites with marginal gains, coverage before and after.
        """
        cat = self.profile.category(category)
        access = self.access()
        column = access.column(category)
        self.progress(f"choosing {count} sites for {category}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WalkcircleWarning)
            result = suggest_sites(
                self.network(),
                self.homes().homes,
                self.home_snap(),
                access.nearest_m[:, column],
                category,
                cat.distance_m(self.config.speed_kmh),
                count,
                candidates=candidates,
                method=self.config.suggest_method,
                snap_cap_m=self.config.snap_cap_m,
            )
        self._note(caught)
        return result

    def run(self) -> StudyResults:
        """Run every step and gather the results.

        Returns
        -------
        StudyResults
            Tables and GeoDataFrames.
        """
        c = self.config
        net = self.network()
        load = self.facilities()
        homes = self.homes()
        access = self.access()
        self.progress("scoring")
        categories = access.categories
        scores = home_table(access, self.profile, self.rules)
        homes_out = pd.concat([homes.homes.reset_index(drop=True), scores], axis=1)
        for col in scores.columns:
            if col.startswith("minutes_"):
                homes_out[col] = homes_out[col].replace(np.inf, np.nan)  # unreachable: NaN in files
        homes_gdf = gpd.GeoDataFrame(homes_out, geometry="geometry", crs="EPSG:4326")
        communities = community_table(homes.homes, scores, categories, self.rules)
        if homes.communities is not None and len(communities):
            geo = homes.communities[["community", "geometry", "n_homes"]].rename(
                columns={"n_homes": "n_homes_source"}
            )
            communities = gpd.GeoDataFrame(
                geo.merge(communities, on="community", how="left"), geometry="geometry", crs="EPSG:4326"
            )
        districts = district_table(homes.homes, scores, categories, self.rules)
        programme = programme_summary(communities, self.profile, categories)
        ledger = ledger_table(self.profile, load.facilities, self.area(), self.rules, c.lang)
        suggestions = [self.suggest(cat, count) for cat, count in c.suggest.items()]
        population = float(homes.homes["population"].sum())
        weights = homes.homes["population"].to_numpy(np.float64)
        weights = weights if weights.sum() > 0 else np.ones(len(weights))
        coverage = {cid: float(np.average(scores[f"reached_{cid}"], weights=weights)) for cid in categories}
        summary = {
            "study": c.name,
            "demo": c.demo,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "network": net.summary(),
            "facilities": {cid: int(load.counts().get(cid, 0)) for cid in categories},
            "homes": len(homes.homes),
            "population": population,
            "coverage": coverage,
            "score_mean": float(np.average(scores["score"], weights=weights)),
            "tiers": {
                col: float(np.average(scores[col], weights=weights))
                for col in scores.columns
                if col.startswith("tier_")
            },
            "profile": self.profile.id,
            "speed_kmh": c.speed_kmh,
            "sources": c.sources(),
            "data_gaps": sorted(k for k, v in category_gaps(ledger).items() if v),
            "empty_categories": access.empty_categories,
            "programme": programme,
            "suggestions": [s.summary() for s in suggestions],
            "warnings": list(dict.fromkeys(self.warnings)),
        }
        return StudyResults(
            network=net,
            facilities=load.facilities,
            homes=homes_gdf,
            communities=communities,
            districts=districts,
            community_by_category=community_by_category(communities, categories),
            programme=programme,
            ledger=ledger,
            suggestions=suggestions,
            access=access,
            summary=summary,
        )

    def results(self) -> StudyResults:
        """Run the study once and keep the results (`run` recomputes the summary each time).

        Returns
        -------
        StudyResults
            The results.
        """
        if "results" not in self._cache:
            self._cache["results"] = self.run()
        return self._cache["results"]

    def map(
        self,
        isochrones_at: list[tuple[float, float]] | None = None,
        minutes: tuple[float, ...] = (5, 10, 15),
        basemap: str = "osm",
        **kwargs: Any,
    ) -> Any:
        """Draw the study map (a folium Map; display it in a notebook or save it).

        Parameters
        ----------
        isochrones_at
            (lon, lat) origins for isochrones.
        minutes
            Isochrone budgets.
        basemap
            ``osm``, ``amap`` or ``none``.
        **kwargs
            Passed to `walkcircle.outputs.maps.study_map`.

        Returns
        -------
        folium.Map
            The map.
        """
        from walkcircle.isochrones import isochrones_around
        from walkcircle.outputs.maps import study_map

        r = self.results()
        iso = (
            isochrones_around(r.network, isochrones_at, minutes, self.config.speed_kmh)
            if isochrones_at
            else None
        )
        kwargs.setdefault("lang", self.config.lang)
        kwargs.setdefault("title", self.config.name)
        kwargs.setdefault("demo", self.config.demo)
        return study_map(
            r.homes, r.facilities, self.profile, r.communities, iso, r.suggestions, basemap=basemap, **kwargs
        )

    def report(self, path: str | Path | None = None) -> str | Path:
        """Render the HTML report; write it to `path` if given.

        Parameters
        ----------
        path
            Target ``.html`` (None: return the HTML text).

        Returns
        -------
        str or pathlib.Path
            The HTML, or the file written.
        """
        from walkcircle.outputs.report import render_report, write_report

        r = self.results()
        if path is None:
            return render_report(r, self.profile, self.config.lang)
        return write_report(r, self.profile, path, self.config.lang)

    def _note(self, caught: list[warnings.WarningMessage]) -> None:
        for w in caught:
            self.warnings.append(str(w.message))

"""A study: the whole job from sources to scores, for the command line and for notebooks.

    >>> from walkcircle import Study
    >>> study = Study(osm="hebi.osm.pbf", profile="hebi-2021")           # doctest: +SKIP
    >>> study.add_facilities("amap_pois.csv", crs="gcj02")                # doctest: +SKIP
    >>> results = study.results()                                         # doctest: +SKIP
    >>> results.communities.head()                                        # doctest: +SKIP

Every step is computed once, when first needed, and kept. Changing a setting (`Study.update`,
`Study.add_facilities`) forgets exactly the steps that depend on it, by one table (`STEPS`):
each step names the settings it reads and the steps it builds on. The settings given are
never changed: a study holds its own immutable `Settings`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from walkcircle.access import AccessResult, compute_access
from walkcircle.defaults import HEBI_CENTRAL_PLACES
from walkcircle.errors import InputError, SettingsError, WalkcircleWarning
from walkcircle.network import Snapped, WalkNetwork
from walkcircle.profile import Profile, load_profile
from walkcircle.results import StudyResults, study_summary
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
from walkcircle.settings import ALIASES, Settings, changed_attrs, update_settings
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
from walkcircle.sources.loads import FacilityLoad, source_accounting
from walkcircle.sources.osm_features import facilities_from_osm_file
from walkcircle.sources.tables import TableSpec

if TYPE_CHECKING:
    from walkcircle.scenario import ScenarioOutcome
    from walkcircle.service_areas import AreaDrawing
    from walkcircle.sources.extract import ExtractCut

__all__ = ["STEPS", "Study"]

Progress = Callable[[str], None]

STEPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # step: (settings it reads, by attribute path prefix; steps it builds on)
    "profile": (("scoring.profile",), ()),
    "extract": (("sources",), ()),
    "network": (("sources",), ("extract",)),
    # an OSM file's facilities and buildings, read beside the network (`Study.read_inputs`)
    "osm_facilities": (("facilities.osm",), ("extract", "profile")),
    "osm_homes": (("homes.source", "homes.grid_m"), ("extract",)),
    "facilities": (("facilities",), ("network", "profile", "osm_facilities")),
    "homes": (("homes",), ("network", "osm_homes")),
    "population": (("homes",), ("homes",)),  # computed with the homes
    "home_snap": (("routing.snap_cap_m",), ("homes",)),
    "access": (("routing",), ("facilities", "home_snap", "profile")),
    "results": (("name", "lang", "scoring"), ("access",)),
    # the polygons, drawn from the network and the facilities (`Study.early_service_areas`)
    "service_area_drawing": (
        ("outputs.half_width_m", "outputs.service_area_cell_m", "routing.speed_kmh", "routing.snap_cap_m"),
        ("network", "facilities", "profile"),
    ),
    "service_areas": ((), ("results", "service_area_drawing")),
    "scenario": (("scenario",), ("results",)),
}


def steps_to_forget(changed: set[str]) -> set[str]:
    """Return the steps that depend on changed settings, directly or through other steps.

    Parameters
    ----------
    changed
        Attribute paths of the settings that changed (``"facilities.tables"``).

    Returns
    -------
    set of str
        Step names.
    """
    stale = {
        step
        for step, (reads, _) in STEPS.items()
        if any(attr == r or attr.startswith(r + ".") for attr in changed for r in reads)
    }
    grew = True
    while grew:
        more = {step for step, (_, uses) in STEPS.items() if stale.intersection(uses)} - stale
        stale |= more
        grew = bool(more)
    return stale


class Study:
    """A life-circle study: load, add facilities, run, read results.

    Parameters
    ----------
    settings
        A `walkcircle.settings.Settings` (default: all defaults).
    progress
        Called with a short message at each step (the CLI shows them in a progress bar).
    **changes
        Settings by alias (``osm=``, ``profile=``, ``communities=``, ``speed_kmh=``...),
        applied on top of `settings`.
    """

    def __init__(
        self, settings: Settings | None = None, progress: Progress | None = None, **changes: Any
    ) -> None:
        unknown = sorted(set(changes) - set(ALIASES))
        if unknown:
            msg = f"unknown study setting(s): {', '.join(unknown)}; known: {', '.join(ALIASES)}"
            raise SettingsError(msg)
        base = settings if settings is not None else Settings()
        self._settings = update_settings(base, changes, origin="") if changes or settings is None else base
        self.progress = progress or (lambda _message: None)
        self._cache: dict[str, Any] = {}
        self._warnings: dict[str, list[str]] = {}
        self._keep_state = False  # set when a what-if needs the baseline's search state
        self._early = 0  # depth of `early_service_areas` blocks

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> Settings:
        """The study's settings (immutable; change them with `update`)."""
        return self._settings

    config = settings

    def update(self, **changes: Any) -> Study:
        """Change settings by alias and forget the steps that depend on them.

        Parameters
        ----------
        **changes
            Settings by alias, e.g. ``speed_kmh=3.6``.

        Returns
        -------
        Study
            Itself, for chaining.
        """
        new = update_settings(self._settings, changes, origin="")
        for step in steps_to_forget(changed_attrs(self._settings, new)):
            self._forget(step)
        self._settings = new
        return self

    def add_facilities(self, path: str | Path, crs: str, **options: Any) -> Study:
        """Add a facility table (see `walkcircle.sources.tables.read_facility_table`).

        Parameters
        ----------
        path
            CSV, GeoJSON, GeoPackage, GeoParquet or Shapefile.
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
        table = TableSpec(path=Path(path), crs=crs, **options)
        return self.update(facilities=(*self._settings.facilities.tables, table))

    def _forget(self, step: str) -> None:
        """Drop a step's result and warnings (a drawing still under way is stopped)."""
        dropped = self._cache.pop(step, None)
        self._warnings.pop(step, None)
        if step == "service_area_drawing" and dropped is not None:
            dropped.cancel()

    @property
    def warnings(self) -> list[str]:
        """Warnings of the steps computed so far (each once)."""
        order = [*[s for s in STEPS if s in self._warnings], *[s for s in self._warnings if s not in STEPS]]
        return list(dict.fromkeys(w for step in order for w in self._warnings[step]))

    @contextmanager
    def collecting(self, name: str) -> Iterator[None]:
        """Collect the walkcircle warnings raised inside the block under a step name (see `warnings`)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WalkcircleWarning)
            yield
        found = [str(w.message) for w in caught if issubclass(w.category, WalkcircleWarning)]
        self._warnings.setdefault(name, []).extend(found)

    # ------------------------------------------------------------------ inputs
    @property
    def profile(self) -> Profile:
        """The profile (standard)."""
        if "profile" not in self._cache:
            self._cache["profile"] = load_profile(self._settings.scoring.profile)
        return self._cache["profile"]

    @property
    def rules(self) -> ScoringRules:
        """The scoring rules."""
        s = self._settings.scoring
        return ScoringRules(
            decay_factor=s.decay_factor,
            pass_share=s.pass_share,
            gap_ratio=s.gap_ratio,
            gap_min_expected=s.gap_min_expected,
        )

    @property
    def osm_path(self) -> Path | None:
        """The OSM file the network (and OSM facilities/homes) come from, if any."""
        if self._settings.sources.demo:
            from walkcircle.sources.demo import demo_osm_path

            return demo_osm_path()
        cut = self.extract()
        return cut.path if cut is not None else self._settings.sources.osm

    def extract(self) -> ExtractCut | None:
        """Cut the study area (bbox, place or boundary) plus a walking margin from the OSM extract.

        Returns
        -------
        ExtractCut or None
            The cut (its small PBF is cached under ``cache_dir/extracts``), or None when the
            whole file is the study area.
        """
        s = self._settings.sources
        if s.osm is None or not (s.bbox or s.place or s.boundary):
            return None
        if "extract" not in self._cache:
            from walkcircle.sources.extract import cut_extract

            polygon = None
            if s.boundary is not None:
                from walkcircle.sources.amap import boundary_wgs84

                polygon = boundary_wgs84(s.boundary)
            elif s.place:
                from walkcircle.sources.osm import _geocode_place

                polygon = _geocode_place(list(s.place), self._overpass_config())
            self.progress(f"cutting the study area from {s.osm.name}")
            with self.collecting("extract"):
                self._cache["extract"] = cut_extract(
                    s.osm, bbox=s.bbox, polygon=polygon, margin_m=s.margin_m, out_dir=s.cache_dir / "extracts"
                )
        return self._cache["extract"]

    # ------------------------------------------------------------------ steps
    def read_inputs(self) -> None:
        """Read the network, the facilities and the homes (what `run` starts with).

        From a local OSM file, a forked child reads the file's buildings and facilities
        while this process reads its streets; the two take these reads from one shared list
        (`walkcircle._background.Claims`), the buildings (the longest) first, so this process
        reads what the child has not started once the streets are read. Their warnings and
        errors surface in the step that uses them, as when they are read one after the other
        (as they are where fork is unsafe).
        """
        reads = self._osm_reads() if "network" not in self._cache else {}
        if reads:
            from walkcircle._background import Claims, background, captured

            steps = sorted(reads, key=lambda step: step != "osm_homes")
            order = range(len(steps))
            claims = Claims(len(steps))

            def read_some() -> dict[str, Any]:
                return {steps[j]: captured(reads[steps[j]]) for j in iter(lambda: claims.take(order), None)}

            try:
                with background(read_some) as task:
                    self.network()
                    self._cache.update(read_some())
                    self._cache.update(task.join())
            finally:
                claims.close()
        self.network()
        self.facilities()
        if self._early:
            self._draw_early()  # drawn in a forked child from here on
        self.homes()

    @contextmanager
    def early_service_areas(self) -> Iterator[None]:
        """Within the block, draw the service areas beside the rest of the study.

        As soon as the network and the facilities are read (at once, if they are), a forked
        child starts drawing the service-area polygons while this process places the homes and
        computes the access; `service_areas` then draws what the child has not taken and waits
        for it (`walkcircle.service_areas.AreaDrawing`). `walkcircle.pipeline.write_study`
        does this when the settings ask for service areas. On a first run, while the kernels
        are compiled, the drawing waits for `service_areas` instead. Leaving the block stops a
        drawing that `service_areas` did not finish.

        Yields
        ------
        None
            While the block runs.
        """
        self._early += 1
        try:
            if "network" in self._cache and "facilities" in self._cache:
                self._draw_early()
            yield
        finally:
            self._early -= 1
            if not self._early and "service_areas" not in self._cache:
                self._forget("service_area_drawing")

    def _draw_early(self) -> None:
        """Start the service areas' drawing now, unless kernels are still being compiled.

        On a first run the kernels are compiled by a helper and this process
        (`walkcircle._precompile`); a child drawing early would compile its own as a third
        process on two cores, so then the drawing starts when `service_areas` asks for it.
        """
        from walkcircle import _precompile

        if not _precompile.missing_kernels():
            self._service_area_drawing()

    def _osm_reads(self) -> dict[str, Callable[[], Any]]:
        """List the reads of the OSM file that do not need the network and are not done yet."""
        path = self.osm_path
        if path is None:
            return {}
        reads: dict[str, Callable[[], Any]] = {}
        if self._settings.facilities.osm and "osm_facilities" not in self._cache:
            profile = self.profile
            reads["osm_facilities"] = lambda: facilities_from_osm_file(path, profile)
        h = self._settings.homes
        if h.source in ("auto", "osm") and "osm_homes" not in self._cache:
            reads["osm_homes"] = lambda: homes_from_osm(path, grid_m=h.grid_m)
        return reads

    def _osm_read(self, step: str) -> Any:
        """Return the result of one of `_osm_reads` (read now unless `read_inputs` read it already)."""
        if step not in self._cache:
            from walkcircle._background import captured

            self._cache[step] = captured(self._osm_reads()[step])
        got = self._cache[step]
        if got.failure is not None:  # not kept: the same call reads again once the file is fixed
            del self._cache[step]
        return got.replay()

    def network(self) -> WalkNetwork:
        """Load (or download) the walking network.

        Returns
        -------
        WalkNetwork
            The network.
        """
        if "network" not in self._cache:
            from walkcircle import _precompile
            from walkcircle.sources.osm import WalkRules, download_network, read_network

            _precompile.start()  # a first run compiles the kernels alongside reading the inputs

            s = self._settings.sources
            rules = WalkRules(include_private=s.include_private)
            with self.collecting("network"):
                if self.osm_path is not None:
                    self.progress(f"reading {self.osm_path.name}")
                    net = read_network(self.osm_path, rules)
                else:
                    default = s.place is None and s.bbox is None
                    self.progress(
                        "downloading the default study area (Hebi's central districts)"
                        if default
                        else "downloading the network from Overpass"
                    )
                    place = list(HEBI_CENTRAL_PLACES) if default else (list(s.place) if s.place else None)
                    net = download_network(
                        place=place, bbox=s.bbox, config=self._overpass_config(), rules=rules
                    )
            self._cache["network"] = net
        return self._cache["network"]

    def _overpass_config(self) -> Any:
        from walkcircle.sources.osm import OverpassConfig

        s = self._settings.sources
        return OverpassConfig(
            overpass_url=s.overpass_url,
            nominatim_url=s.nominatim_url,
            timeout_s=s.timeout_s,
            cache_dir=s.cache_dir,
        )

    def area(self) -> shapely.Geometry:
        """Return the study area: the area cut from an extract, else the network's bounds.

        Returns
        -------
        shapely.Geometry
            Polygon in WGS-84.
        """
        cut = self.extract()
        return cut.area if cut is not None else shapely.box(*self.network().bounds_lonlat())

    def facilities(self) -> FacilityLoad:
        """Load, classify, check and merge facilities.

        Returns
        -------
        FacilityLoad
            Facilities and reports.
        """
        if "facilities" not in self._cache:
            f = self._settings.facilities
            net = self.network()
            self.progress("loading facilities")
            w, s, e, n = net.bounds_lonlat()
            osm_path = self.osm_path if f.osm else None
            overpass_area = shapely.box(w, s, e, n) if f.osm and osm_path is None else None
            with self.collecting("facilities"):
                self._cache["facilities"] = collect_facilities(
                    self.profile,
                    osm_load=self._osm_read("osm_facilities") if osm_path is not None else None,
                    overpass_area=overpass_area,
                    overpass_config=self._overpass_config(),
                    tables=list(f.tables),
                    area=(w - 0.01, s - 0.01, e + 0.01, n + 0.01),
                    dedupe_m=f.dedupe_m,
                )
        return self._cache["facilities"]

    def homes(self) -> Homes:
        """Make the homes (origins), from communities, OSM or an H3 grid.

        Returns
        -------
        Homes
            Homes and communities.
        """
        if "homes" not in self._cache:
            net = self.network()
            self.progress("placing homes")
            with self.collecting("homes"):
                homes = (
                    self._community_homes(net) if self._settings.homes.communities else self._base_homes(net)
                )
                homes = self._inside_the_cut(homes)
                self._cache["population"] = self._population(homes)
            if len(homes.homes) == 0:
                msg = "no homes to score: give --communities, or use the H3 grid (--homes h3)"
                raise InputError(msg)
            self._cache["homes"] = homes
        return self._cache["homes"]

    def _inside_the_cut(self, homes: Homes) -> Homes:
        """Keep the homes inside a cut study area (the margin is there for the walks, not to be scored)."""
        cut = self.extract()
        if cut is None:
            return homes
        inside = shapely.contains_xy(cut.area, homes.homes["lon"].to_numpy(), homes.homes["lat"].to_numpy())
        if not inside.all():
            left = int((~inside).sum())
            warnings.warn(
                f"{left} of {len(inside)} homes lie in the walking margin outside the study area and are not scored",
                WalkcircleWarning,
                stacklevel=2,
            )
            homes.homes = homes.homes[inside].reset_index(drop=True)
        return homes

    def _population(self, homes: Homes) -> Any:
        """Spread a population raster over the homes (a communities file's own numbers win)."""
        h = self._settings.homes
        if h.population is None:
            return None
        from walkcircle.sources.homes import attach_footprints
        from walkcircle.sources.population import assign_population

        if h.communities is not None and "footprint_m2" not in homes.homes.columns:
            homes.homes = attach_footprints(homes.homes, self._base_homes(self.network()).homes)
        homes.homes, report = assign_population(
            homes.homes, h.population, self.area(), communities=homes.communities, orphans=h.population_orphans,
            band=h.population_band,
        )  # fmt: skip
        if "district" in homes.homes.columns:
            homes.homes["district"] = homes.homes["district"].fillna("")
        return report

    def _community_homes(self, net: WalkNetwork) -> Homes:
        h = self._settings.homes
        base = self._base_homes(net)
        communities, report = read_communities(
            h.communities, name_col=h.name_col, population_col=h.population_col,
            district_col=h.district_col, crs=h.communities_crs,
        )  # fmt: skip
        from walkcircle.sources.alignment import warn_if_shifted

        lonlat = (base.homes["lon"].to_numpy(), base.homes["lat"].to_numpy()) if len(base.homes) else None
        warn_if_shifted(communities.geometry, h.communities_crs, net, h.communities, home_lonlat=lonlat)
        polygons = communities.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        if polygons.all():
            homes = homes_for_communities(communities, base.homes, h.grid_m, report)
        elif not polygons.any():
            homes = assign_to_community_points(base.homes, communities, h.assign_m, report)
        else:
            msg = f"{h.communities}: mixes points and polygons; use one kind per file"
            raise InputError(msg)
        if "district" in homes.communities.columns:
            district = dict(zip(homes.communities["community"], homes.communities["district"], strict=True))
            homes.homes["district"] = homes.homes["community"].map(district).fillna("")
        return homes

    def _base_homes(self, net: WalkNetwork) -> Homes:
        h = self._settings.homes
        if h.source in ("auto", "osm") and self.osm_path is not None:
            osm_homes = self._osm_read("osm_homes")
            if len(osm_homes.homes) or h.source == "osm":
                return osm_homes
        elif h.source == "osm":
            msg = "homes from OSM need an OSM file (--osm); downloads use the H3 grid (--homes h3)"
            raise InputError(msg)
        return homes_from_h3(net, h.h3_resolution)

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
                homes["lon"].to_numpy(), homes["lat"].to_numpy(), self._settings.routing.snap_cap_m
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
            r = self._settings.routing
            profile = self.profile
            net, snap, load = self.network(), self.home_snap(), self.facilities()
            with self.collecting("access"):
                self._cache["access"] = compute_access(
                    net,
                    snap,
                    load.facilities,
                    categories=profile.category_ids,
                    thresholds_m={cat.id: cat.distance_m(r.speed_kmh) for cat in profile.categories},
                    tiers_min=r.tiers_min,
                    speed_kmh=r.speed_kmh,
                    k=r.k,
                    snap_cap_m=r.snap_cap_m,
                    progress=self.progress,
                    keep_state=self._settings.scenario.active or self._keep_state,
                )
        return self._cache["access"]

    def suggest(
        self,
        category: str,
        count: int,
        candidates: gpd.GeoDataFrame | str | Path | None = None,
        candidates_crs: str = "wgs84",
    ) -> Suggestion:
        """Suggest up to `count` new sites for a category.

        Parameters
        ----------
        category
            Category id.
        count
            How many sites (>= 1).
        candidates
            Candidate points (``lon``/``lat``) or a file of them; the network's nodes when None.
        candidates_crs
            Coordinate system of a candidates file.

        Returns
        -------
        Suggestion
            Sites with marginal gains, coverage before and after.

        Raises
        ------
        SettingsError
            For a category the profile does not have, or a count below 1.
        """
        ids = self.profile.category_ids
        if category not in ids:
            msg = f"suggest: profile {self.profile.id} has no category {category!r}; use one of {', '.join(ids)}"
            raise SettingsError(msg)
        if count < 1:
            msg = f"suggest: the number of sites must be >= 1 (got {count})"
            raise SettingsError(msg)
        if isinstance(candidates, str | Path):
            from walkcircle.sources.tables import read_candidate_points

            candidates = read_candidate_points(candidates, candidates_crs)
        cat = self.profile.category(category)
        access = self.access()
        self.progress(f"choosing {count} sites for {cat.name(self._settings.lang)}")  # the profile's name
        with self.collecting("results"):
            return suggest_sites(
                self.network(),
                self.homes().homes,
                self.home_snap(),
                access.nearest_m[:, access.column(category)],
                category,
                cat.distance_m(self._settings.routing.speed_kmh),
                count,
                candidates=candidates,
                method=self._settings.scoring.suggest_method,
                snap_cap_m=self._settings.routing.snap_cap_m,
            )

    def run(self) -> StudyResults:
        """Run every step and gather the results (the summary is made afresh).

        Returns
        -------
        StudyResults
            Tables and GeoDataFrames.
        """
        self.read_inputs()
        net, load, homes, access = self.network(), self.facilities(), self.homes(), self.access()
        self.progress("scoring")
        categories = access.categories
        scores = home_table(access, self.profile, self.rules)
        homes_gdf = _homes_frame(homes.homes, scores)
        communities = community_table(homes.homes, scores, categories, self.rules)
        if homes.communities is not None and len(communities):
            geo = homes.communities[["community", "geometry", "n_homes"]].rename(
                columns={"n_homes": "n_homes_source"}
            )
            communities = gpd.GeoDataFrame(
                geo.merge(communities, on="community", how="left"), geometry="geometry", crs="EPSG:4326"
            )
        programme = programme_summary(communities, self.profile, categories, area=self.area())
        ledger = ledger_table(self.profile, load.facilities, self.area(), self.rules, self._settings.lang)
        suggestions = [self.suggest(cat, count) for cat, count in self._settings.scoring.suggest]
        extra = {
            "facility_sources": source_accounting(load.reports),
            **self._population_summary(homes),
            "data_gaps": sorted(k for k, v in category_gaps(ledger).items() if v),
            "programme": programme,
            "suggestions": [s.summary() for s in suggestions],
            "warnings": self.warnings,
        }
        summary = study_summary(
            self._settings, self.profile.id, net, load, homes.homes, scores, access, extra
        )
        return StudyResults(
            network=net,
            facilities=load.facilities,
            homes=homes_gdf,
            communities=communities,
            districts=district_table(homes.homes, scores, categories, self.rules),
            community_by_category=community_by_category(communities, categories),
            programme=programme,
            ledger=ledger,
            suggestions=suggestions,
            access=access,
            summary=summary,
        )

    def _population_summary(self, homes: Homes) -> dict[str, Any]:
        from walkcircle.sources.population import population_source

        report = self._cache.get("population")
        return {
            "population_source": population_source(homes.homes, homes.communities, report),
            "population_raster": report.as_dict() if report is not None else None,
            "extract": self.extract().summary() if self.extract() is not None else None,
        }

    def service_areas(self) -> gpd.GeoDataFrame:
        """Per category, the street area from which a facility is within the threshold, with blind spots counted.

        Also sets ``results.service_areas`` and the summary's ``service_areas``.

        Returns
        -------
        geopandas.GeoDataFrame
            ``category``, ``threshold_m``, ``facilities``, ``homes_covered``, ``homes_not_covered``,
            ``residents_covered``, ``residents_not_covered``, ``area_m2``, geometry (WGS-84).
        """
        if "service_areas" not in self._cache:
            r = self.results()
            drawing = self._service_area_drawing()
            if drawing.categories != list(r.access.categories) or not np.array_equal(
                drawing.limits, r.access.threshold_m
            ):  # not the access's categories and thresholds: draw them afresh
                self._forget("service_area_drawing")
                drawing = self._service_area_drawing(
                    dict(zip(r.access.categories, r.access.threshold_m, strict=True))
                )
            self.progress("service areas")
            with self.collecting("service_areas"):
                areas = drawing.finish(r.access, r.homes)
            self._forget("service_area_drawing")  # finished: its child is gone
            r.service_areas = areas
            r.summary["service_areas"] = {
                row.category: {"threshold_m": float(row.threshold_m), "facilities": int(row.facilities),
                               "homes_not_covered": int(row.homes_not_covered),
                               "residents_not_covered": float(row.residents_not_covered),
                               "area_km2": round(float(row.area_m2) / 1e6, 3)}
                for row in areas.itertuples()
            }  # fmt: skip
            self._cache["service_areas"] = areas
        return self._cache["service_areas"]

    def _service_area_drawing(self, thresholds_m: dict[str, float] | None = None) -> AreaDrawing:
        """Start drawing the service areas (a forked child takes a share; see `early_service_areas`)."""
        if "service_area_drawing" not in self._cache:
            from walkcircle.service_areas import AreaDrawing

            r, o = self._settings.routing, self._settings.outputs
            if thresholds_m is None:
                thresholds_m = {cat.id: cat.distance_m(r.speed_kmh) for cat in self.profile.categories}
            net, load = self.network(), self.facilities()
            with self.collecting("service_areas"):
                drawing = AreaDrawing(
                    net, load.facilities, thresholds_m, half_width_m=o.half_width_m,
                    cell_m=o.service_area_cell_m, snap_cap_m=r.snap_cap_m,
                )  # fmt: skip
            self._cache["service_area_drawing"] = drawing.start()
        return self._cache["service_area_drawing"]

    def scenario(
        self,
        planned: gpd.GeoDataFrame | str | Path | None = None,
        closed: pd.DataFrame | Sequence[str] | str | Path | None = None,
        apply_suggestions: bool | None = None,
        planned_crs: str | None = None,
    ) -> ScenarioOutcome:
        """Compute what a plan changes (规划 against 现状): open planned facilities, close existing ones.

        Reuses the baseline's network, snapping and search state: adding facilities searches
        from the new ones only, closing recomputes only the homes that lose their facility; the
        result equals a full recompute. Without arguments it uses the ``[scenario]`` settings.

        Parameters
        ----------
        planned
            Planned facilities: a table file (facility-table rules) or a GeoDataFrame with
            ``category``, ``lon``, ``lat`` (and ``name``).
        closed
            Facility ids, a table of ids, names or points, or such a file.
        apply_suggestions
            Also open the sites of the study's suggestions (``suggest`` setting).
        planned_crs
            Coordinate system of a planned-facilities file.

        Returns
        -------
        ScenarioOutcome
            The scenario's access, the before/after tables and the closure matches.
        """
        from walkcircle.scenario import build_scenario

        sc = self._settings.scenario
        given = (planned, closed, apply_suggestions, planned_crs) != (None, None, None, None)
        if not given and "scenario" in self._cache:
            return self._cache["scenario"]
        if planned is None and not given and sc.planned:
            planned = sc.planned
        if closed is None and not given:
            closed = sc.closed
        if apply_suggestions is None:
            apply_suggestions = sc.apply_suggestions and not given
        cached = self._cache.get("access")
        if cached is None or cached.state is None:  # the baseline must keep its search state
            self._keep_state = True
            for step in steps_to_forget({"routing.k"}):  # the access step and what builds on it
                self._cache.pop(step, None)
        self.progress("scenario")
        with self.collecting("scenario"):
            outcome: ScenarioOutcome = build_scenario(
                self, planned, closed, bool(apply_suggestions), planned_crs
            )
        if not given:
            self._cache["scenario"] = outcome
        return outcome

    def results(self) -> StudyResults:
        """Run the study once and keep the results until a setting they depend on changes.

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
        minutes: tuple[float, ...] | None = None,
        basemap: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Draw the study map (a folium Map; display it in a notebook or save it).

        Parameters
        ----------
        isochrones_at
            (lon, lat) origins for isochrones (default: the settings' ``isochrones_at``).
        minutes
            Isochrone budgets (default: the settings' ``isochrone_minutes``).
        basemap
            ``osm``, ``amap`` or ``none`` (default: the settings' ``basemap``).
        **kwargs
            Passed to `walkcircle.outputs.maps.study_map`.

        Returns
        -------
        folium.Map
            The map.
        """
        from walkcircle.isochrones import isochrones_around
        from walkcircle.outputs.maps import study_map

        r, o = self.results(), self._settings.outputs
        points = list(o.isochrones_at) if isochrones_at is None else isochrones_at
        budgets = o.isochrone_minutes if minutes is None else minutes
        speed, width = self._settings.routing.speed_kmh, o.half_width_m
        with self.collecting("map"):
            iso = isochrones_around(r.network, points, budgets, speed, half_width_m=width) if points else None
        kwargs.setdefault("lang", self._settings.lang)
        kwargs.setdefault("title", self._settings.name)
        kwargs.setdefault("demo", self._settings.sources.demo)
        kwargs.setdefault("network", r.network)
        kwargs.setdefault("access", r.access)
        kwargs.setdefault("isochrone_origins", points or None)
        if o.service_areas:
            kwargs.setdefault("service_areas", self.service_areas())
        return study_map(
            r.homes,
            r.facilities,
            self.profile,
            r.communities,
            iso,
            r.suggestions,
            basemap=basemap or o.basemap,
            **kwargs,
        )

    def report(self, path: str | Path | None = None, title: str | None = None) -> str | Path:
        """Render the HTML report; write it to `path` if given, and ``report.pdf`` next to it.

        Parameters
        ----------
        path
            Target ``.html`` (None: return the HTML text). The PDF (same name, ``.pdf``) is
            written unless the settings say ``outputs.pdf = false``.
        title
            Title (default: the study name).

        Returns
        -------
        str or pathlib.Path
            The HTML, or the file written.
        """
        from walkcircle.outputs.report import render_report, write_report

        r, s = self.results(), self._settings
        if path is None:
            return render_report(r, self.profile, s.lang, title=title)
        pdf = Path(path).with_suffix(".pdf") if s.outputs.pdf else None
        return write_report(
            r, self.profile, path, s.lang, title, pdf=pdf, rules=self.rules, snap_cap_m=s.routing.snap_cap_m
        )


def _homes_frame(homes: pd.DataFrame, scores: pd.DataFrame) -> gpd.GeoDataFrame:
    out = pd.concat([homes.reset_index(drop=True), scores], axis=1)
    for col in scores.columns:
        if col.startswith("minutes_"):
            out[col] = out[col].replace(np.inf, np.nan)  # unreachable: NaN in files
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")

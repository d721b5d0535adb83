"""Every default of walkcircle, defined once.

Settings, the command line, the config template and the library functions all read their
defaults from here, so a default changes in one place.
"""

from __future__ import annotations

from pathlib import Path

# --------------------------------------------------------------------------- standards
DEFAULT_PROFILE = "hebi-2021"
"""The profile (standard) a study scores against."""
DEFAULT_LANG = "en"
LANGS = ("zh", "en")

# --------------------------------------------------------------------------- walking
DEFAULT_SPEED_KMH = 4.8
"""Walking speed of an adult, km/h."""
ELDERLY_SPEED_KMH = 3.6
"""Walking speed in the elderly scenario, km/h."""
DEFAULT_TIERS_MIN = (5.0, 10.0, 15.0)
"""Life-circle tiers, minutes."""
DEFAULT_SNAP_CAP_M = 300.0
"""Farthest a home or facility may be from a street and still be snapped onto it, metres."""
DEFAULT_K = 3
"""How many nearest facilities per home and category are kept."""
KNN_REACH_FACTOR = 2.0
"""The k-nearest search stops at this multiple of the study's largest threshold: facilities
farther than that are reported as ``inf`` / ``-1`` ("not within 2x the threshold")."""

# --------------------------------------------------------------------------- facilities and homes
DEFAULT_DEDUPE_M = 30.0
"""Rows of one category from different sources (or one OSM feature mapped twice) within this
distance of a group's first row are one place, metres."""
DEFAULT_GRID_M = 50.0
"""Spacing of sample homes in residential areas and polygons without buildings, metres."""
DEFAULT_H3_RESOLUTION = 10
DEFAULT_ASSIGN_M = 1000.0
"""Farthest a home may be from the community point it is assigned to, metres."""
HOME_SOURCES = ("auto", "osm", "h3")
DEFAULT_HOMES = "auto"
DEFAULT_COMMUNITIES_CRS = None
"""A communities file is read in its own CRS (a CSV in degrees: WGS-84); declare gcj02/bd09/EPSG to override."""
POPULATION_ORPHAN_RULES = ("new_home", "nearest_home")
DEFAULT_POPULATION_ORPHANS = "new_home"
"""People of a raster cell without homes: a new home at the cell centre, or the nearest home."""
DEFAULT_POPULATION_BAND = 1
"""Band of a population raster that holds people per cell."""

# --------------------------------------------------------------------------- scoring
DEFAULT_DECAY_FACTOR = 2.0
DEFAULT_PASS_SHARE = 0.8
DEFAULT_GAP_RATIO = 0.5
SUGGEST_METHODS = ("auto", "greedy", "exact")

# --------------------------------------------------------------------------- scenarios and comparisons
DEFAULT_CLOSED_MATCH_M = 30.0
"""Farthest a closure point may be from the existing facility it names, metres."""
SCENARIO_LABELS = ("baseline", "planned")
"""Names of the two sides of a scenario (现状, 规划) in its tables and summary."""
COMPARE_LABELS = ("a", "b")
"""Names of the two studies compared."""

# --------------------------------------------------------------------------- downloads
DEFAULT_CACHE_DIR = Path("data/raw")
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org/"
DEFAULT_TIMEOUT_S = 180.0
DEFAULT_EXTRACT_MARGIN_M = 1500.0
"""Walking margin kept around a study area cut from a big extract, metres (homes at the edge keep their walks)."""

KERNEL_CACHE_SUBDIR = Path("walkcircle") / "numba"
"""Compiled kernels live in this folder under the user's cache folder (``~/.cache``), keyed by source."""
KERNELS_BUILT_SUBDIR = "_compiled"
"""Kernels compiled when walkcircle was built live in this folder of the installed package."""

PRECOMPILE_WAIT_S = 120.0
"""Longest wait for the helper process that compiles the kernels on a first run, seconds."""

# --------------------------------------------------------------------------- outputs
DEFAULT_OUTPUT_ROOT = Path("data/processed")
DEFAULT_STUDY_NAME = "study"
DEFAULT_BASEMAP = "osm"
BASEMAPS = ("osm", "amap", "tianditu", "none")
DEFAULT_HALF_WIDTH_M = 25.0
"""Street half-width that isochrones are buffered by, metres."""
DEFAULT_SERVICE_AREA_CELL_M = 10.0
"""Grid spacing of the distance field that service areas are contoured from, metres."""
DEFAULT_SERVICE_AREA_MAX_CELLS = 64_000_000
"""Largest distance-field raster of a service area (80 km square at 10 m; about 1.1 GB while it is
contoured); larger extents go in tiles, whose joining costs more time than the raster saves."""
SITE_NAME_MAX_M = 300.0
"""Farthest a named street or facility may be from a suggested site to name it, metres."""
DEFAULT_MAP_MAX_POINTS = 5_000
"""Above this many homes the map draws them as hexagons (each counts its homes), never a sample."""
DEFAULT_MAP_MAX_CELLS = 10_000
"""The map picks the finest H3 resolution that gives at most this many hexagons."""
DEFAULT_MAP_MAX_BLIND_CELLS = 1_500
"""On maps drawn with hexagons, homes outside each service area go in at most this many hexagons."""
DEFAULT_MAP_SIMPLIFY_M = 2.0
"""Service areas are drawn on the map simplified to this tolerance, metres (files keep them exact)."""
DEFAULT_MAP_MIN_HOLE_M2 = 10_000.0
"""Holes of service areas smaller than this (street blocks) are filled on the map, square metres."""
TIANDITU_KEY_ENV = "TIANDITU_KEY"
"""Environment variable holding the Tianditu (天地图) browser key for ``basemap="tianditu"``."""

# --------------------------------------------------------------------------- the default study
HEBI_CENTRAL_PLACES = (
    "淇滨区, 鹤壁市, 河南省, 中国",
    "山城区, 鹤壁市, 河南省, 中国",
    "鹤山区, 鹤壁市, 河南省, 中国",
)
"""Hebi's central urban districts (鹤壁市中心城区): the study area when no source is given."""
DEMO_NAME = "demo-helsinki"

# --------------------------------------------------------------------------- coordinate checks
SHIFT_CHECK_RATIO = 0.5
"""A point/polygon file looks shifted when another system fits the streets/homes this much better."""
SHIFT_CHECK_MIN_M = 10.0
"""...and by at least this many metres (median misfit)."""
SHIFT_CHECK_SAMPLE_M = 25.0
"""Spacing of the sample points along polygon boundaries, metres."""
SHIFT_CHECK_MAX_SAMPLES = 5000
"""Most sample points a shift check measures."""

# --------------------------------------------------------------------------- AMap (Gaode) Web Service
DEFAULT_AMAP_URL = "https://restapi.amap.com"
"""AMap Web Service base URL (``/v5/place/polygon``, ``/v3/geocode/geo``, ``/v3/config/district``)."""
AMAP_KEY_ENV = "AMAP_KEY"
"""Environment variable the AMap key is read from when none is passed."""
DEFAULT_AMAP_QPS = 3.0
"""Requests per second sent to AMap (a personal key allows a few; polite and safe)."""
DEFAULT_AMAP_TIMEOUT_S = 20.0
DEFAULT_AMAP_RETRIES = 5
"""Retries of one request after a QPS-exceeded answer or HTTP 429/5xx, with doubling back-off."""
DEFAULT_AMAP_BACKOFF_S = 1.0
"""First back-off after a QPS-exceeded answer, seconds (doubles on each retry)."""
AMAP_PAGE_SIZE = 25
"""Largest page the v5 place search serves."""
AMAP_MAX_PAGES = 100
"""Highest page_num the v5 place search accepts."""
DEFAULT_AMAP_RESULT_CAP = 200
"""POIs one polygon query is trusted to reach before the cell is split into four (see sources/amap.py)."""
DEFAULT_AMAP_MIN_CELL_M = 50.0
"""Cells are not split below this size; a cell still at the cap is reported as possibly incomplete."""

# --------------------------------------------------------------------------- study area cut from a big extract
DEFAULT_EXTRACT_LOCATION_STORE = "flex_mem"
"""libosmium node-location index used while cutting (``"sparse_file_array,PATH"`` keeps it on disk)."""
# --------------------------------------------------------------------------- programme ledger
DEFAULT_GAP_MIN_EXPECTED = 2.0
"""A ledger row is judged (data gap or not) only when at least this many claimed facilities are
expected in the study area; fewer is too little to tell a gap from chance."""

# --------------------------------------------------------------------------- output files
DEFAULT_OUTPUT_CRS = "EPSG:4326"
"""Coordinate system of the GIS outputs (GeoPackage, GeoParquet)."""
OUTPUT_CRS_EPSG = (4326, 4490)
"""Geographic systems accepted for GIS outputs: WGS-84 and CGCS2000."""
CGCS2000_GK_EPSG = (4491, 4554)
"""Inclusive EPSG range of CGCS2000 Gauss-Krueger zones (6° and 3°, with and without zone prefix)."""
CSV_DECIMALS = {
    "coordinate": 6,
    "metres": 1,
    "minutes": 2,
    "share": 4,
    "score": 1,
    "residents": 1,
    "other": 4,
}
"""Decimals kept in CSV files, by kind of column."""

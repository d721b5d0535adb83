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
"""Rows of one category from different sources closer than this are one place, metres."""
DEFAULT_GRID_M = 50.0
"""Spacing of sample homes in residential areas and polygons without buildings, metres."""
DEFAULT_H3_RESOLUTION = 10
DEFAULT_ASSIGN_M = 1000.0
"""Farthest a home may be from the community point it is assigned to, metres."""
HOME_SOURCES = ("auto", "osm", "h3")
DEFAULT_HOMES = "auto"
DEFAULT_COMMUNITIES_CRS = "wgs84"

# --------------------------------------------------------------------------- scoring
DEFAULT_DECAY_FACTOR = 2.0
DEFAULT_PASS_SHARE = 0.8
DEFAULT_GAP_RATIO = 0.5
SUGGEST_METHODS = ("auto", "greedy", "exact")

# --------------------------------------------------------------------------- downloads
DEFAULT_CACHE_DIR = Path("data/raw")
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org/"
DEFAULT_TIMEOUT_S = 180.0

KERNEL_CACHE_SUBDIR = Path("walkcircle") / "numba"
"""Compiled kernels live in this folder under the user's cache folder (``~/.cache``), keyed by source."""

# --------------------------------------------------------------------------- outputs
DEFAULT_OUTPUT_ROOT = Path("data/processed")
DEFAULT_STUDY_NAME = "study"
DEFAULT_BASEMAP = "osm"
BASEMAPS = ("osm", "amap", "none")
DEFAULT_HALF_WIDTH_M = 25.0
"""Street half-width that isochrones are buffered by, metres."""

# --------------------------------------------------------------------------- the default study
HEBI_CENTRAL_PLACES = (
    "淇滨区, 鹤壁市, 河南省, 中国",
    "山城区, 鹤壁市, 河南省, 中国",
    "鹤山区, 鹤壁市, 河南省, 中国",
)
"""Hebi's central urban districts (鹤壁市中心城区): the study area when no source is given."""
DEMO_NAME = "demo-helsinki"

"""Life-circle standards as data: profiles of categories, tag rules, thresholds and weights.

A profile is a TOML file (``src/walkcircle/profiles/*.toml`` ships three: ``gb50180-2018``,
``mofcom-2021`` and ``hebi-2021``; users may pass a path to their own). Each category has an
id, zh/en names, OSM tag rules, AMap type-code prefixes, a threshold in metres or minutes, a
weight and the clause it comes from. Profiles may also define life-circle tiers (5/10/15
minutes, each with the categories it requires), programme circles and a ledger of claimed
counts.

OSM tag rules are strings; a rule matches when all its ``+``-joined terms match:

- ``key=value`` or ``key=v1|v2``: the tag has one of the values (``;``-lists are split);
- ``key=*``: the tag is present (and not ``no``);
- ``key~text``: the tag's value contains ``text`` (e.g. ``name~小学``);
- ``key!=value``: the tag is absent or has another value.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from walkcircle.defaults import DEFAULT_SPEED_KMH
from walkcircle.errors import InputError

_MAX_THRESHOLD_M = 5000.0
_MAX_THRESHOLD_MIN = 60.0

_PROFILE_KEYS = {
    "id", "zh", "en", "source", "verified", "speed_kmh", "communities_claimed",
    "tier", "category", "circle", "ledger", "programme",
}  # fmt: skip
_CATEGORY_KEYS = {
    "id",
    "zh",
    "en",
    "group",
    "osm",
    "amap",
    "threshold_m",
    "threshold_min",
    "weight",
    "clause",
}
_TIER_KEYS = {"minutes", "zh", "en", "walk_m", "clause", "categories"}
_CIRCLE_KEYS = {"id", "zh", "en", "categories"}
_LEDGER_KEYS = {"circle", "item_zh", "item_en", "count", "categories"}
_PROGRAMME_KEYS = {"area", "zh", "en", "bbox", "polygon", "area_km2", "population", "source"}
_TERM = re.compile(r"^([^=!~\s]+)\s*(!=|~|=)\s*(\S.*)$")


# ---------------------------------------------------------------------------- tag rules


@dataclass(frozen=True)
class TagTerm:
    """One ``key<op>value`` condition of a tag rule."""

    key: str
    op: str  # "=", "*", "~", "!="
    values: frozenset[str] = frozenset()

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Return True if the tags satisfy this term.

        Parameters
        ----------
        tags
            OSM tags.

        Returns
        -------
        bool
            Whether the term holds.
        """
        value = tags.get(self.key)
        if self.op == "!=":
            return value is None or not (set(_split_values(value)) & self.values)
        if value is None or value == "":
            return False
        if self.op == "*":
            return value != "no"
        if self.op == "~":
            return any(text in value for text in self.values)
        return bool(set(_split_values(value)) & self.values)


def _split_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(";")]


@dataclass(frozen=True)
class TagRule:
    """A conjunction of terms, e.g. ``amenity=social_facility + social_facility=day_care``."""

    text: str
    terms: tuple[TagTerm, ...]

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Return True if every term matches.

        Parameters
        ----------
        tags
            OSM tags.

        Returns
        -------
        bool
            Whether the rule holds.
        """
        return all(term.matches(tags) for term in self.terms)


def parse_rule(text: str) -> TagRule:
    """Parse a tag rule string.

    Parameters
    ----------
    text
        E.g. ``"shop=convenience"``, ``"amenity=school + name~小学"``, ``"healthcare=*"``.

    Returns
    -------
    TagRule
        The parsed rule.

    Raises
    ------
    ValueError
        If a term is not ``key=value``, ``key=*``, ``key~text`` or ``key!=value``.
    """
    terms = []
    for part in text.split("+"):
        found = _TERM.match(part.strip())
        if found is None:
            msg = f"bad tag rule {text!r}: each term must be key=value, key=v1|v2, key=*, key~text or key!=value"
            raise ValueError(msg)
        key, op, value = found.groups()
        if op == "=" and value == "*":
            terms.append(TagTerm(key, "*"))
        else:
            terms.append(TagTerm(key, op, frozenset(v.strip() for v in value.split("|") if v.strip())))
    if not any(t.op != "!=" for t in terms):
        msg = f"bad tag rule {text!r}: needs at least one positive term"
        raise ValueError(msg)
    return TagRule(text, tuple(terms))


# ---------------------------------------------------------------------------- profile parts


@dataclass(frozen=True)
class Category:
    """A kind of destination, with the standard's threshold for it."""

    id: str
    zh: str
    en: str
    osm: tuple[TagRule, ...]
    amap: tuple[str, ...]
    threshold_m: float | None
    threshold_min: float | None
    weight: float
    clause: str
    group: str = ""

    def name(self, lang: str = "en") -> str:
        """Return the label in ``"zh"`` or ``"en"``.

        Parameters
        ----------
        lang
            Language code.

        Returns
        -------
        str
            The name.
        """
        return self.zh if lang == "zh" else self.en

    def distance_m(self, speed_kmh: float) -> float:
        """Return the threshold as a walking distance.

        Thresholds given in metres (service radii) stay distances whatever the speed;
        thresholds in minutes become ``minutes * speed``.

        Parameters
        ----------
        speed_kmh
            Walking speed.

        Returns
        -------
        float
            Metres.
        """
        if self.threshold_m is not None:
            return float(self.threshold_m)
        assert self.threshold_min is not None
        return float(self.threshold_min) * speed_kmh * 1000.0 / 60.0

    def matches_tags(self, tags: Mapping[str, str]) -> bool:
        """Return True if any OSM rule matches.

        Parameters
        ----------
        tags
            OSM tags.

        Returns
        -------
        bool
            Whether the feature belongs to this category.
        """
        return any(rule.matches(tags) for rule in self.osm)

    def matches_typecode(self, typecode: str) -> bool:
        """Return True if an AMap type code (``"060200"`` or ``"060200|070000"``) starts with a prefix.

        Parameters
        ----------
        typecode
            AMap type code(s), ``|``- or ``;``-separated.

        Returns
        -------
        bool
            Whether the POI belongs to this category.
        """
        codes = [c.strip() for c in str(typecode).replace(";", "|").split("|") if c.strip()]
        return any(code.startswith(prefix) for code in codes for prefix in self.amap)


@dataclass(frozen=True)
class Tier:
    """A life-circle tier (e.g. the 5-minute circle) and the categories it requires."""

    minutes: float
    zh: str
    en: str
    categories: tuple[str, ...]
    walk_m: float | None = None
    clause: str = ""


@dataclass(frozen=True)
class Circle:
    """A programme circle (Hebi's nine 圈) grouping categories."""

    id: str
    zh: str
    en: str
    categories: tuple[str, ...]

    def name(self, lang: str = "en") -> str:
        """Return the label in ``"zh"`` or ``"en"``.

        Parameters
        ----------
        lang
            Language code.

        Returns
        -------
        str
            The name.
        """
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class LedgerItem:
    """A programme claim: how many of something were built."""

    circle: str
    item_zh: str
    item_en: str
    count: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ProgrammeArea:
    """Where a profile's programme (and so its ledger of claims) applies.

    Attributes
    ----------
    area
        Short id of the area (e.g. ``"hebi"``).
    zh, en
        Its name.
    polygon
        Exterior ring as ``((lon, lat), ...)`` in WGS-84 (a bbox is stored as its four corners).
    area_km2
        The administrative area's land area, km² (the denominator of the study's share).
    population
        Its population (for reference in the report).
    source
        Where the outline and the figures come from.
    """

    area: str
    zh: str
    en: str
    polygon: tuple[tuple[float, float], ...]
    area_km2: float
    population: int | None = None
    source: str = ""

    def name(self, lang: str = "en") -> str:
        """Return the area's name in ``"zh"`` or ``"en"``.

        Parameters
        ----------
        lang
            Language code.

        Returns
        -------
        str
            The name.
        """
        return self.zh if lang == "zh" else self.en

    def geometry(self) -> Any:
        """Return the outline as a shapely Polygon (WGS-84).

        Returns
        -------
        shapely.Polygon
            The outline.
        """
        import shapely

        return shapely.Polygon(self.polygon)


@dataclass(frozen=True)
class Profile:
    """A standard: its categories, tiers, circles and ledger."""

    id: str
    zh: str
    en: str
    source: str
    categories: tuple[Category, ...]
    tiers: tuple[Tier, ...] = ()
    circles: tuple[Circle, ...] = ()
    ledger: tuple[LedgerItem, ...] = ()
    speed_kmh: float = DEFAULT_SPEED_KMH
    verified: bool = False
    communities_claimed: int | None = None
    programme: ProgrammeArea | None = None
    path: str = ""
    _by_id: dict[str, Category] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({c.id: c for c in self.categories})

    @property
    def category_ids(self) -> list[str]:
        """Category ids in profile order."""
        return [c.id for c in self.categories]

    def category(self, category_id: str) -> Category:
        """Return a category by id.

        Parameters
        ----------
        category_id
            The id.

        Returns
        -------
        Category
            The category.
        """
        try:
            return self._by_id[category_id]
        except KeyError:
            msg = f"profile {self.id}: no category {category_id!r}; it has {', '.join(self.category_ids)}"
            raise InputError(msg) from None

    def name(self, lang: str = "en") -> str:
        """Return the profile's name in ``"zh"`` or ``"en"``.

        Parameters
        ----------
        lang
            Language code.

        Returns
        -------
        str
            The name.
        """
        return self.zh if lang == "zh" else self.en

    def classify_tags(self, tags: Mapping[str, str]) -> list[str]:
        """Return the ids of every category whose OSM rules match.

        Parameters
        ----------
        tags
            OSM tags of one feature.

        Returns
        -------
        list of str
            Category ids (a feature may serve several).
        """
        return [c.id for c in self.categories if c.matches_tags(tags)]

    def classify_typecode(self, typecode: str) -> list[str]:
        """Return the ids of every category whose AMap prefixes match.

        Parameters
        ----------
        typecode
            AMap type code(s).

        Returns
        -------
        list of str
            Category ids.
        """
        return [c.id for c in self.categories if c.matches_typecode(typecode)]

    def category_for_label(self, label: str) -> str | None:
        """Map a table's category label (id, zh or en name, any case) to a category id.

        Parameters
        ----------
        label
            The label.

        Returns
        -------
        str or None
            The id, or None if nothing matches.
        """
        key = str(label).strip().lower()
        for c in self.categories:
            if key in {c.id.lower(), c.zh.lower(), c.en.lower()}:
                return c.id
        return None

    def overpass_tags(self) -> dict[str, bool | list[str]]:
        """Return the tags an Overpass features query must ask for to see every category.

        Only each rule's first positive term is asked for (``amenity=school + name~小学``
        asks for ``amenity=school``); features are classified locally afterwards.

        Returns
        -------
        dict
            Key -> True (any value) or a sorted list of values, as osmnx's ``features_from_*``
            functions take them.
        """
        wanted: dict[str, set[str] | None] = {}
        for category in self.categories:
            for rule in category.osm:
                first = next(t for t in rule.terms if t.op != "!=")
                if first.op == "=" and wanted.get(first.key, set()) is not None:
                    wanted.setdefault(first.key, set()).update(first.values)  # type: ignore[union-attr]
                else:
                    wanted[first.key] = None
        return {k: True if v is None else sorted(v) for k, v in sorted(wanted.items())}

    def claimed_by_category(self) -> dict[str, int]:
        """Return the ledger's claimed count per category (items spanning several are shared).

        Returns
        -------
        dict
            Category id -> claimed count (items without categories are left out).
        """
        out: dict[str, int] = {}
        for item in self.ledger:
            for cid in item.categories:
                out[cid] = out.get(cid, 0) + item.count
        return out


# ---------------------------------------------------------------------------- loading


def list_profiles() -> list[str]:
    """Return the ids of the profiles that ship with walkcircle.

    Returns
    -------
    list of str
        Sorted ids.
    """
    folder = resources.files("walkcircle.profiles")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(profile: str | Path) -> Profile:
    """Load and validate a profile by id (shipped) or by path (the user's own TOML).

    Parameters
    ----------
    profile
        ``"gb50180-2018"``, ``"mofcom-2021"``, ``"hebi-2021"`` or a path to a ``.toml`` file.

    Returns
    -------
    Profile
        The validated profile.

    Raises
    ------
    InputError
        Unknown id, unreadable file, bad TOML, unknown keys, bad thresholds, duplicate ids,
        references to missing categories.
    """
    text = str(profile)
    if text in list_profiles():
        resource = resources.files("walkcircle.profiles") / f"{text}.toml"
        label = f"profile {text}"
        raw_text = resource.read_text(encoding="utf-8")
    else:
        path = Path(text)
        if path.suffix != ".toml" and not path.exists():
            close = difflib.get_close_matches(text, list_profiles(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown profile {text!r}{hint}; use one of {', '.join(list_profiles())} or a path to a .toml file"
            raise InputError(msg)
        if not path.exists():
            msg = f"{path}: profile file not found"
            raise InputError(msg)
        label = str(path)
        try:
            raw_text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{path}: cannot read profile ({exc.__class__.__name__})"
            raise InputError(msg) from exc
    try:
        data = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{label}: not valid TOML ({exc})"
        raise InputError(msg) from exc
    return profile_from_dict(data, label)


def profile_from_dict(data: Mapping[str, Any], label: str = "profile") -> Profile:
    """Validate parsed TOML and build a `Profile`.

    Parameters
    ----------
    data
        The parsed document.
    label
        Name used in error messages (file path or profile id).

    Returns
    -------
    Profile
        The profile.
    """
    _check_keys(data, _PROFILE_KEYS, label)
    for key in ("id", "category"):
        if key not in data:
            msg = f"{label}: missing required key {key!r}"
            raise InputError(msg)
    categories = _categories(data["category"], label)
    seen = {c.id for c in categories}

    def known(ids: Iterable[str], where: str) -> tuple[str, ...]:
        out = tuple(str(i) for i in ids)
        for cid in out:
            if cid not in seen:
                msg = f"{label}: {where} refers to unknown category {cid!r}"
                raise InputError(msg)
        return out

    tiers = [_tier(raw, label, known) for raw in data.get("tier", [])]
    circles = _circles(data.get("circle", []), label, known)
    circle_ids = {c.id for c in circles}
    ledger = [_ledger_item(raw, label, circle_ids, known) for raw in data.get("ledger", [])]
    speed = _positive(data.get("speed_kmh", DEFAULT_SPEED_KMH), f"{label}: speed_kmh", 20.0)
    return Profile(
        id=str(data["id"]),
        zh=str(data.get("zh", data["id"])),
        en=str(data.get("en", data["id"])),
        source=str(data.get("source", "")),
        categories=tuple(categories),
        tiers=tuple(sorted(tiers, key=lambda t: t.minutes)),
        circles=tuple(circles),
        ledger=tuple(ledger),
        speed_kmh=speed,
        verified=bool(data.get("verified", False)),
        communities_claimed=data.get("communities_claimed"),
        programme=_programme(data.get("programme"), label),
        path=label,
    )


def _categories(raw_categories: Any, label: str) -> list[Category]:
    if not isinstance(raw_categories, list) or not raw_categories:
        msg = f"{label}: 'category' must be a non-empty list of [[category]] tables"
        raise InputError(msg)
    categories: list[Category] = []
    for raw in raw_categories:
        cat = _category(raw, label)
        if any(c.id == cat.id for c in categories):
            msg = f"{label}: duplicate category id {cat.id!r}; ids must be unique"
            raise InputError(msg)
        categories.append(cat)
    return categories


def _tier(raw: Mapping[str, Any], label: str, known: Any) -> Tier:
    _check_keys(raw, _TIER_KEYS, f"{label}: tier")
    minutes = _positive(raw.get("minutes"), f"{label}: tier minutes", _MAX_THRESHOLD_MIN)
    return Tier(
        minutes=minutes,
        zh=str(raw.get("zh", f"{minutes:g}分钟")),
        en=str(raw.get("en", f"{minutes:g} minutes")),
        categories=known(raw.get("categories", []), f"tier {minutes:g} min"),
        walk_m=float(raw["walk_m"]) if "walk_m" in raw else None,
        clause=str(raw.get("clause", "")),
    )


def _circles(raws: list[Mapping[str, Any]], label: str, known: Any) -> list[Circle]:
    circles: list[Circle] = []
    for raw in raws:
        _check_keys(raw, _CIRCLE_KEYS, f"{label}: circle")
        cid = str(raw.get("id", ""))
        if not cid or any(c.id == cid for c in circles):
            msg = f"{label}: circle ids must be present and unique (got {cid!r})"
            raise InputError(msg)
        circles.append(
            Circle(
                cid,
                str(raw.get("zh", cid)),
                str(raw.get("en", cid)),
                known(raw.get("categories", []), f"circle {cid}"),
            )
        )
    return circles


def _ledger_item(raw: Mapping[str, Any], label: str, circle_ids: set[str], known: Any) -> LedgerItem:
    _check_keys(raw, _LEDGER_KEYS, f"{label}: ledger")
    if circle_ids and raw.get("circle") not in circle_ids:
        msg = f"{label}: ledger item {raw.get('item_en')!r} refers to unknown circle {raw.get('circle')!r}"
        raise InputError(msg)
    count = raw.get("count")
    if not isinstance(count, int) or count < 0:
        msg = f"{label}: ledger item {raw.get('item_en')!r}: count must be a whole number >= 0"
        raise InputError(msg)
    return LedgerItem(
        circle=str(raw.get("circle", "")),
        item_zh=str(raw.get("item_zh", "")),
        item_en=str(raw.get("item_en", "")),
        count=count,
        categories=known(raw.get("categories", []), f"ledger item {raw.get('item_en')!r}"),
    )


def _category(raw: Mapping[str, Any], label: str) -> Category:
    cid = str(raw.get("id", "")).strip()
    where = f"{label}: category {cid or '(no id)'!r}"
    if not cid:
        msg = f"{label}: a category has no id"
        raise InputError(msg)
    _check_keys(raw, _CATEGORY_KEYS, where)
    has_m, has_min = "threshold_m" in raw, "threshold_min" in raw
    if has_m == has_min:
        msg = f"{where}: give exactly one of threshold_m (metres) or threshold_min (minutes)"
        raise InputError(msg)
    threshold_m = _positive(raw["threshold_m"], f"{where}: threshold_m", _MAX_THRESHOLD_M) if has_m else None
    threshold_min = (
        _positive(raw["threshold_min"], f"{where}: threshold_min", _MAX_THRESHOLD_MIN) if has_min else None
    )
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        msg = f"{where}: weight must be a number >= 0 (got {weight!r})"
        raise InputError(msg)
    rules = []
    for text in raw.get("osm", []):
        try:
            rules.append(parse_rule(str(text)))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from exc
    amap = tuple(str(p).strip() for p in raw.get("amap", []))
    if any(not p.isdigit() for p in amap):
        msg = f"{where}: AMap type-code prefixes must be digits (got {list(amap)})"
        raise InputError(msg)
    return Category(
        id=cid,
        zh=str(raw.get("zh", cid)),
        en=str(raw.get("en", cid)),
        osm=tuple(rules),
        amap=amap,
        threshold_m=threshold_m,
        threshold_min=threshold_min,
        weight=float(weight),
        clause=str(raw.get("clause", "")),
        group=str(raw.get("group", "")),
    )


def _programme(raw: Mapping[str, Any] | None, label: str) -> ProgrammeArea | None:
    if raw is None:
        return None
    where = f"{label}: [programme]"
    _check_keys(raw, _PROGRAMME_KEYS, where)
    if ("bbox" in raw) == ("polygon" in raw):
        msg = f"{where}: give exactly one of bbox = [W, S, E, N] or polygon = [[lon, lat], ...] (WGS-84)"
        raise InputError(msg)
    if "bbox" in raw:
        box = raw["bbox"]
        ok = isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)
        if not ok or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
            msg = f"{where}: bbox must be [W, S, E, N] in degrees with W < E and S < N (got {box!r})"
            raise InputError(msg)
        w, s, e, n = (float(v) for v in box)
        ring = ((w, s), (e, s), (e, n), (w, n))
    else:
        points = raw["polygon"]
        ok = isinstance(points, list) and len(points) >= 3
        ok = ok and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) for v in p) for p in points
        )
        if not ok:
            msg = f"{where}: polygon must be a list of at least 3 [lon, lat] pairs (got {points!r})"
            raise InputError(msg)
        ring = tuple((float(p[0]), float(p[1])) for p in points)
    area_km2 = _positive(raw.get("area_km2"), f"{where}: area_km2", 1e7)
    population = raw.get("population")
    if population is not None and (not isinstance(population, int) or population < 0):
        msg = f"{where}: population must be a whole number >= 0 (got {population!r})"
        raise InputError(msg)
    area_id = str(raw.get("area", "")).strip()
    if not area_id:
        msg = f'{where}: missing area (a short id such as "hebi")'
        raise InputError(msg)
    return ProgrammeArea(
        area=area_id,
        zh=str(raw.get("zh", area_id)),
        en=str(raw.get("en", area_id)),
        polygon=ring,
        area_km2=area_km2,
        population=population,
        source=str(raw.get("source", "")),
    )


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        msg = f"{where}: expected a table, got {type(raw).__name__}"
        raise InputError(msg)
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(sorted(allowed))}"
            msg = f"{where}: unknown key {key!r}{hint}"
            raise InputError(msg)


def _positive(value: Any, where: str, maximum: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not (0 < value <= maximum):
        msg = f"{where} must be a number > 0 and <= {maximum:g} (got {value!r})"
        raise InputError(msg)
    return float(value)

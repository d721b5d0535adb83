"""folium elements whose rendered text reaches the page verbatim.

branca renders a `MacroElement` (a GeoJson layer, a tooltip, a layer control...) by filling its
template and then wrapping the result in a new ``Element(text)``, which compiles that text as a
Jinja template again. Data inside the text is then read as template code: a facility named
``A {{ 7*7 }} B`` shows as ``A 49 B`` and one named ``{% x`` stops the map with a syntax error;
compiling megabytes of GeoJSON as templates also costs seconds on a city map. The classes
here fill their templates once and put the result into the page as it is.

Use them wherever folium's own class would take our data (names, labels, GeoJSON).

A `GeoJson` layer's geometries may be `RawGeometry`: GeoJSON text as GEOS wrote it, put into
the page as it is. Parsing megabytes of polygons into Python objects only to dump them again
took about 40% of drawing a city map.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import folium
from branca.element import Element, MacroElement

__all__ = [
    "CircleMarker",
    "FeatureGroup",
    "GeoJson",
    "GeoJsonPopup",
    "GeoJsonTooltip",
    "LayerControl",
    "Marker",
    "RawGeometry",
    "Tooltip",
    "VerbatimElement",
    "VerbatimMacro",
]


class VerbatimElement(Element):
    """A piece of HTML or script put into the page as it is (never read as a template).

    Parameters
    ----------
    text
        The text.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self._text


class VerbatimMacro(MacroElement):
    """A `MacroElement` whose filled-in header, html and script go into the page verbatim."""

    def render(self, **kwargs: Any) -> None:
        """Fill the template's macros into the page, then render the children."""
        figure = self.get_root()
        targets = {"header": figure.header, "html": figure.html, "script": figure.script}
        for part, text in self._filled(kwargs).items():
            targets[part].add_child(VerbatimElement(text), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)

    def _filled(self, kwargs: dict[str, Any]) -> dict[str, str]:
        """Fill in the template's header, html and script macros."""
        macros = self._template.module.__dict__
        return {part: macros[part](self, kwargs) for part in ("header", "html", "script") if macros.get(part)}


_TYPE_PREFIX = '{"type":"'


class RawGeometry(Mapping[str, Any]):
    """A GeoJSON geometry kept as the text GEOS wrote (``shapely.to_geojson``).

    `GeoJson` puts the text into the page as it is. Read as a mapping it is parsed once, on
    first use, except for what folium asks of every feature: its ``"type"`` (read from the
    text's start, where GEOS writes it) and its truth (a geometry has two keys).

    Parameters
    ----------
    text
        The geometry's GeoJSON text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed: dict[str, Any] | None = None

    def _mapping(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        if key == "type" and self._parsed is None and self.text.startswith(_TYPE_PREFIX):
            return self.text[len(_TYPE_PREFIX) : self.text.index('"', len(_TYPE_PREFIX))]
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return 2 if self._parsed is None else len(self._parsed)  # "type" and "coordinates" or "geometries"


def geojson_text(data: Any) -> str:
    r"""Write GeoJSON data as Jinja's ``tojson`` would, with each `RawGeometry`'s text as it is.

    Parameters
    ----------
    data
        A FeatureCollection (dicts and lists); geometries may be `RawGeometry`.

    Returns
    -------
    str
        JSON safe to put into an HTML script (``<``, ``>``, ``&`` and ``'`` escaped, as
        ``tojson`` does; GeoJSON geometry text holds none of them).

    Examples
    --------
    >>> geometry = RawGeometry('{"type":"Point","coordinates":[114.3,35.7]}')
    >>> geojson_text({"type": "Feature", "properties": {"name": "<A&B>"}, "geometry": geometry})
    '{"geometry": {"type":"Point","coordinates":[114.3,35.7]}, "properties": {"name": "\\u003cA\\u0026B\\u003e"}, "type": "Feature"}'
    """
    texts: list[str] = []
    token = uuid.uuid4().hex

    def stand_in(value: Any) -> str:
        if isinstance(value, RawGeometry):
            texts.append(value.text)
            return f"{token}:{len(texts) - 1}"
        msg = f"{type(value).__name__} is not JSON serialisable"
        raise TypeError(msg)

    text = json.dumps(data, sort_keys=True, default=stand_in)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return re.sub(f'"{token}:([0-9]+)"', lambda m: texts[int(m.group(1))], text)


# folium's class first, then VerbatimMacro: its render replaces MacroElement's (C3 order
# puts it just before MacroElement), while folium's own render steps still run before it.
class GeoJson(folium.GeoJson, VerbatimMacro):
    """`folium.GeoJson`, rendered verbatim; geometries may be `RawGeometry` text."""

    _STAND_IN: ClassVar[dict[str, str]] = {"walkcircle": "geojson"}

    def _filled(self, kwargs: dict[str, Any]) -> dict[str, str]:
        """Fill the macros with a stand-in for the data, then put the data's text in its place."""
        data = self.data
        stand_in = json.dumps(self._STAND_IN, sort_keys=True)
        self.data = self._STAND_IN
        try:
            filled = super()._filled(kwargs)
        finally:
            self.data = data
        text = geojson_text(data)
        return {part: macro.replace(stand_in, text, 1) for part, macro in filled.items()}


class GeoJsonTooltip(folium.GeoJsonTooltip, VerbatimMacro):
    """`folium.GeoJsonTooltip`, rendered verbatim."""


class GeoJsonPopup(folium.GeoJsonPopup, VerbatimMacro):
    """`folium.GeoJsonPopup`, rendered verbatim."""


class FeatureGroup(folium.FeatureGroup, VerbatimMacro):
    """`folium.FeatureGroup`, rendered verbatim."""


class LayerControl(folium.LayerControl, VerbatimMacro):
    """`folium.LayerControl`, rendered verbatim (layer names are category names)."""


class Marker(folium.Marker, VerbatimMacro):
    """`folium.Marker`, rendered verbatim."""


class CircleMarker(folium.CircleMarker, VerbatimMacro):
    """`folium.CircleMarker`, rendered verbatim (pass a `Tooltip`, not a string)."""


class Tooltip(folium.Tooltip, VerbatimMacro):
    """`folium.Tooltip`, rendered verbatim."""

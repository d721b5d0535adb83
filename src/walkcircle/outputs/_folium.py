"""folium elements whose rendered text reaches the page verbatim.

branca renders a `MacroElement` (a GeoJson layer, a tooltip, a layer control...) by filling its
template and then wrapping the result in a new ``Element(text)``, which compiles that text as a
Jinja template again. Data inside the text is then read as template code: a facility named
``A {{ 7*7 }} B`` shows as ``A 49 B`` and one named ``{% x`` stops the map with a syntax error;
compiling megabytes of GeoJSON as templates also costs seconds on a city map. The classes
here fill their templates once and put the result into the page as it is.

Use them wherever folium's own class would take our data (names, labels, GeoJSON).
"""

from __future__ import annotations

from typing import Any

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
        macros = self._template.module.__dict__
        for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
            macro = macros.get(part)
            if macro is not None:
                target.add_child(VerbatimElement(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


# folium's class first, then VerbatimMacro: its render replaces MacroElement's (C3 order
# puts it just before MacroElement), while folium's own render steps still run before it.
class GeoJson(folium.GeoJson, VerbatimMacro):
    """`folium.GeoJson`, rendered verbatim."""


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

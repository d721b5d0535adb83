"""Static category maps: the streets are drawn once and each map is blitted over them.

A map drawn that way must be the very image a full matplotlib render of the same figure gives.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from study_world import cau_world
from walkcircle.outputs.static_maps import COLOURS, MapCanvas

pytestmark = pytest.mark.slow


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def full_render(canvas: MapCanvas, dpi: int) -> np.ndarray:
    buffer = io.BytesIO()
    canvas.fig.savefig(buffer, format="png", dpi=dpi)
    return pixels(buffer.getvalue())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_blitted_maps_equal_a_full_render(lang):
    study, results = cau_world(lang)
    canvas = MapCanvas(results, lang)
    try:
        categories = list(results.access.categories)
        # the first map (background not yet drawn), others, a repeat, and a change of resolution
        for category, dpi in [(categories[0], 90), *((c, 90) for c in categories[1:4]), (categories[0], 90),
                              (categories[1], 60)]:  # fmt: skip
            drawn = pixels(canvas.draw(study.profile, category, dpi))
            assert drawn.shape[:2] == (
                round(canvas.fig.get_figheight() * dpi),
                round(canvas.fig.get_figwidth() * dpi),
            )
            assert np.array_equal(drawn, full_render(canvas, dpi)), (category, dpi)
    finally:
        canvas.close()


def test_each_map_shows_its_own_coverage():
    study, results = cau_world("en")
    canvas = MapCanvas(results, "en")
    try:
        orange = np.array([int(COLOURS["uncovered"][i : i + 2], 16) for i in (1, 3, 5)])
        shares = {}
        for category in results.access.categories:
            image = pixels(canvas.draw(study.profile, category))[..., :3]
            shares[category] = (np.abs(image - orange).sum(axis=2) < 30).sum()
        reached = {c: results.homes[f"reached_{c}"].mean() for c in results.access.categories}
        most, least = max(reached, key=reached.get), min(reached, key=reached.get)
        assert reached[most] > reached[least] + 0.3
        # fewer homes left uncovered -> fewer orange pixels (the previous map's points are gone)
        assert shares[most] < shares[least]
    finally:
        canvas.close()


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2500])
def test_compound_paths_hold_every_segment_once(n):
    from matplotlib.path import Path as MplPath

    from walkcircle.outputs.static_maps import _compound_paths

    segments = np.random.default_rng(n).random((n, 2, 2))
    paths = _compound_paths(segments, 1000)
    assert len(paths) == -(-n // 1000)
    pieces = [seg for path in paths for seg, _ in path.iter_segments(simplify=False)] if n else []
    # each segment is a MOVETO to its start then a LINETO to its end, in order
    assert len(pieces) == 2 * n
    assert np.allclose(np.array(pieces).reshape(n, 2, 2) if n else segments, segments)
    assert all(
        (p.codes[::2] == MplPath.MOVETO).all() and (p.codes[1::2] == MplPath.LINETO).all() for p in paths
    )

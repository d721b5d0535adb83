"""One small real study shared by the output tests: the CAU extract with six named communities.

Built once per test session (``functools.cache``); each language gets its own results from the
same Study (the network, homes and access are computed once).
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import fixture_path

COMMUNITY_NAMES = ["社区甲", "社区乙", "社区丙", "社区丁", "社区戊", "社区己"]


@functools.cache
def _study():
    from walkcircle import Study
    from walkcircle.errors import WalkcircleWarning
    from walkcircle.sources.osm import read_osm

    osm = fixture_path("cau_map.osm.bz2")
    net = read_osm(osm)
    rng = np.random.default_rng(2)
    pick = rng.choice(net.n_nodes, len(COMMUNITY_NAMES), replace=False)
    folder = Path(tempfile.mkdtemp(prefix="walkcircle-world-"))
    communities = folder / "communities.csv"
    pd.DataFrame(
        {"名称": COMMUNITY_NAMES, "lon": net.lon[pick], "lat": net.lat[pick], "population": 1000}
    ).to_csv(communities, index=False, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        study = Study(osm=osm, communities=communities, profile="hebi-2021", suggest={"elderly_care": 2})
        study.access()
    return study


@functools.cache
def cau_world(lang: str = "en"):
    """Return (study, results) of the CAU study with results in `lang`."""
    from walkcircle.errors import WalkcircleWarning

    study = _study()
    study.update(lang=lang)  # settings are immutable: update() makes new ones
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        results = study.run()
    return study, results

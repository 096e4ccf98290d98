"""``svibench view``: a static, offline page that plays every generator's long video in sync.

The page is plain files (index.html, view.js, view.css, data.js, videos, images, plots): it
opens from ``file://`` with no server and loads nothing from the network. The run data is a
script (``data.js``) rather than JSON because browsers refuse ``fetch`` on ``file://``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from svibench.atomic import atomic_write_text
from svibench.errors import SvibenchError

ASSETS = ("index.html", "view.js", "view.css")


def build_view(runs: list[Path], out: Path | None = None, log=print) -> Path:
    """Write the page for one or more runs; returns the path of ``index.html``.

    Default folder: ``<first run>/view``.
    """
    # view.data imports numpy and the report: not at `svibench --help`
    from svibench.view.data import collect_run

    if not runs:
        raise SvibenchError("svibench view: give at least one run folder")
    page_dir = Path(out) if out else Path(runs[0]) / "view"
    names = [Path(r).resolve().name for r in runs]
    if len(set(names)) < len(names):  # e.g. results/tiny and other/tiny: add the parent folder
        names = [f"{Path(r).resolve().parent.name}-{Path(r).resolve().name}" for r in runs]
    if len(set(names)) < len(names):
        raise SvibenchError(f"svibench view: runs {', '.join(map(str, runs))} cannot be told apart")
    data = {
        "runs": [
            collect_run(Path(r), page_dir, n, log=log) for r, n in zip(runs, names, strict=True)
        ]
    }
    page_dir.mkdir(parents=True, exist_ok=True)
    source = files("svibench.view") / "assets"
    for name in ASSETS:
        atomic_write_text(page_dir / name, (source / name).read_text(encoding="utf-8"))
    payload = json.dumps(data, sort_keys=True, allow_nan=False, ensure_ascii=False)
    # "</" inside a string would end the <script> element early; JSON allows the escape "<\/".
    atomic_write_text(
        page_dir / "data.js", "window.SVIBENCH_VIEW = " + payload.replace("</", "<\\/") + ";\n"
    )
    return page_dir / "index.html"

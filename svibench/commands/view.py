"""``svibench view RUN [RUN ...]``: the offline page that plays every generator in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def view(
    runs: Annotated[list[Path], typer.Argument(help="Run folder(s), e.g. results/tiny.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Page folder (default: RUN/view of the first run)."),
    ] = None,
) -> None:
    """Write RUN/view/index.html: stitched long videos of every generator played in sync,
    per-clip scores, drift plots and the leaderboard; opens from file://, no server."""
    from svibench.view import build_view

    page = build_view(runs, out, log=lambda line: typer.echo(line, err=True))
    typer.echo(f"wrote {page}  (open it in a browser: file://{page.resolve()})")

"""``svibench leaderboard [RUN ...]``: leaderboard.md (+ drift plots) from one or more runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from svibench.commands.options import ConfigOpt, console

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def runs_with_clips(results: Path) -> list[Path]:
    """Every run under ``results/`` that committed at least one clip; the others (runs that
    failed early) are named on stderr and skipped."""
    found = sorted(p.parent for p in results.glob("*/manifest.json"))
    runs = [r for r in found if any((r / "rows").glob("*/*.parquet"))]
    for r in sorted(set(found) - set(runs)):
        sys.stderr.write(f"note: skipping {r}: no committed clips (a run that failed early)\n")
    if not runs:
        from svibench.errors import SvibenchError

        raise SvibenchError(f"{results}: no runs found (run `svibench run SUITE` first)")
    return runs


def leaderboard(
    runs: Annotated[
        list[Path] | None, typer.Argument(help="Run folders (default: every run under results/).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default: the run folder, or results/ for several)."
        ),
    ] = None,
    config: ConfigOpt = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Reference generator for paired comparisons.")
    ] = None,
) -> None:
    """Write leaderboard.md (+ drift plots) from one or more runs."""
    from svibench.render.markdown import write_leaderboard

    if not runs:
        from svibench.config import load_config

        cfg = load_config(config)
        runs = runs_with_clips(cfg.results)
        out = out or cfg.results
    path = write_leaderboard(runs, out, reference=reference)
    console().print(f"wrote {path}")

"""``svibench status RUN``: clips committed per generator × case, failures, throughput, ETA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def status(
    run: Annotated[
        Path, typer.Argument(help="Run folder (results/<name>) or a run name under [run].results.")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="svibench.toml (to resolve a run name).")
    ] = None,
    unfinished: Annotated[
        bool, typer.Option("--unfinished", help="List only units that are not done.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """How far a run is: reads the run folder only, so it works while jobs run."""
    from svibench.status import read_status, render, to_json

    root = run
    if not root.exists() and not root.is_absolute() and len(root.parts) == 1:
        from svibench.config import load_config

        root = load_config(config).results / run
    st = read_status(root)
    if as_json:
        typer.echo(json.dumps(to_json(st), indent=2))
        return
    from rich.console import Console

    render(st, Console(), all_units=not unfinished)

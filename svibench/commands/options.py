"""Option types and output helpers shared by the command modules.

Light on purpose (typer only at import): every command module imports this, and
``svibench --help`` must stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="svibench.toml to use (default: ./svibench.toml)."),
]


def console(width: int = 200):
    """A rich console on stdout; off a terminal (logs, pipes) ``width`` columns wide, so tables
    are not wrapped."""
    from rich.console import Console

    c = Console(stderr=False)
    return c if c.is_terminal else Console(width=width)


def print_table(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines otherwise (pipes, logs: no "…" cuts)."""
    from rich.table import Table

    out = console()
    if out.is_terminal:
        table = Table(*headers, title=title)
        for r in rows:
            table.add_row(*r)
        out.print(table)
        return
    for line in [headers, *rows]:
        sys.stdout.write("\t".join(line) + "\n")


def config_path(config: Path | None) -> Path:
    """The svibench.toml a command reads: --config, else $SVIBENCH_CONFIG, else ./svibench.toml."""
    return config or Path(os.environ.get("SVIBENCH_CONFIG", "svibench.toml"))


def optional_datasets(config: Path | None) -> dict:
    """The [datasets] of svibench.toml, or none when there is no svibench.toml (suite files
    can be validated and shown without a project around them)."""
    path = config_path(config)
    if not path.exists():
        return {}
    from svibench.config import load_config

    return load_config(path).datasets

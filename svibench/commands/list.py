"""``svibench list generators|metrics|trainers``: what is registered (built-ins and plug-ins)."""

from __future__ import annotations

import sys

import typer

from svibench.commands.options import ConfigOpt, config_path, print_table

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.

app = typer.Typer(
    help="List registered generators, metrics and trainers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("generators")
def list_generators(config: ConfigOpt = None) -> None:
    """Registered generator kinds and the named generators of svibench.toml."""
    from svibench.generators.registry import GENERATORS, generator_schedule

    print_table(["kind", "source"], [[k, GENERATORS.source(k)] for k in GENERATORS.names()])
    cfg_path = config_path(config)
    if cfg_path.exists():
        from svibench.config import load_config

        cfg = load_config(cfg_path)
        rows = []
        for n, table in sorted(cfg.generator_tables.items()):
            params = ", ".join(f"{k}={v}" for k, v in table.items() if k != "kind")
            schedule = generator_schedule(n, table).describe()
            rows.append([n, table["kind"], params, schedule, "yes" if n in cfg.generators else ""])
        sys.stdout.flush()
        print_table(["name", "kind", "parameters", "prompts / clips", "default run"], rows)


@app.command("metrics")
def list_metrics() -> None:
    """Registered metrics with their columns, direction and the features they read."""
    from svibench.commands.catalog import describe
    from svibench.metrics.registry import METRICS

    rows = []
    for name in METRICS.names():
        d = describe(name)  # built-ins from a static table: no torch import
        better = ", ".join("↑" if h else "↓" for h in d["higher_is_better"])
        rows.append(
            [name, ", ".join(d["columns"]), better, ", ".join(d["features"]), d["description"]]
        )
    print_table(["metric", "columns", "better", "features", "description"], rows)


@app.command("trainers")
def list_trainers() -> None:
    """Registered trainers (used by `svibench ablate`)."""
    from svibench.train.registry import TRAINERS

    print_table(["trainer", "source"], [[n, TRAINERS.source(n)] for n in TRAINERS.names()])

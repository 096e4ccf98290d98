"""``svibench weights list|check|path|fetch|inspect``: the offline weight catalogue on the command line.

Mount in svibench/cli.py with ``app.add_typer(weights_app, name="weights")`` where
``from svibench.commands.weights import app as weights_app``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from svibench.errors import MissingWeightsError

app = typer.Typer(help="Model weights: where they are looked for, check them, fetch them.")

_CONFIG = typer.Option(None, "--config", "-c", help="svibench.toml with [paths.weights]")


def _overrides(config: Path | None) -> dict:
    from svibench.weights import load_toml_paths

    return load_toml_paths(config)


@app.command("list")
def list_cmd(config: Path | None = _CONFIG) -> None:
    """Every backbone file: metrics using it, where it is looked for, sha256, where to get it."""
    from svibench.weights import CATALOGUE, candidates, resolve

    ov = _overrides(config)
    for name, s in CATALOGUE.items():
        try:
            r = resolve(name, ov, check_hash=False)
            status = f"found ({r.source}): {r.path}"
        except MissingWeightsError:
            status = "MISSING"
        sha = s.sha256 or (f"prefix {s.sha256_prefix}" if s.sha256_prefix else "not recorded")
        typer.echo(f"{name}  ({s.filename}, {s.description})")
        typer.echo(f"  used by:  {', '.join(s.used_by)}")
        typer.echo(f"  status:   {status}")
        typer.echo(
            "  looks in: " + "\n            ".join(str(p) for p, _, _ in candidates(name, ov))
        )
        typer.echo(f"  sha256:   {sha}")
        typer.echo(f"  obtain:   {s.url}  (svibench weights fetch {name})")
        if s.note:
            typer.echo(f"  note:     {s.note}")


@app.command("check")
def check_cmd(
    names: list[str] = typer.Argument(None, help="catalogue names (default: all)"),
    config: Path | None = _CONFIG,
) -> None:
    """Resolve and hash-check files; exit 2 on the first missing or mismatched one."""
    from svibench.weights import CATALOGUE, resolve, sha256_file

    ov = _overrides(config)
    bad: list[str] = []
    for name in names or list(CATALOGUE):
        try:
            r = resolve(name, ov, check_hash=True)
            typer.echo(f"ok       {name:16s} {r.path}  sha256={sha256_file(r.path)[:16]}...")
        except MissingWeightsError as e:
            typer.echo(f"FAILED   {name:16s} {e}")
            bad.append(name)
    if bad:
        raise MissingWeightsError(f"{len(bad)} weight file(s) unusable: {', '.join(bad)}")


@app.command("path")
def path_cmd(name: str, config: Path | None = _CONFIG) -> None:
    """Print the file that would be loaded for NAME (exit 2 if none)."""
    from svibench.weights import resolve

    typer.echo(str(resolve(name, _overrides(config), check_hash=False).path))


@app.command("fetch")
def fetch_cmd(
    name: str,
    into: str = typer.Option("vbench", help="cache to write into: vbench|torch_hub|pyiqa|clip"),
) -> None:
    """Download NAME's published file (needs internet; never used by tests or runs)."""
    from svibench.weights import fetch

    typer.echo(str(fetch(name, into)))


@app.command("inspect")
def inspect_cmd(
    file: Path = typer.Argument(..., help="a LoRA .safetensors file (e.g. an SVI checkpoint)"),
) -> None:
    """A LoRA file's key layout, rank, targeted modules and whether svibench can load it
    (reads only the safetensors header; exit 2 if svibench cannot load it)."""
    from svibench.errors import ConfigError
    from svibench.lora_inspect import inspect_lora

    report = inspect_lora(file)
    for line in report.lines():
        typer.echo(line)
    if not report.loadable:
        raise ConfigError(f"{file}: svibench cannot load this LoRA ({report.problems[0]})")

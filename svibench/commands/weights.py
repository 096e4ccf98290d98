"""``svibench weights list|check|path|fetch|inspect``: the offline weight catalogue on the command line.

Mount in svibench/cli.py with ``app.add_typer(weights_app, name="weights")`` where
``from svibench.commands.weights import app as weights_app``.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from svibench.errors import MissingWeightsError

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.

# one paragraph per item; the weights app has rich markup off (cli.py), so [tables] print as is
_WHERE = "\n\n".join(
    [
        "Where weights are looked for (first hit wins; `list` prints every path tried):",
        '1. svibench.toml [paths.weights] NAME = "file" (or { path = "...", sha256 = "..." }).',
        '2. The folder [paths] weights = "DIR", then $SVIBENCH_WEIGHTS_DIR.',
        "3. Caches derived from ONE setting, the VBench cache V = [paths] vbench_cache (else"
        " $VBENCH_CACHE_DIR, else ~/.cache/vbench): V in VBench's layout; the torch hub"
        " (<home>/hub/checkpoints, <home>/hub/pyiqa) of [paths] torch_home (else $TORCH_HOME,"
        " else ~/.cache/torch), of V/../torch_home and of V/../torch; DreamSim: [paths]"
        " dreamsim_cache (else $SVIBENCH_DREAMSIM_DIR), V/dreamsim_models, V/../dreamsim_models;"
        " then ~/.cache/clip and $HF_HUB_CACHE.",
        'Hashes: the published sha256, or [paths] weights_manifest = "W/MANIFEST.json" for'
        " files that are not the published ones (e.g. the seeded weights of"
        " shared/tools/vbench_ref). Relative paths in svibench.toml are relative to that file,"
        " never to the working folder.",
    ]
)

app = typer.Typer(
    help="Model weights: where they are looked for, check them, fetch them.\n\n" + _WHERE
)

_CONFIG = typer.Option(
    None,
    "--config",
    "-c",
    help="svibench.toml whose [paths] and [paths.weights] to use (default: $SVIBENCH_CONFIG or ./svibench.toml "
    "if present, else the environment and default caches only)",
)


def _paths(config: Path | None):
    """The WeightPaths of ``config`` (or of the default config file when there is one)."""
    from svibench.config import DEFAULT_CONFIG, load_config
    from svibench.weights import WeightPaths

    path = config or Path(os.environ.get("SVIBENCH_CONFIG", DEFAULT_CONFIG))
    if config is None and not path.is_file():
        return WeightPaths(origin="defaults")
    return load_config(path).weight_paths


@app.command("list")
def list_cmd(config: Path | None = _CONFIG) -> None:
    """Every backbone file: metrics using it, every place it is looked for, sha256, source."""
    from svibench.weights import CATALOGUE, candidates, resolve, vbench_cache_dir

    paths = _paths(config)
    typer.echo(f"VBench cache: {vbench_cache_dir(paths)}   (settings from {paths.origin})")
    if paths.manifest:
        typer.echo(f"weights manifest: {paths.manifest}")
    for name, s in CATALOGUE.items():
        try:
            r = resolve(name, paths, check_hash=False)
            status = f"found ({r.source}): {r.path}"
        except MissingWeightsError:
            status = "MISSING"
        sha = s.sha256 or (f"prefix {s.sha256_prefix}" if s.sha256_prefix else "not recorded")
        typer.echo(f"{name}  ({s.filename}, {s.description})")
        typer.echo(f"  used by:  {', '.join(s.used_by)}")
        typer.echo(f"  status:   {status}")
        typer.echo(
            "  looks in: "
            + "\n            ".join(f"{p}  [{src}]" for p, _, src in candidates(name, paths))
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
    """Resolve and hash-check files; exit 2 if any is missing or mismatched."""
    from svibench.weights import CATALOGUE, resolve, sha256_file

    paths = _paths(config)
    bad: list[str] = []
    for name in names or list(CATALOGUE):
        try:
            r = resolve(name, paths, check_hash=True)
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

    typer.echo(str(resolve(name, _paths(config), check_hash=False).path))


@app.command("fetch")
def fetch_cmd(
    name: str,
    into: str = typer.Option("vbench", help="cache to write into: vbench|torch_hub|pyiqa|clip"),
    config: Path | None = _CONFIG,
) -> None:
    """Download NAME's published file (needs internet; never used by tests or runs)."""
    from svibench.weights import fetch

    typer.echo(str(fetch(name, into, _paths(config))))


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

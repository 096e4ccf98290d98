"""``svibench run SUITE``: generate and score every clip of a suite, print the summary table.

Fanned-out and dry runs (``--executor``, ``--shards``, ``--dry-run``) go to run_scale.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from svibench.commands.options import ConfigOpt, console

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def parse_shard(shard: str) -> tuple[int, int]:
    """``--shard I/N`` -> (I, N), with 0 <= I < N."""
    from svibench.errors import ConfigError

    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {shard!r}: expected I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {shard!r}: need 0 <= I < N")
    return i, n


@contextmanager
def no_stub(root: Path) -> Iterator[None]:
    """A run that fails before committing any clip leaves no ``results/<name>/`` behind (a
    manifest-only stub would later break a bare `svibench leaderboard`); earlier runs and
    runs with committed clips are kept as they are."""
    created = not root.exists()
    try:
        yield
    except BaseException:
        if created and root.is_dir() and not any((root / "rows").glob("*/*.parquet")):
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        raise


def generator_names(generator: list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``-g a -g b,c`` -> ("a", "b", "c"); none given -> the [run].generators default."""
    names = (g.strip() for item in (generator or []) for g in item.split(","))
    return tuple(g for g in names if g) or default


def run(
    suite_file: Annotated[Path, typer.Argument(help="Suite TOML, e.g. suites/tiny.toml.")],
    config: ConfigOpt = None,
    generator: Annotated[
        list[str] | None,
        typer.Option(
            "--generator",
            "-g",
            help="Generator name(s) from svibench.toml (repeatable or comma-separated); default [run].generators.",
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", "-m", help="Metric set name or comma-separated metric names."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Run name (folder under results/); default: the suite name."),
    ] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="Results directory (default [run].results).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, cuda:N or auto.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Torch/OpenMP threads.")
    ] = None,
    shard: Annotated[
        str, typer.Option("--shard", help="Run shard I/N of the (generator, case) units.")
    ] = "0/1",
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset folder for suites with a [dataset].")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh/--resume", help="Start over (delete this run) or resume (default)."),
    ] = False,
    videos: Annotated[
        bool | None, typer.Option("--videos/--no-videos", help="Save each clip as mp4.")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor", help="Fan out: local | parallel | slurm (default \\[executor].kind)."
        ),
    ] = None,
    shards: Annotated[
        int | None, typer.Option("--shards", min=1, help="Shard jobs (balanced by work).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would run and its GPU-hours; run nothing.")
    ] = False,
) -> None:
    """Run a suite through generators, score every clip, print the summary table."""
    from svibench.config import load_config
    from svibench.suite import load_suite

    cfg = load_config(config)
    st = load_suite(suite_file, data=data, datasets=cfg.datasets)
    gens = generator_names(generator, cfg.generators)
    for g in gens:
        cfg.generator_table(g)
    root = (results or cfg.results) / (name or st.name)
    if executor or shards or dry_run:  # fanned out / estimated: svibench/commands/run_scale.py
        from svibench.commands.run_scale import scale_run

        if shard != "0/1":
            from svibench.errors import ConfigError

            raise ConfigError("--shard I/N runs one shard by hand; it cannot go with --shards")
        return scale_run(
            st, cfg, gens, cfg.metric_set(metrics), root, device=device, threads=threads,
            save_videos=videos, executor=executor, shards=shards, dry_run=dry_run, fresh=fresh,
            progress=progress, console=console(),
        )  # fmt: skip
    from svibench.render.console import print_summary  # after the branch: --dry-run stays light
    from svibench.runner import run_suite

    if fresh and root.exists():
        import shutil

        shutil.rmtree(root)
    dev = cfg.resolve_device(device)
    shard_ij = parse_shard(shard)
    with no_stub(root):
        result = run_suite(
            st,
            cfg,
            gens,
            cfg.metric_set(metrics),
            root,
            device=dev,
            threads=threads or cfg.threads,
            shard=shard_ij,
            save_videos=cfg.save_videos if videos is None else videos,
            show_progress=progress,
        )
    t = result.timings
    out = console()
    out.print(
        f"[green]done[/green]: {t.clips} clips generated, {t.skipped} resumed, in {t.wall:.1f} s "
        f"(generate {t.generate:.1f} s, metrics {t.metrics:.1f} s) -> {root}"
    )
    print_summary(root, out)

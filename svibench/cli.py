"""The ``svibench`` command line (typer). Heavy libraries are imported inside commands only,
so ``svibench --help`` stays fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="svibench",
    help="Benchmark long-horizon image-to-video generation (SVI, Wan 2.1 chained, your models).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts name TOML tables like [run]; rich markup would eat them
)
suite_app = typer.Typer(
    help="Import, validate and show suite files.", no_args_is_help=True, rich_markup_mode=None
)
list_app = typer.Typer(
    help="List registered generators, metrics and trainers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(suite_app, name="suite")
app.add_typer(list_app, name="list")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("svibench")
        except PackageNotFoundError:  # running from a source tree that is not installed
            v = "unknown (not installed)"
        typer.echo(f"svibench {v}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the version."),
    ] = False,
) -> None:
    """Benchmark long-horizon image-to-video generation (SVI, Wan 2.1 chained, your models)."""


_MOUNTED = False


def _mount() -> None:
    """Subcommands that live in their own modules (svibench/commands/); imports stay light.

    One line per command: a new command module is mounted by adding its line here.
    """
    global _MOUNTED
    if _MOUNTED:
        return
    _MOUNTED = True
    from svibench.commands import weights
    from svibench.commands.ablate import ablate
    from svibench.commands.check import check
    from svibench.commands.score import score
    from svibench.commands.status import status
    from svibench.commands.view import view

    weights.app.rich_markup_mode = None  # see app above
    app.add_typer(weights.app, name="weights")
    app.command("ablate")(ablate)
    app.command("check")(check)
    app.command("status")(status)
    app.command("score")(score)
    app.command("view")(view)


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="svibench.toml to use (default: ./svibench.toml)."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


def _console():
    from rich.console import Console

    console = Console(stderr=False)
    return console if console.is_terminal else Console(width=200)  # logs: tables unwrapped


def _parse_shard(shard: str) -> tuple[int, int]:
    from svibench.errors import ConfigError

    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {shard!r}: expected I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {shard!r}: need 0 <= I < N")
    return i, n


@contextmanager
def _no_stub(root: Path) -> Iterator[None]:
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


@app.command()
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
    debug: DebugOpt = False,
) -> None:
    """Run a suite through generators, score every clip, print the summary table."""
    from svibench.config import load_config
    from svibench.suite import load_suite

    cfg = load_config(config)
    st = load_suite(suite_file, data=data, datasets=cfg.datasets)
    gens = (
        tuple(g.strip() for item in (generator or []) for g in item.split(",") if g.strip())
        or cfg.generators
    )
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
            progress=progress, console=_console(),
        )  # fmt: skip
    from svibench.report import print_summary  # after the branch: --dry-run stays light
    from svibench.runner import run_suite

    if fresh and root.exists():
        import shutil

        shutil.rmtree(root)
    dev = cfg.resolve_device(device)
    shard_ij = _parse_shard(shard)
    with _no_stub(root):
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
    console = _console()
    console.print(
        f"[green]done[/green]: {t.clips} clips generated, {t.skipped} resumed, in {t.wall:.1f} s "
        f"(generate {t.generate:.1f} s, metrics {t.metrics:.1f} s) -> {root}"
    )
    print_summary(root, console)


@app.command()
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
    debug: DebugOpt = False,
) -> None:
    """Write leaderboard.md (+ drift plots) from one or more runs."""
    from svibench.config import load_config
    from svibench.leaderboard import write_leaderboard

    if not runs:
        cfg = load_config(config)
        found = sorted(p.parent for p in cfg.results.glob("*/manifest.json"))
        runs = [r for r in found if any((r / "rows").glob("*/*.parquet"))]
        for r in sorted(set(found) - set(runs)):
            sys.stderr.write(f"note: skipping {r}: no committed clips (a run that failed early)\n")
        if not runs:
            from svibench.errors import SvibenchError

            raise SvibenchError(f"{cfg.results}: no runs found (run `svibench run SUITE` first)")
        out = out or cfg.results
    path = write_leaderboard(runs, out, reference=reference)
    _console().print(f"wrote {path}")


@suite_app.command("validate")
def suite_validate(
    suite_file: Path,
    data: Annotated[Path | None, typer.Option("--data")] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check a suite file (keys, images, prompts); exit 2 with the problem if invalid."""
    from svibench.suite import load_reference_image, load_suite

    datasets = _datasets(config)
    st = load_suite(suite_file, data=data, datasets=datasets)
    for case in st.cases:
        load_reference_image(case, (st.protocol.height or 64, st.protocol.width or 64))
    _console().print(
        f"[green]ok[/green]: {suite_file}: suite '{st.name}', {len(st.cases)} cases, {st.protocol.clips} clips each"
    )


@suite_app.command("show")
def suite_show(
    suite_file: Path,
    data: Annotated[Path | None, typer.Option("--data")] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print a suite's protocol and cases (the protocol also without the dataset present)."""
    from rich.table import Table

    from svibench.errors import ConfigError
    from svibench.suite import SVI_DATASET_HINT, load_protocol, load_suite

    console = _console()
    head, p = load_protocol(suite_file)
    try:
        st = load_suite(suite_file, data=data, datasets=_datasets(config))
    except ConfigError as e:
        if SVI_DATASET_HINT not in str(e):  # only "the dataset is not here" is shown, not raised
            raise
        st = None
        missing = str(e)
    name = st.name if st else head.get("name") or suite_file.stem
    description = st.description if st else head.get("description", "")
    console.print(f"[bold]{name}[/bold] v{head.get('version', 1)}: {description}", markup=True)
    console.print(
        f"{p.clips} clips × {p.frames_per_clip} frames at {p.fps} fps (saved at {p.video_fps}), "
        f"motion frames m={p.motion_frames}, "
        f"seed(k) = {p.seed_base} + {p.seed_stride}·k, size "
        + (f"{p.height}×{p.width}" if p.width else f"native, width ≤ {p.max_width}")
        + f", {p.clips * p.seconds_per_clip:.1f} s per case",
        markup=False,
    )
    if st is None:
        console.print(f"cases: not listed, the dataset is not here ({missing})", markup=False)
        return
    table = Table("case", "image", "prompts", "first prompt")
    for c in st.cases:
        table.add_row(c.id, c.image, str(len(c.prompts)), c.prompts[0][:60])
    console.print(table)
    cfg_path = config or Path(os.environ.get("SVIBENCH_CONFIG", "svibench.toml"))
    if cfg_path.exists():  # each generator's prompt schedule and clip count on this suite
        from svibench.config import load_config
        from svibench.generators.registry import GENERATORS
        from svibench.suite import clip_plan

        console.print("prompts / clips per generator:")
        for n, t in sorted(load_config(cfg_path).generator_tables.items()):
            schedule = GENERATORS.get(t["kind"]).schedule_for(n, t)
            console.print(f"  {n}: {clip_plan(st, schedule)}")


@suite_app.command("import")
def suite_import(
    folder: Annotated[
        Path,
        typer.Argument(help="Dataset folder in the SVI benchmark layout (one folder per sample)."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite file to write.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    clips: Annotated[
        int | None,
        typer.Option(
            "--clips", min=1, help="Clips per case (default: number of prompts, at most 10)."
        ),
    ] = None,
    motion_frames: Annotated[int, typer.Option("--motion-frames", min=0)] = 5,
    debug: DebugOpt = False,
) -> None:
    """Turn a dataset folder (image + prompt.txt per sample) into a suite file with explicit cases."""
    from svibench.suite import write_suite_from_folder

    path = write_suite_from_folder(folder, out, name=name, clips=clips, motion_frames=motion_frames)
    _console().print(f"wrote {path}")


def _print_table(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines otherwise (pipes, logs: no "…" cuts)."""
    from rich.table import Table

    console = _console()
    if console.is_terminal:
        table = Table(*headers, title=title)
        for r in rows:
            table.add_row(*r)
        console.print(table)
        return
    for line in [headers, *rows]:
        sys.stdout.write("\t".join(line) + "\n")


@list_app.command("generators")
def list_generators(config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """Registered generator kinds and the named generators of svibench.toml."""
    from svibench.generators.registry import GENERATORS

    _print_table(["kind", "source"], [[k, GENERATORS.source(k)] for k in GENERATORS.names()])
    cfg_path = config or Path(os.environ.get("SVIBENCH_CONFIG", "svibench.toml"))
    if cfg_path.exists():
        from svibench.config import load_config

        cfg = load_config(cfg_path)
        rows = []
        for n, table in sorted(cfg.generator_tables.items()):
            params = ", ".join(f"{k}={v}" for k, v in table.items() if k != "kind")
            schedule = GENERATORS.get(table["kind"]).schedule_for(n, table).describe()
            rows.append([n, table["kind"], params, schedule, "yes" if n in cfg.generators else ""])
        sys.stdout.flush()
        _print_table(["name", "kind", "parameters", "prompts / clips", "default run"], rows)


@list_app.command("metrics")
def list_metrics(debug: DebugOpt = False) -> None:
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
    _print_table(["metric", "columns", "better", "features", "description"], rows)


@list_app.command("trainers")
def list_trainers(debug: DebugOpt = False) -> None:
    """Registered trainers (used by `svibench ablate`)."""
    from svibench.train.registry import TRAINERS

    _print_table(["trainer", "source"], [[n, TRAINERS.source(n)] for n in TRAINERS.names()])


def _datasets(config: Path | None) -> dict:
    path = config or Path(os.environ.get("SVIBENCH_CONFIG", "svibench.toml"))
    if not path.exists():
        return {}
    from svibench.config import load_config

    return load_config(path).datasets


def _cli_exception_types() -> tuple[type[BaseException], ...]:
    """Command-line parse errors: click's, and the copy of click that newer typer bundles."""
    import click

    return (click.ClickException, typer.TyperException)


def _usage_line(e: BaseException) -> str:
    """One line: where (the command path), what is wrong, and where to look for help."""
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", None) or "svibench"
    msg = " ".join(str(e.format_message()).split())  # type: ignore[attr-defined]
    return f"error: {path}: {msg} (see `{path} --help`)"


def _exit_code(e: BaseException) -> int | None:
    """The exit code carried by click/typer's Exit (either copy), else None."""
    import click

    if isinstance(e, click.exceptions.Exit | typer.Exit):
        return int(e.exit_code)
    return None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every user error is one line on stderr and exit code 2.

    That covers svibench's own errors (SvibenchError) and every command-line parse error
    (unknown option or command, missing argument, bad value), whichever copy of click raised it.
    """
    _mount()
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="svibench", standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - classified below
        import click

        from svibench.errors import SvibenchError

        code = _exit_code(e)
        if code is not None:
            sys.exit(code)
        if isinstance(e, _cli_exception_types()):
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
                sys.stderr.write(str(e.format_message()).rstrip() + "\n")
                sys.exit(2)
            sys.stderr.write(_usage_line(e) + "\n")
            sys.exit(2)
        if isinstance(e, click.exceptions.Abort | typer.Abort):
            sys.stderr.write("aborted\n")
            sys.exit(1)
        if debug:
            raise
        if isinstance(e, SvibenchError):
            sys.stderr.write(f"error: {e}\n")
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()

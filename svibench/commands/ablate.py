"""``svibench ablate``: retrain variants over trainer parameters and compare them in one table.

Mount in svibench/cli.py with ``app.command("ablate")(ablate)``.

Values for several parameters (a grid), any of:
    --param clean_prob=0.1,0.5 --param clean_buffer_update_prob=0.1,1.0
    --param clean_prob --param clean_buffer_update_prob --values 0.1,0.5 --values 0.1,1.0   (in --param order)
    --param clean_prob --param clean_buffer_update_prob --values clean_prob=0.1,0.5 --values clean_buffer_update_prob=0.1,1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def ablate(
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Trainer parameter to sweep (repeatable = grid); NAME or NAME=V1,V2.",
        ),
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option(
            "--values",
            "-v",
            help="Comma list of values; repeat in --param order for grids, or NAME=V1,V2. Default for clean_buffer_update_prob: 0,0.1,0.5,1.0.",
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            "-s",
            help="Training seeds per value (0..N-1); default [ablate].seeds or 1.",
        ),
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option("--suite", help="Evaluation suite TOML (default [ablate].suite)."),
    ] = None,
    trainer: Annotated[
        str | None,
        typer.Option("--trainer", "-t", help="tiny (CPU), wan-lora (GPUs), command, or a plug-in."),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps", "--budget", min=1, help="Training budget: optimizer steps per variant."
        ),
    ] = None,
    base: Annotated[
        str | None, typer.Option("--base", help="Base checkpoint the variants fine-tune from.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Fixed trainer parameter KEY=VALUE for every variant (repeatable)."
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare",
            "-g",
            help="Generators from svibench.toml evaluated alongside (repeatable or comma list).",
        ),
    ] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option(
            "--reference",
            help="Reference value of the paired tests (VALUE, or NAME=VALUE per parameter).",
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", "-m", help="Metric set name or comma-separated metric names."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor", "-x", help="local (sequential) | parallel (processes) | slurm (submitit)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="Parallel workers (0 = cores / threads, or one per GPU)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Ablation name: folder under results/ (default ablate_<params>)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="svibench.toml to use (default: ./svibench.toml)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, cuda:N or auto.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Torch threads per job.")
    ] = None,
    videos: Annotated[
        bool | None,
        typer.Option("--videos/--no-videos", help="Keep evaluation clips as mp4 (default off)."),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh/--resume",
            help="Delete this ablation (trainings included) and start over; default resumes.",
        ),
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Write PNG plots next to the table.")
    ] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Retrain a model for every parameter value x seed, evaluate all variants on a suite, and
    write one table (mean and bootstrap 95 % CI, paired Holm-corrected tests vs the reference).

    Grids: --param a=0.1,0.5 --param b=0,1; or --param a --param b --values 0.1,0.5 --values 0,1
    (values in --param order); or --values a=0.1,0.5. Defaults come from the [ablate] table of
    svibench.toml. Results: results/NAME/ablation.md (+ .parquet, plots/); rerunning resumes and
    never retrains a finished variant."""
    from rich.console import Console

    from svibench.ablate.jobs import run_ablation
    from svibench.ablate.spec import build_spec
    from svibench.config import load_config
    from svibench.render.console import print_ablation_summary

    cfg = load_config(config)
    spec = build_spec(
        cfg,
        params=param,
        values=values,
        seeds=seeds,
        suite=suite,
        trainer=trainer,
        steps=steps,
        base_checkpoint=base,
        sets=set_,
        compare=compare,
        reference=reference,
        metrics=metrics,
        executor=executor,
        workers=workers,
        name=name,
        device=device,
        threads=threads,
        videos=videos,
    )
    console = Console()
    n_var = 1
    for _, vals in spec.params:
        n_var *= len(vals)
    console.print(
        f"ablation [bold]{spec.name}[/bold]: trainer {spec.trainer}, {n_var} value(s) x {len(spec.seeds)} seed(s)"
        f"{f' + {len(spec.compare)} baseline(s)' if spec.compare else ''}, suite {spec.suite}, executor {spec.executor}"
    )
    result = run_ablation(
        spec, cfg, fresh=fresh, show_progress=progress, console=console, plots=plots
    )
    print_ablation_summary(result, console)
    if result.failed:
        console.print(
            f"[yellow]{len(result.failed)} job(s) failed; the others are in the table. Rerun to retry them.[/yellow]"
        )
        raise typer.Exit(1)  # partial result: the table is written, but say so to scripts

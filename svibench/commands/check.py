"""``svibench check``: the CI regression check (mount with ``app.command("check")(check)``).

Exit codes: 0 all figures within tolerance and all invariants hold; 1 a regression (table of
generator, figure, baseline, measured, tolerance, verdict); 2 a usage/config error (raised as
SvibenchError, which the CLI's ``main`` turns into one line and exit code 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svibench.commands import options

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return "NaN" if v != v else f"{v:.6g}"


def check(
    suite: Annotated[
        str | None,
        typer.Argument(
            help="Suite name under suites/ or a suite .toml (default: the suite key of the check section, 'check')."
        ),
    ] = None,
    update: Annotated[
        bool,
        typer.Option("--update", help="Rewrite the baselines from this run and show what changed."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="svibench.toml to use (default: ./svibench.toml)."),
    ] = None,
    tolerance_scale: Annotated[
        float,
        typer.Option(
            "--tolerance-scale", help="Multiply every tolerance (e.g. 10 on a different CPU)."
        ),
    ] = 1.0,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results", help="Keep the check run in this folder (default: a temporary folder)."
        ),
    ] = None,
    generator: Annotated[
        list[str] | None,
        typer.Option(
            "--generator",
            "-g",
            help="Check only these of the check generators (repeatable or comma-separated).",
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every figure, not only the failing ones.")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = False,
) -> None:
    """Run the tiny check suite and compare every metric and drift figure with baselines/tiny/."""
    import tempfile

    from rich.table import Table

    from svibench.check import run_check
    from svibench.check_config import load_check_config, resolve_suite
    from svibench.config import load_config

    cfg = load_config(config)
    chk = load_check_config(cfg)
    suite_file = resolve_suite(suite or chk.suite, cfg)
    console = options.console(width=160)  # CI logs: no wrapping of the tables
    with tempfile.TemporaryDirectory(prefix="svibench-check-") as tmp:
        root = Path(results) if results else Path(tmp) / "run"
        only = tuple(g.strip() for item in (generator or []) for g in item.split(",") if g.strip())
        out = run_check(
            cfg,
            chk,
            suite_file,
            root,
            update=update,
            scale=tolerance_scale,
            show_progress=progress,
            console=console,
            only=only,
        )
    n_fig = len(out.figures)
    bad = [f for f in out.figures if not f.ok]
    if update:
        if out.diff:
            t = Table(
                "generator",
                "figure",
                "old baseline",
                "new baseline",
                title=f"baseline changes ({len(out.diff)})",
            )
            for row in out.diff:
                t.add_row(*row)
            console.print(t)
        else:
            console.print("baselines unchanged")
        for p in out.updated:
            console.print(f"wrote {p}")
        for p in out.removed:
            console.print(f"removed {p}")
    rows = out.figures if show_all else bad
    if rows:
        t = Table(
            "generator",
            "figure",
            "baseline",
            "measured",
            "tolerance",
            "verdict",
            title=f"{out.suite}: {len(bad)} of {n_fig} figures outside tolerance"
            if bad
            else f"{out.suite}: all figures",
        )
        for f in rows:
            tol = "–" if f.tolerance is None else f"{f.limit:.3g} {f.tolerance}"
            style = None if f.ok else "bold red"
            t.add_row(
                f.generator,
                f.figure,
                _num(f.baseline),
                _num(f.measured),
                tol,
                f.verdict,
                style=style,
            )
        console.print(t)
    if out.invariants:
        t = Table("invariant", "values", "verdict", title="invariants")
        for i in out.invariants:
            t.add_row(
                i.text,
                i.detail,
                "skipped" if i.skipped else "ok" if i.ok else "FAIL",
                style=None if i.ok else "bold red",
            )
        console.print(t)
    n_inv_bad = sum(not i.ok for i in out.invariants)
    n_skip = sum(i.skipped for i in out.invariants)
    summary = (
        f"{out.suite}: {n_fig - len(bad)}/{n_fig} figures within tolerance, "
        f"{len(out.invariants) - n_inv_bad - n_skip}/{len(out.invariants)} invariants hold"
        + (f" ({n_skip} skipped)" if n_skip else "")
        + f" ({out.wall:.1f} s)"
    )
    if out.passed:
        console.print(f"[green]check passed[/green]: {summary}")
        return
    if bad and not update:
        console.print("if the change is intended, rerun with --update and commit baselines/")
    console.print(f"[red]check FAILED[/red]: {summary}")
    raise typer.Exit(code=1)

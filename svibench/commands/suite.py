"""``svibench suite import|validate|show``: turn a dataset folder into a suite file, check one,
print one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from svibench.commands.options import (
    ConfigOpt,
    config_path,
    console,
    optional_datasets,
)

# svibench's own modules are imported inside the commands: `svibench --help` imports every
# command module, and config/weights/registries alone would double its start-up time.

if TYPE_CHECKING:
    from rich.console import Console

    from svibench.suite import Protocol, Suite

app = typer.Typer(
    help="Import, validate and show suite files.", no_args_is_help=True, rich_markup_mode=None
)


@app.command("validate")
def suite_validate(
    suite_file: Path,
    data: Annotated[Path | None, typer.Option("--data")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a suite file (keys, images, prompts); exit 2 with the problem if invalid."""
    from svibench.suite import load_reference_image, load_suite

    st = load_suite(suite_file, data=data, datasets=optional_datasets(config))
    for case in st.cases:
        load_reference_image(case, (st.protocol.height or 64, st.protocol.width or 64))
    console().print(
        f"[green]ok[/green]: {suite_file}: suite '{st.name}', {len(st.cases)} cases, {st.protocol.clips} clips each"
    )


def _protocol_line(p: Protocol) -> str:
    """One line: clips, frames, fps, motion frames, seeds, size, seconds per case."""
    return (
        f"{p.clips} clips × {p.frames_per_clip} frames at {p.fps} fps (saved at {p.video_fps}), "
        f"motion frames m={p.motion_frames}, "
        f"seed(k) = {p.seed_base} + {p.seed_stride}·k, size "
        + (f"{p.height}×{p.width}" if p.width else f"native, width ≤ {p.max_width}")
        + f", {p.clips * p.seconds_per_clip:.1f} s per case"
    )


def _print_cases(out: Console, st: Suite) -> None:
    from rich.table import Table

    table = Table("case", "image", "prompts", "first prompt")
    for c in st.cases:
        table.add_row(c.id, c.image, str(len(c.prompts)), c.prompts[0][:60])
    out.print(table)


def _print_clip_plans(out: Console, st: Suite, cfg_path: Path) -> None:
    """Each generator of svibench.toml: its prompt schedule and clip count on this suite."""
    from svibench.config import load_config
    from svibench.generators.registry import generator_schedule
    from svibench.suite import clip_plan

    out.print("prompts / clips per generator:")
    for n, t in sorted(load_config(cfg_path).generator_tables.items()):
        schedule = generator_schedule(n, t)
        out.print(f"  {n}: {clip_plan(st, schedule)}")


@app.command("show")
def suite_show(
    suite_file: Path,
    data: Annotated[Path | None, typer.Option("--data")] = None,
    config: ConfigOpt = None,
) -> None:
    """Print a suite's protocol and cases (the protocol also without the dataset present)."""
    from svibench.errors import ConfigError
    from svibench.suite import SVI_DATASET_HINT, load_protocol, load_suite

    out = console()
    head, p = load_protocol(suite_file)
    try:
        st = load_suite(suite_file, data=data, datasets=optional_datasets(config))
    except ConfigError as e:
        if SVI_DATASET_HINT not in str(e):  # only "the dataset is not here" is shown, not raised
            raise
        st = None
        missing = str(e)
    name = st.name if st else head.get("name") or suite_file.stem
    description = st.description if st else head.get("description", "")
    out.print(f"[bold]{name}[/bold] v{head.get('version', 1)}: {description}", markup=True)
    out.print(_protocol_line(p), markup=False)
    if st is None:
        out.print(f"cases: not listed, the dataset is not here ({missing})", markup=False)
        return
    _print_cases(out, st)
    cfg_path = config_path(config)
    if cfg_path.exists():
        _print_clip_plans(out, st, cfg_path)


@app.command("import")
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
) -> None:
    """Turn a dataset folder (image + prompt.txt per sample) into a suite file with explicit cases."""
    from svibench.suite import write_suite_from_folder

    path = write_suite_from_folder(folder, out, name=name, clips=clips, motion_frames=motion_frames)
    console().print(f"wrote {path}")

"""The ``svibench`` command line (typer). Heavy libraries are imported inside commands only,
so ``svibench --help`` stays fast."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from svibench.commands import list as list_cmd
from svibench.commands import suite, weights
from svibench.commands.ablate import ablate
from svibench.commands.check import check
from svibench.commands.leaderboard import leaderboard
from svibench.commands.run import run
from svibench.commands.score import score
from svibench.commands.status import status
from svibench.commands.view import view
from svibench.errors import SvibenchError

app = typer.Typer(
    name="svibench",
    help="Benchmark long-horizon image-to-video generation (SVI, Wan 2.1 chained, your models).",
    epilog="Add --debug to any command to see the traceback of an error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts name TOML tables like [run]; rich markup would eat them
)


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


def _mount() -> None:
    """One line per command; each lives in its own module under svibench/commands/ and keeps
    its heavy imports inside the command, so mounting them all stays light.

    Commands first, then groups, in the order `svibench --help` lists them.
    """
    app.command("run")(run)
    app.command("leaderboard")(leaderboard)
    app.command("ablate")(ablate)
    app.command("check")(check)
    app.command("status")(status)
    app.command("score")(score)
    app.command("view")(view)
    app.add_typer(suite.app, name="suite")
    app.add_typer(list_cmd.app, name="list")
    weights.app.rich_markup_mode = None  # see app above
    app.add_typer(weights.app, name="weights")


_mount()


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
    args = sys.argv[1:] if argv is None else list(argv)
    # --debug (anywhere, any command): show the traceback. Taken out of argv here, where the
    # traceback is decided, so no command carries a parameter it never reads.
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
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

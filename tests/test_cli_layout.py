"""The command line is mounted from svibench/commands/, one module per command."""

from __future__ import annotations

import typer.main

from svibench import cli


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_command_lives_in_its_own_commands_module():
    group = typer.main.get_command(cli.app)
    found = dict(_commands(group))
    assert {p[0] for p in found} == {
        "run", "leaderboard", "ablate", "check", "status", "score", "view",
        "suite", "list", "weights",
    }  # fmt: skip
    for path, cmd in found.items():
        module = cmd.callback.__module__
        assert module.startswith("svibench.commands."), f"{' '.join(path)} is defined in {module}"
        assert "debug" in {p.name for p in cmd.params} or path[0] == "weights", (
            f"{' '.join(path)}: no --debug option"
        )

"""The command line is mounted from svibench/commands/, one module per command."""

from __future__ import annotations

import pytest
import typer.main

from svibench import cli
from svibench.errors import ConfigError


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
        # --debug is cli.main's (it decides on tracebacks): no command carries a dead parameter
        assert "debug" not in {p.name for p in cmd.params}, f"{' '.join(path)}: unused --debug"


def test_debug_after_any_command_shows_the_traceback(tmp_path, capsys):
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(SystemExit) as done:
        cli.main(["suite", "validate", missing])
    assert done.value.code == 2 and "file not found" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="file not found"):  # the traceback, not one line
        cli.main(["suite", "validate", missing, "--debug"])
    with pytest.raises(SystemExit) as done:
        cli.main(["weights", "list", "--debug"])  # groups without the option before accept it
    assert done.value.code in (0, None)

"""Progress for logs: when output is not a terminal (a SLURM log, ``> run.log``), rich's live
bar prints nothing until the end, so long runs look dead. ``LogProgress`` has the same small
interface (``add_task``/``update``/``advance`` in a ``with``) and prints one plain line at most
every ``every`` seconds, plus the first and the last, with elapsed time and an ETA.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def is_terminal(console: Any = None) -> bool:
    """Whether progress goes to an interactive terminal (rich's live bar) or to a log."""
    if console is not None and hasattr(console, "is_terminal"):
        return bool(console.is_terminal)
    return sys.stdout.isatty()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class LogProgress:
    def __init__(
        self, every: float = 30.0, stream: TextIO | None = None, clock=time.monotonic
    ) -> None:
        self.every, self.stream, self.clock = every, stream, clock
        self.tasks: dict[int, dict[str, Any]] = {}
        self.last = float("-inf")

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> bool:
        for task in self.tasks:
            self._print(task)
        return False

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        task = len(self.tasks)
        self.tasks[task] = {"description": description, "total": total, "done": 0.0}
        self.tasks[task]["start"] = self.clock()
        return task

    def update(self, task: int, description: str | None = None, **_: Any) -> None:
        if description is not None:
            self.tasks[task]["description"] = description

    def advance(self, task: int, amount: float = 1.0) -> None:
        self.tasks[task]["done"] += amount
        if self.clock() - self.last >= self.every:
            self._print(task)

    def line(self, task: int) -> str:
        t = self.tasks[task]
        elapsed = self.clock() - t["start"]
        done, total = t["done"], t["total"]
        text = f"{t['description']}: {done:g}"
        if total:
            text += f"/{total:g} ({100 * done / total:.0f} %)"
        text += f", elapsed {_clock(elapsed)}"
        if total and done:
            text += f", ETA {_clock(elapsed / done * (total - done))}"
        return f"[{time.strftime('%H:%M:%S')}] {text}"

    def _print(self, task: int) -> None:
        self.last = self.clock()
        stream = self.stream or sys.stdout
        stream.write(self.line(task) + "\n")
        stream.flush()


def rich_bar(console: Any) -> Any:
    """The live clip bar on a terminal (description, bar, done/total, elapsed, ETA): one look
    for `svibench run` and a fanned-out run's coordinator."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


class NoProgress:
    """The progress interface doing nothing (``show_progress=False``)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    def add_task(self, *a: Any, **k: Any) -> int:
        return 0

    def update(self, *a: Any, **k: Any) -> None:
        pass

    def advance(self, *a: Any, **k: Any) -> None:
        pass


def progress_display(show: bool, console: Any) -> Any:
    """The progress display of a run or a training: nothing, a rich live bar on a terminal, or
    periodic plain lines in a log (where a live bar would print nothing until the end)."""
    if not show:
        return NoProgress()
    if not is_terminal(console):
        return LogProgress()
    return rich_bar(console)

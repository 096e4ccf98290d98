"""Published numbers (tables from papers or devlogs) kept as data under ``baselines/published/``.

One TOML file per source::

    [source]                     # where the numbers come from (shown with every number)
    title = "SVI DevLog"
    repository = "owner/repo"    # optional
    file = "docs/DevLog.md"      # optional
    lines = "22-32"              # optional
    dates = "2025-10-21"         # optional
    metric = "what the score is"
    confirmed = false            # false: metric/aggregation not confirmed upstream
    note = "..."                 # optional caveat

    [[tables]]
    suite = "10prompt_50s"       # matched against the measured suite's name
    title = "10-Prompt I2V (50-sec)"
    rows = [{ model = "svi-film", score = 62.25, generator = "svi-film" }]  # generator: optional
                                 # svibench generator name whose measured row sits beside it

Numbers are never measured or recomputed here: they are shown, marked "published", with their
source, beside the measured rows of the suite with the same name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from svibench.errors import ConfigError
from svibench.tomlcheck import check_keys, read_toml

DEFAULT_FOLDER = Path("baselines/published")
_SOURCE_KEYS = {
    "title",
    "repository",
    "file",
    "lines",
    "revision",
    "dates",
    "metric",
    "confirmed",
    "note",
}
_TABLE_KEYS = {"suite", "title", "rows"}
_ROW_KEYS = {"model", "score", "generator"}


@dataclass(frozen=True)
class PublishedRow:
    model: str
    score: float
    generator: str | None  # measured generator shown beside it, if any


@dataclass(frozen=True)
class PublishedTable:
    suite: str
    title: str
    rows: tuple[PublishedRow, ...]
    source: dict[str, object]
    path: Path

    @property
    def citation(self) -> str:
        """One line: title, repository file:lines @revision, dates."""
        s = self.source
        parts = [str(s.get("title", self.path.stem))]
        where = "/".join(str(s[k]) for k in ("repository",) if s.get(k))
        if s.get("file"):
            where = f"{where} {s['file']}" if where else str(s["file"])
            if s.get("lines"):
                where += f":{s['lines']}"
        if s.get("revision"):
            where += f" @{s['revision']}"
        if where:
            parts.append(where.strip())
        if s.get("dates"):
            parts.append(str(s["dates"]))
        return ", ".join(parts)


def load_file(path: Path) -> list[PublishedTable]:
    raw = read_toml(path)
    check_keys(raw, {"source", "tables"}, str(path))
    source = raw.get("source", {})
    if not isinstance(source, dict) or "title" not in source:
        raise ConfigError(f"{path} [source]: a table with at least 'title' is required")
    check_keys(source, _SOURCE_KEYS, f"{path} [source]")
    tables = []
    for i, t in enumerate(raw.get("tables", [])):
        where = f"{path} [[tables]] #{i + 1}"
        if not isinstance(t, dict) or not isinstance(t.get("suite"), str):
            raise ConfigError(f"{where}: 'suite' (the suite name, e.g. 10prompt_50s) is required")
        check_keys(t, _TABLE_KEYS, where)
        rows = []
        for j, r in enumerate(t.get("rows", [])):
            rw = f"{where}.rows[{j}]"
            if not isinstance(r, dict):
                raise ConfigError(f"{rw}: expected {{ model = ..., score = ... }}")
            check_keys(r, _ROW_KEYS, rw)
            score = r.get("score")
            if (
                not isinstance(r.get("model"), str)
                or isinstance(score, bool)
                or not isinstance(score, int | float)
            ):
                raise ConfigError(
                    f"{rw}: 'model' (string) and 'score' (number) are required, got {r!r}"
                )
            if not math.isfinite(score):
                raise ConfigError(f"{rw}.score: must be finite, got {score!r}")
            rows.append(PublishedRow(r["model"], float(score), r.get("generator")))
        tables.append(
            PublishedTable(
                t["suite"], str(t.get("title", t["suite"])), tuple(rows), dict(source), path
            )
        )
    return tables


def load_published(folder: Path | None = None) -> list[PublishedTable]:
    """Every table of every ``*.toml`` under ``folder`` (sorted by file name; missing folder: [])."""
    folder = Path(folder) if folder is not None else DEFAULT_FOLDER
    if not folder.is_dir():
        return []
    return [t for path in sorted(folder.glob("*.toml")) for t in load_file(path)]


def for_suite(tables: list[PublishedTable], suite: str) -> list[PublishedTable]:
    return [t for t in tables if t.suite == suite]

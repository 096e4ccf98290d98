"""Leaderboard Markdown: ranking, CIs, published numbers with their source, determinism."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from svibench.errors import ConfigError, SvibenchError
from svibench.published import for_suite, load_file, load_published

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[run]
results = "results"
threads = 1
metrics = "small"
generators = ["tiny-world", "tiny-world-drift"]

[metric_sets]
small = ["ssim_ref", "psnr_ref", "temporal_flickering"]

[generators.tiny-world]
kind = "world"

[generators.tiny-world-drift]
kind = "world"
colour_drift = 0.08
blur_drift = 0.5
noise_drift = 0.01
texture_drift = 0.2
"""

SUITE = """
[suite]
name = "{name}"
version = 1

[protocol]
frames_per_clip = 9
fps = 8
clips = 5
width = 32
height = 32
motion_frames = 1

[[cases]]
id = "a"
image = "world:1"
prompts = ["one"]

[[cases]]
id = "b"
image = "world:2"
prompts = ["two"]

[[cases]]
id = "c"
image = "world:3"
prompts = ["three"]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Two runs: one of a suite named like a published table (10prompt_50s), one of 'mini'."""
    from svibench.config import load_config
    from svibench.runner import run_suite
    from svibench.suite import load_suite

    root = tmp_path_factory.mktemp("lb")
    (root / "svibench.toml").write_text(CONFIG)
    (root / "baselines" / "published").mkdir(parents=True)
    (root / "baselines" / "published" / "svi_devlog.toml").write_bytes(
        (ROOT / "baselines" / "published" / "svi_devlog.toml").read_bytes()
    )
    (root / "baselines" / "published" / "zz_mine.toml").write_text(
        '[source]\ntitle = "My paper"\nmetric = "ssim"\nconfirmed = true\n'
        '[[tables]]\nsuite = "mini"\nrows = [{ model = "world (paper)", score = 0.5, generator = "tiny-world" }]\n'
    )
    cfg = load_config(root / "svibench.toml")
    for name in ("mini", "10prompt_50s"):
        (root / f"{name}.toml").write_text(SUITE.format(name=name))
        run_suite(
            load_suite(root / f"{name}.toml"),
            cfg,
            cfg.generators,
            cfg.metrics,
            root / "results" / name,
            threads=1,
            save_videos=False,
            show_progress=False,
        )
    return root


def test_seed_published_file_has_the_devlog_tables():
    tables = load_published(ROOT / "baselines" / "published")
    short = {t.suite: {r.model: r.score for r in t.rows} for t in tables}
    assert short["10prompt_50s"] == {
        "svi-film-opt-10212025": 63.09,
        "svi-film": 62.25,
        "svi-film-transition": 62.40,
        "Wan 2.1": 52.83,
    }
    assert short["50prompt_250s"] == {
        "svi-film-opt-10212025": 61.92,
        "svi-film": 59.43,
        "svi-film-transition": 57.91,
        "Wan 2.1": 42.31,
    }
    t = for_suite(tables, "10prompt_50s")[0]
    assert "docs/DevLog.md:22-32" in t.citation and "2025-10-21" in t.citation
    assert t.source["confirmed"] is False


def test_leaderboard_ranks_marks_published_and_is_deterministic(project, monkeypatch):
    from svibench.render.markdown import write_leaderboard

    monkeypatch.chdir(project)
    runs = [project / "results" / "mini", project / "results" / "10prompt_50s"]
    out = project / "board"
    path = write_leaderboard(runs, out, reference="tiny-world")
    md = path.read_text()
    first = path.read_bytes()
    plots = {p: p.read_bytes() for p in sorted((out / "plots").glob("*.png"))}
    # sections ordered by suite name whatever the argument order
    assert md.index("## 10prompt_50s") < md.index("## mini")
    # measured rows sorted by the headline (no validated drift measure in this metric set: the
    # first metric, ssim_ref): the drift-free world ranks first
    assert "| 1 | tiny-world |" in md and "| 2 | tiny-world-drift |" in md
    # every dimension with a CI, and cases / seeds counted
    row = next(line for line in md.splitlines() if line.startswith("| 1 | tiny-world |"))
    # 3 metrics; no drift column: none of them is a validated drift measure (docs/validity.md)
    assert len(re.findall(r"\[-?\d+\.\d+, -?\d+\.\d+\]", row)) == 3
    assert row.endswith("| 3 | 5 |")
    # published numbers only in the matching suite, marked and sourced
    pub = md[md.index("## 10prompt_50s") : md.index("## mini")]
    assert "svi-film-opt-10212025 *(published)* | 63.09" in pub
    assert "Wan 2.1 *(published)* | 52.83" in pub and "DevLog.md:22-32" in pub
    assert "(svi_devlog.toml)" not in pub and "](../baselines/published/svi_devlog.toml)" in pub
    mini = md[md.index("## mini") :]
    assert "63.09" not in mini
    # a published row mapped to a measured generator shows the measured headline beside it
    head = next(line for line in mini.splitlines() if line.startswith("| 1 | tiny-world |")).split(
        " | "
    )[2]
    assert f"| world (paper) *(published)* | 0.50 | {head.split(' [')[0]} (`tiny-world`) |" in mini
    assert "Caveat" not in mini  # confirmed source
    assert "61.92" not in md  # the 250 s table belongs to another suite
    # paired comparison and plots linked
    assert "### Paired comparison against `tiny-world`" in md
    assert "| tiny-world-drift | psnr_ref ↑ |" in md and "| worse |" in md
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / link).is_file()
    assert len(plots) == 6
    # byte-identical on rewrite
    write_leaderboard(list(reversed(runs)), out, reference="tiny-world")
    assert path.read_bytes() == first
    assert {p: p.read_bytes() for p in sorted((out / "plots").glob("*.png"))} == plots


def test_reference_must_exist(project, monkeypatch):
    from svibench.render.markdown import write_leaderboard

    monkeypatch.chdir(project)
    with pytest.raises(SvibenchError, match="tiny-wrld"):
        write_leaderboard([project / "results" / "mini"], project / "x", reference="tiny-wrld")


def test_cli_without_arguments_covers_every_run(project, monkeypatch, capsys):
    from svibench import cli

    monkeypatch.chdir(project)
    monkeypatch.delenv("SVIBENCH_CONFIG", raising=False)
    monkeypatch.setattr(sys, "argv", ["svibench", "leaderboard"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 0, capsys.readouterr()
    md = (project / "results" / "leaderboard.md").read_text()
    assert "## 10prompt_50s (run `10prompt_50s`)" in md and "## mini (run `mini`)" in md
    assert "*(published)*" in md  # baselines/published of the current directory


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[source]\ntitle = "x"\n[[tables]]\nsuite = "s"\nrows = [{ model = "m" }]\n', "score"),
        (
            '[source]\ntitle = "x"\n[[tables]]\nsuite = "s"\nrows = [{ model = "m", score = 1, extra = 2 }]\n',
            "extra",
        ),
        ('[[tables]]\nsuite = "s"\nrows = []\n', "title"),
        ('[source]\ntitle = "x"\n[[tables]]\nrows = []\n', "suite"),
    ],
)
def test_bad_published_file_names_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_file(path)

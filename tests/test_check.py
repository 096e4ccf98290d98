"""`svibench check`: passes on committed baselines, fails on regressions, --update repairs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from svibench.check import compare, diff_baselines
from svibench.check_config import DEFAULT_TOLERANCES, CheckConfig, Tolerance, load_check_config
from svibench.config import load_config
from svibench.errors import ConfigError

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
# default metric set: gt (4 columns) + noise + sharpness + colour (4) = 10
# columns, each with its mean and the 5 drift summaries of svibench.analysis.drift.DRIFT_MEASURES
FIGURES = 10 * 6

SMALL_SUITE = """
[suite]
name = "check"
description = "test check suite"
version = 1

[protocol]
frames_per_clip = 9
fps = 8
clips = 4
width = 32
height = 32
motion_frames = 1

[[cases]]
id = "a"
image = "world:1"
prompts = ["one", "two"]

[[cases]]
id = "b"
image = "world:2"
prompts = ["three"]

[[cases]]
id = "c"
image = "world:3"
prompts = ["four"]
"""

CONFIG = """
[run]
results = "results"
threads = 1
metrics = "small"
generators = ["tiny-world", "tiny-world-drift"]

[metric_sets]
small = ["ssim_ref", "psnr_ref", "seam"]

[generators.tiny-world]
kind = "world"

[generators.tiny-world-drift]
kind = "world"
colour_drift = 0.04
blur_drift = 0.3
noise_drift = 0.004
texture_drift = 0.1

[check]
generators = ["tiny-world", "tiny-world-drift"]
metrics = "small"

[[check.invariants]]
kind = "ranks_last"
generator = "tiny-world-drift"
metric = "seam_mad"

[[check.invariants]]
kind = "drifts_most"
generator = "tiny-world-drift"
metric = "psnr_ref"
"""


def svibench(monkeypatch, capsys, cwd: Path, *args: str) -> tuple[int, str]:
    """Run the real CLI entry point in-process; returns (exit code, stdout + stderr)."""
    from svibench import cli
    from svibench.commands.check import check

    if not any(c.name == "check" for c in cli.app.registered_commands):
        cli.app.command("check")(check)  # the lead mounts it the same way in cli.py
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["svibench", *args])
    monkeypatch.delenv("SVIBENCH_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out + out.err


@pytest.fixture
def small(tmp_path: Path) -> Path:
    (tmp_path / "svibench.toml").write_text(CONFIG)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "check.toml").write_text(SMALL_SUITE)
    return tmp_path


def test_committed_baselines_pass(monkeypatch, capsys):
    """The repository's own check (tiny models included) against baselines/tiny/*.json."""
    rc, out = svibench(monkeypatch, capsys, ROOT, "check")
    assert rc == 0, out
    chk = load_check_config(load_config(ROOT / "svibench.toml"))
    n = FIGURES * len(chk.generators)
    k = len(chk.invariants)
    assert "check passed" in out and f"{n}/{n} figures" in out and f"{k}/{k} invariants" in out
    rc, out = svibench(monkeypatch, capsys, ROOT, "check", "-g", "tiny-wrld")
    assert rc == 2 and "tiny-wrld" in out


def test_committed_baselines_cover_every_check_generator():
    from svibench.check import read_baselines

    chk = load_check_config(load_config(ROOT / "svibench.toml"))
    docs = read_baselines(chk.baselines, "check")
    assert set(docs) == set(chk.generators)
    cfg = load_config(ROOT / "svibench.toml")
    for g, doc in docs.items():
        table = cfg.generator_table(g)
        ident = doc["generator_identity"]
        assert {k: ident[k] for k in table if k != "kind"} == {
            k: v for k, v in table.items() if k != "kind"
        }, g
        assert len(doc["figures"]) == FIGURES, g


def test_perturbed_baseline_fails_and_update_repairs(small, monkeypatch, capsys):
    rc, out = svibench(monkeypatch, capsys, small, "check")
    assert rc == 1 and "missing" in out  # no baselines yet
    rc, out = svibench(monkeypatch, capsys, small, "check", "--update")
    assert rc == 0, out
    path = small / "baselines" / "tiny" / "check.tiny-world.json"
    first = path.read_bytes()
    rc, out = svibench(monkeypatch, capsys, small, "check")
    assert rc == 0, out

    doc = json.loads(first)
    doc["figures"]["psnr_ref.mean"] *= 1.01  # 1 %: ten times the default tolerance of means
    path.write_text(json.dumps(doc))
    rc, out = svibench(monkeypatch, capsys, small, "check")
    assert rc == 1
    assert "psnr_ref.mean" in out and "FAIL" in out and "1 of" in out
    # checking only the other generator ignores that baseline; its invariants are skipped
    rc, out = svibench(monkeypatch, capsys, small, "check", "-g", "tiny-world-drift")
    assert rc == 0 and "(2 skipped)" in out, out
    # a looser tolerance lets it through
    rc, out = svibench(monkeypatch, capsys, small, "check", "--tolerance-scale", "20")
    assert rc == 0, out

    rc, out = svibench(monkeypatch, capsys, small, "check", "--update")
    assert rc == 0 and "psnr_ref.mean" in out  # the diff names the changed figure
    assert path.read_bytes() == first  # deterministic: the rerun reproduces the original bytes
    rc, out = svibench(monkeypatch, capsys, small, "check")
    assert rc == 0, out


def test_worse_generator_fails(small, monkeypatch, capsys):
    assert svibench(monkeypatch, capsys, small, "check", "--update")[0] == 0
    cfg = (small / "svibench.toml").read_text()
    # swap the drift-free generator for one that drifts twice as fast as the drifting one
    worse = cfg.replace(
        '[generators.tiny-world]\nkind = "world"\n',
        '[generators.tiny-world]\nkind = "world"\ncolour_drift = 0.08\nnoise_drift = 0.008\n',
    )
    assert worse != cfg
    (small / "svibench.toml").write_text(worse)
    rc, out = svibench(monkeypatch, capsys, small, "check")
    assert rc == 1
    assert "(generator: colour_drift, noise_drift)" in out and "changed" in out
    assert "tiny-world-drift has the worst seam_mad" in out
    inv = [line for line in out.splitlines() if "drifts most" in line]
    assert inv and "FAIL" in inv[0]
    # --update accepts the new numbers but cannot repair a broken invariant
    rc, out = svibench(monkeypatch, capsys, small, "check", "--update")
    assert rc == 1 and "figures within tolerance" in out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c + "\n",
            None,
        ),  # control: valid config -> usage error only from the bad suite name
        (
            lambda c: c.replace(
                'generators = ["tiny-world", "tiny-world-drift"]\nmetrics = "small"',
                'generators = ["tiny-wrld"]',
            ),
            "tiny-wrld",
        ),
        (lambda c: c + '\n[check.tolerance]\n"*" = { abs = -1 }\n', "abs"),
        (
            lambda c: c.replace('kind = "drifts_most"', 'kind = "drifts_sideways"'),
            "drifts_sideways",
        ),
    ],
)
def test_usage_errors_exit_2(small, monkeypatch, capsys, edit, message):
    cfg = small / "svibench.toml"
    cfg.write_text(edit(cfg.read_text()))
    args = ("check", "nosuch") if message is None else ("check",)
    rc, out = svibench(monkeypatch, capsys, small, *args)
    assert rc == 2
    assert (message or "nosuch") in out


def test_tolerance_patterns_first_match_wins(small):
    chk = load_check_config(load_config(small / "svibench.toml"))
    custom = CheckConfig(**{**chk.__dict__, "tolerances": (("psnr_ref.*", Tolerance(0.5, 0.0)),)})
    assert custom.tolerance("psnr_ref.mean") == Tolerance(0.5, 0.0)
    assert custom.tolerance("ssim_ref.mean") == DEFAULT_TOLERANCES[0][1]
    assert custom.tolerance("ssim_ref.rel_drop") == DEFAULT_TOLERANCES[1][1]
    measured = {"g": {"psnr_ref.mean": 20.4, "ssim_ref.mean": 0.5}}
    base = {"g": {"figures": {"psnr_ref.mean": 20.0, "ssim_ref.mean": 0.5, "seam_mad.mean": None}}}
    res = {r.figure: r.verdict for r in compare(measured, base, custom, {})}
    assert res == {"psnr_ref.mean": "ok", "ssim_ref.mean": "ok", "seam_mad.mean": "missing"}
    res = {r.figure: r.verdict for r in compare(measured, base, custom, {}, scale=0.5)}
    assert res["psnr_ref.mean"] == "FAIL"


def test_diff_lists_changed_added_removed():
    old = {"g": {"figures": {"a.mean": 1.0, "b.mean": 2.0}}}
    new = {"g": {"figures": {"a.mean": 1.5, "c.mean": 3.0}}}
    rows = diff_baselines(old, new)
    assert [r[1] for r in rows] == ["a.mean", "b.mean", "c.mean"]
    assert rows[1][3] == "absent" and rows[2][2] == "absent"


def test_invariant_must_name_a_check_generator(small):
    cfg = small / "svibench.toml"
    text = cfg.read_text()
    assert 'kind = "drifts_most"\ngenerator = "tiny-world-drift"' in text
    cfg.write_text(
        text.replace(
            'kind = "drifts_most"\ngenerator = "tiny-world-drift"',
            'kind = "drifts_most"\ngenerator = "other"',
        )
    )
    with pytest.raises(ConfigError, match="other"):
        load_check_config(load_config(cfg))

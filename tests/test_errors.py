"""Bad input: exit code 2, one line naming what and where, no traceback, earlier results intact."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from conftest import run_cli

PLUGIN = """
import numpy as np
from svibench.generators.base import Generator, Session

class _S(Session):
    def __init__(self, kind, protocol, hw):
        self.kind, self.p, self.hw = kind, protocol, hw
    def next_clip(self, prompt, clip, seed):
        t, (h, w) = self.p.frames_per_clip, self.hw
        if self.kind == "nan":
            return np.full((t, h, w, 3), np.nan, np.float32)
        if self.kind == "shape":
            return np.zeros((t, h + 1, w, 3), np.uint8)
        return np.full((t, h, w, 3), (seed * 7 + clip) % 256, np.uint8)

class Flat(Generator):
    params = {"mode": "ok"}
    description = "third-party test generator"
    def start(self, case, protocol, reference):
        return _S(self.config["mode"], protocol, protocol.size_for(reference.shape[:2]))
"""


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict:
    """A throwaway installed distribution exposing a generator through the entry-point group."""
    site = tmp_path / "site"
    (site / "myplug-0.1.dist-info").mkdir(parents=True)
    (site / "myplug.py").write_text(PLUGIN)
    (site / "myplug-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n"
    )
    (site / "myplug-0.1.dist-info" / "entry_points.txt").write_text(
        "[svibench.generators]\nflat = myplug:Flat\n"
    )
    return {"PYTHONPATH": str(site)}


def _add_generators(project: Path, text: str) -> None:
    cfg = project / "svibench.toml"
    cfg.write_text(cfg.read_text() + "\n" + textwrap.dedent(text))


def _assert_user_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, proc.stderr
    for n in needles:
        assert n in err, (n, err)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "log" not in p.parts
    }


def test_third_party_generator_via_entry_point(project, plugin_env):
    _add_generators(project, '[generators.theirs]\nkind = "flat"\n')
    proc = run_cli("list", "generators", cwd=project, env=plugin_env, check=True)
    assert "flat" in proc.stdout and "myplug" in proc.stdout
    run_cli(
        "run",
        "suites/tiny.toml",
        "-g",
        "theirs",
        "--no-progress",
        "--no-videos",
        cwd=project,
        env=plugin_env,
        check=True,
    )
    assert (project / "results" / "tiny" / "rows" / "theirs").is_dir()


def test_generator_errors_keep_earlier_results(project, plugin_env):
    _add_generators(
        project,
        '[generators.nan]\nkind = "flat"\nmode = "nan"\n[generators.shape]\nkind = "flat"\nmode = "shape"\n',
    )
    run_cli("run", "suites/tiny.toml", "--no-progress", cwd=project, check=True)
    before = _digest(project / "results" / "tiny")
    proc = run_cli(
        "run", "suites/tiny.toml", "-g", "nan", "--no-progress", cwd=project, env=plugin_env
    )
    _assert_user_error(proc, "NaN", "generator 'nan'", "clip 0")
    proc = run_cli(
        "run", "suites/tiny.toml", "-g", "shape", "--no-progress", cwd=project, env=plugin_env
    )
    _assert_user_error(proc, "shape", "(17, 65, 64, 3)", "expected (17, 64, 64, 3)")
    after = _digest(project / "results" / "tiny")
    # every earlier file is byte-identical; only the manifest gained the two new generator names
    assert {k: v for k, v in after.items() if k in before and k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }
    import json

    manifest = json.loads((project / "results" / "tiny" / "manifest.json").read_text())
    assert set(manifest["generators"]) == {"tiny-world", "tiny-world-drift", "nan", "shape"}
    assert not any(k.startswith("rows/nan") or k.startswith("rows/shape") for k in after)


@pytest.mark.parametrize(
    ("suite_text", "needles"),
    [
        ("[suite\nname = 'x'", ("malformed TOML",)),
        (
            "[protocol]\nclips = 0\n[[cases]]\nid='a'\nimage='world:1'\nprompts=['p']",
            ("[protocol].clips", ">= 1"),
        ),
        (
            "[protocol]\nclips = 2\n[[cases]]\nid='a'\nimage='world:1'\nprompts=[]",
            ("[[cases]][0].prompts", "empty prompt list"),
        ),
        (
            "[[cases]]\nid='a'\nimage='missing.png'\nprompts=['p']",
            ("[[cases]][0].image", "not found"),
        ),
        (
            "[protocol]\nframes = 3\n[[cases]]\nid='a'\nimage='world:1'\nprompts=['p']",
            ("unknown key 'frames'", "frames_per_clip"),
        ),
    ],
)
def test_bad_suites(project, suite_text, needles):
    (project / "suites" / "bad.toml").write_text(suite_text)
    proc = run_cli("run", "suites/bad.toml", "--no-progress", cwd=project)
    _assert_user_error(proc, "bad.toml", *needles)


def test_unreadable_reference_image(project):
    (project / "suites" / "garbage.png").write_bytes(b"not a png at all")
    (project / "suites" / "img.toml").write_text(
        "[[cases]]\nid='a'\nimage='garbage.png'\nprompts=['p']\n"
    )
    proc = run_cli("run", "suites/img.toml", "--no-progress", cwd=project)
    _assert_user_error(proc, "case 'a'", "cannot read reference image")


def test_unknown_names(project):
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", "-g", "tiny-wrld", cwd=project),
        "no generator named 'tiny-wrld'",
        "did you mean 'tiny-world'",
    )
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", "-m", "ssim_reff", cwd=project),
        "unknown metric 'ssim_reff'",
        "did you mean 'ssim_ref'",
    )
    _add_generators(project, '[generators.odd]\nkind = "wrold"\n')
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", "-g", "odd", cwd=project),
        "[generators.odd].kind",
        "unknown generator kind 'wrold'",
    )
    _add_generators(project, '[generators.typo]\nkind = "world"\ncolor_drift = 0.1\n')
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", "-g", "typo", cwd=project),
        "unknown parameter 'color_drift'",
        "colour_drift",
    )


def test_bad_config_and_results_dir(project):
    cfg = project / "svibench.toml"
    cfg.write_text(cfg.read_text().replace('device = "cpu"', 'device = "gpu"'))
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", cwd=project), "svibench.toml [run].device", "cpu, cuda"
    )
    cfg.write_text(cfg.read_text().replace('device = "gpu"', 'device = "cpu"'))
    cfg.write_text(cfg.read_text().replace('batch_size = "auto"', 'batch_size = "big"'))
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", cwd=project),
        "svibench.toml [run].batch_size",
        '"auto"',
    )
    cfg.write_text(cfg.read_text().replace('batch_size = "big"', 'batch_size = "auto"'))
    (project / "afile").write_text("x")
    _assert_user_error(
        run_cli("run", "suites/tiny.toml", "--results", "afile/sub", cwd=project),
        "results directory",
        "afile",
    )
    _assert_user_error(run_cli("run", "suites/tiny.toml", "--shard", "3/2", cwd=project), "--shard")


def test_changed_config_under_same_name_is_refused(project):
    run_cli("run", "suites/tiny.toml", "--no-progress", "--no-videos", cwd=project, check=True)
    before = _digest(project / "results" / "tiny")
    cfg = project / "svibench.toml"
    cfg.write_text(cfg.read_text().replace("colour_drift = 0.04", "colour_drift = 0.05"))
    proc = run_cli("run", "suites/tiny.toml", "--no-progress", cwd=project)
    _assert_user_error(proc, "generator 'tiny-world-drift'", "different configuration", "--fresh")
    assert _digest(project / "results" / "tiny") == before


def test_missing_dataset_says_where_data_comes_from(project):
    (project / "suites" / "svi.toml").write_text(
        (Path(__file__).parents[1] / "suites" / "10prompt_50s.toml").read_text()
    )
    proc = run_cli("run", "suites/svi.toml", cwd=project)
    _assert_user_error(proc, "vita-video-gen/svi-benchmark", "does not exist")
    proc = run_cli(
        "suite", "validate", "suites/svi.toml", "--data", str(project / "nowhere"), cwd=project
    )
    _assert_user_error(proc, "nowhere", "vita-video-gen/svi-benchmark")

"""The command line as a new user meets it: every usage error is one line and exit code 2,
--version, python -m svibench, help texts, fast untruncated listings, no stub run folders,
incomplete runs marked, progress lines in logs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tomllib
from conftest import ROOT, run_cli


def _one_line_usage_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_option():
    _one_line_usage_error(run_cli("run", "suites/tiny.toml", "--bogus"), "--bogus", "svibench run")


def test_missing_argument():
    _one_line_usage_error(run_cli("run"), "Missing argument", "svibench run")


def test_bad_value():
    _one_line_usage_error(run_cli("run", "suites/tiny.toml", "--threads", "0"), "--threads")


def test_unknown_command():
    _one_line_usage_error(run_cli("nonesuch"), "nonesuch")


def test_option_missing_its_value():
    _one_line_usage_error(run_cli("leaderboard", "--reference"), "--reference")


def test_svibench_error_is_one_line(tmp_path):
    _one_line_usage_error(run_cli("run", str(tmp_path / "nope.toml")), "nope.toml")


def test_version_and_python_m():
    from importlib.metadata import version

    proc = run_cli("--version", check=True)
    assert proc.stdout.strip() == f"svibench {version('svibench')}"
    by_m = subprocess.run(
        [sys.executable, "-m", "svibench", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert by_m.returncode == 0 and by_m.stdout == proc.stdout


def test_help_keeps_toml_table_names():
    assert "[run].generators" in run_cli("run", "--help", check=True).stdout
    assert "[dataset]" in run_cli("run", "--help", check=True).stdout
    assert "[paths.weights]" in run_cli("weights", "list", "--help", check=True).stdout
    assert "[ablate].suite" in run_cli("ablate", "--help", check=True).stdout


def test_list_metrics_is_light_and_untruncated():
    code = (
        "import sys; from svibench.cli import main\n"
        "try:\n    main(['list', 'metrics'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'pyiqa', 'open_clip') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout  # listing imports no backbone library
    assert "…" not in proc.stdout
    from svibench.commands.catalog import BUILTIN_METRICS

    for name, entry in BUILTIN_METRICS.items():
        assert f"{name}\t" in proc.stdout
        assert entry["description"] in proc.stdout  # whole, tab-separated when piped


def test_metric_catalog_matches_the_classes():
    from svibench.commands.catalog import BUILTIN_METRICS, describe_class
    from svibench.metrics.registry import METRICS

    builtins = {n for n in METRICS.names() if "entry point" not in METRICS.source(n)}
    assert set(BUILTIN_METRICS) == builtins
    for name, entry in BUILTIN_METRICS.items():
        assert describe_class(name) == entry, (
            f"{name}: catalog is stale; run `python -m svibench.commands.catalog`"
        )


def test_suite_show_without_the_dataset(tmp_path):
    proc = run_cli("suite", "show", str(ROOT / "suites" / "50prompt_250s.toml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "50 clips × 81 frames at 16 fps" in proc.stdout
    assert "m=5" in proc.stdout and "dataset is not here" in proc.stdout


def test_bitsandbytes_kernels_hint_is_silenced():
    pytest.importorskip("bitsandbytes")
    proc = subprocess.run(
        [sys.executable, "-c", "import svibench, bitsandbytes"], capture_output=True, text=True
    )
    assert "pip install kernels" not in proc.stderr + proc.stdout


BAD_GENERATOR = """
[generators.broken]
kind = "world"
no_such_parameter = 1
"""


def test_failed_run_leaves_no_stub_and_incomplete_run_is_marked(project):
    (project / "svibench.toml").write_text((project / "svibench.toml").read_text() + BAD_GENERATOR)
    # fails before any clip: no results/<name>/ left behind
    proc = run_cli("run", "suites/tiny.toml", "-g", "broken", "--name", "stub", cwd=project)
    _one_line_usage_error(proc, "no_such_parameter")
    assert not (project / "results" / "stub").exists()
    # tiny-world completes, then broken fails: the run is kept, and marked incomplete
    proc = run_cli("run", "suites/tiny.toml", "-g", "tiny-world,broken", "--name", "half",
                   cwd=project)  # fmt: skip
    assert proc.returncode == 2
    # progress went to a pipe: plain periodic lines, the first and the last at least
    n = 6 * len(tomllib.loads((project / "suites" / "tiny.toml").read_text())["cases"])
    assert "tiny-world · " in proc.stdout and f"{n}/{2 * n} (50 %)" in proc.stdout
    # an old-style stub from a failed run (manifest only) is skipped with a note
    (project / "results" / "old-stub").mkdir()
    manifest = (project / "results" / "half" / "manifest.json").read_text()
    (project / "results" / "old-stub" / "manifest.json").write_text(manifest)
    board = run_cli("leaderboard", cwd=project, check=True)
    assert "skipping" in board.stderr and "old-stub" in board.stderr
    text = (project / "results" / "leaderboard.md").read_text()
    assert f"**Incomplete run** (incomplete: broken 0/{n} clips)" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| 1 | tiny-world")]
    assert "incomplete" not in row  # the finished generator is not marked; the run is

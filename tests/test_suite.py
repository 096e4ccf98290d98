"""Suites: SVI prompt files and dataset layout, protocol rules, import/validate, sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from svibench.errors import ConfigError
from svibench.suite import Case, Protocol, find_reference_image, load_suite, parse_prompt_text


def test_prompt_file_formats():
    assert parse_prompt_text("# header\n\na cat\n  a dog  \n# no\n", "p") == ["a cat", "a dog"]
    assert parse_prompt_text('prompts = ["a", "b",\n "c"]\n', "p") == ["a", "b", "c"]
    assert parse_prompt_text("['x', 'y']", "p") == ["x", "y"]
    with pytest.raises(ConfigError, match="not a valid Python list"):
        parse_prompt_text(
            "prompts = [__import__('os').system('echo pwned')]", "p"
        )  # never executed
    with pytest.raises(ConfigError, match="no prompts"):
        parse_prompt_text("# only a comment\n", "p")


def test_prompts_cycle_when_shorter():
    case = Case("c", "world:1", ("a", "b", "c"))
    assert [case.prompt(k) for k in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]


def test_reference_image_lookup_order(tmp_path: Path):
    img = Image.new("RGB", (8, 8))
    for name in ("b.png", "a.jpg", "frame.png"):
        img.save(tmp_path / name)
    assert find_reference_image(tmp_path).name == "frame.png"
    img.save(tmp_path / "frame.jpg")
    assert find_reference_image(tmp_path).name == "frame.jpg"
    (tmp_path / "frame.jpg").unlink()
    (tmp_path / "frame.png").unlink()
    assert find_reference_image(tmp_path).name == "a.jpg"  # any jpg before any png


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((480, 832), (480, 832)),
        ((720, 1280), (464, 832)),
        ((500, 700), (496, 688)),
        ((1080, 1080), (832, 832)),
    ],
)
def test_svi_resolution_rule(hw, expected):
    # width <= 832 keeps native size; else width 832, height int(832 h / w); both floored to /16
    assert Protocol().size_for(hw) == expected


def test_seed_policy():
    assert [Protocol().seed(k) for k in range(4)] == [0, 42, 84, 126]
    assert Protocol(seed_base=7, seed_stride=1).seed(3) == 10


def _dataset(root: Path) -> Path:
    for i, prompts in enumerate(["a\nb\nc\n", "prompts = ['x', 'y']\n"]):
        d = root / f"sample_{i}"
        d.mkdir(parents=True)
        Image.fromarray(np.full((96, 160, 3), 40 * i, np.uint8)).save(d / "frame.png")
        (d / "prompt.txt").write_text(prompts)
    return root


def test_dataset_suite_and_import_roundtrip(project, tmp_path: Path):
    data = _dataset(tmp_path / "data" / "creative_video_gen")
    suite_file = Path(__file__).parents[1] / "suites" / "10prompt_50s.toml"
    st = load_suite(suite_file, data=data.parent)
    assert [c.id for c in st.cases] == ["sample_0", "sample_1"]
    assert (
        st.protocol.frames_per_clip == 81
        and st.protocol.motion_frames == 5
        and st.protocol.clips == 10
    )
    assert st.cases[1].prompt(3) == "y"
    out = project / "suites" / "imported.toml"
    run_cli(
        "suite", "import", str(data), "--out", str(out), "--clips", "3", cwd=project, check=True
    )
    imported = load_suite(out)
    assert [c.prompts for c in imported.cases] == [c.prompts for c in st.cases]
    assert imported.protocol.clips == 3
    proc = run_cli("suite", "validate", str(out), cwd=project, check=True)
    assert "2 cases" in proc.stdout
    proc = run_cli("suite", "show", str(out), cwd=project, check=True)
    assert "sample_1" in proc.stdout


def test_sharding_is_a_partition():
    st = load_suite(Path(__file__).parents[1] / "suites" / "tiny.toml")
    parts = [st.shard(i, 3) for i in range(3)]
    ids = sorted(c.id for p in parts for c in p)
    assert ids == sorted(c.id for c in st.cases)
    assert st.shard(1, 3) == st.shard(1, 3)

"""Suites: SVI prompt files and dataset layout, protocol rules, import/validate, sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from svibench.errors import ConfigError
from svibench.suite import (
    Case,
    Protocol,
    decode_image,
    find_reference_image,
    load_suite,
    parse_prompt_text,
)


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


def test_saved_fps_is_optional_and_keeps_old_digests(tmp_path: Path):
    p = Protocol(clips=3)
    assert p.video_fps == 16 and "saved_fps" not in p.identity()
    q = Protocol(clips=3, saved_fps=24)
    assert q.video_fps == 24 and q.fps == 16 and q.identity()["saved_fps"] == 24
    assert q.seconds_per_clip == p.seconds_per_clip  # content time follows the generation fps
    for name in ("10prompt_50s", "50prompt_250s"):
        text = (Path(__file__).parents[1] / "suites" / f"{name}.toml").read_text()
        assert "saved_fps = 24" in text and "fps = 16" in text


def test_reference_decoded_like_cv2_imread_with_exif(tmp_path: Path):
    # upstream test_svi.py:374 reads the reference with cv2.imread, which applies the EXIF
    # orientation; PIL's Image.open alone would not
    import cv2

    rng = np.random.default_rng(0)
    img = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.jpg"
    im.save(path, exif=exif.tobytes(), quality=95)
    got = decode_image(str(path), "case")
    expected = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert got.shape == (40, 24, 3) and np.array_equal(got, expected)
    with Image.open(path) as raw:
        assert raw.size == (40, 24)  # PIL alone keeps the stored orientation
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ConfigError, match="cannot read reference image"):
        decode_image(str(tmp_path / "bad.png"), "case 'x'")

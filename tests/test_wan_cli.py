"""The real Wan 2.1 / SVI generators through the CLI, on tiny random components (no downloads)."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

SUITE = """
[suite]
name = "wantiny"
[protocol]
frames_per_clip = 9
fps = 16
clips = 3
width = 32
height = 32
motion_frames = 1
[[cases]]
id = "a"
image = "world:7"
prompts = ["a red ball", "a blue cube", "a dog sits"]  # 3 prompts: upstream makes min(clips, prompts)
"""


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from safetensors.torch import save_file
    from tiny_wan import build_tiny_wan, upstream_lora_state

    root = tmp_path_factory.mktemp("wan")
    model = build_tiny_wan(root / "model")
    lora = root / "lora.safetensors"
    save_file({k: v.contiguous() for k, v in upstream_lora_state().items()}, str(lora))
    return model, lora


def test_wan_chained_and_svi_through_cli(project, tiny_models):
    model, lora = tiny_models
    common = f'model = "{model}"\ndtype = "float32"\nsteps = 2\nmax_sequence_length = 16\nprogress = false\n'
    cfg = project / "svibench.toml"
    cfg.write_text(
        cfg.read_text()
        + textwrap.dedent(f"""
        [generators.tw]
        kind = "wan-chained"
        {common}
        [generators.ts]
        kind = "svi"
        variant = "film"
        lora = "{lora}"
        {common}
        """).replace("\n        ", "\n")
    )
    (project / "suites" / "w.toml").write_text(SUITE)
    run_cli(
        "run",
        "suites/w.toml",
        "-g",
        "tw,ts",
        "--no-progress",
        "-m",
        "temporal_flickering,seam",
        cwd=project,
        check=True,
    )
    root = project / "results" / "wantiny"
    rows = pd.concat(pd.read_parquet(p) for p in (root / "rows").glob("*/*.parquet"))
    assert set(rows["generator"]) == {"tw", "ts"}
    assert sorted(
        rows[rows["metric"] == "temporal_flickering"].groupby("generator")["clip"].max()
    ) == [2, 2]
    assert (rows["seed"] == 42 * rows["clip"]).all()
    # the SVI film continuation: the first m = 5 frames of clip k+1 are clip k's last 5 frames
    from svibench.video import read_video

    assert len(list((root / "videos" / "ts" / "a").glob("clip_*.mp4"))) == 3
    state = np.load(next((root / "state" / "ts" / "a").glob("clip_*.npz")))
    assert state["__runner_tail__"].shape == (5, 32, 32, 3)  # the generator's own m (film: 5)
    frames, fps = read_video(root / "videos" / "tw" / "a" / "clip_000.mp4")
    assert frames.shape == (9, 32, 32, 3) and fps == 16
    # same config + seed -> same numbers
    run_cli(
        "run",
        "suites/w.toml",
        "-g",
        "tw",
        "--name",
        "again",
        "--no-progress",
        "--no-videos",
        "-m",
        "temporal_flickering,seam",
        cwd=project,
        check=True,
    )
    again = pd.concat(
        pd.read_parquet(p) for p in (project / "results" / "again" / "rows").glob("*/*.parquet")
    )
    first = rows[rows["generator"] == "tw"].sort_values(["clip", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        first, again.sort_values(["clip", "metric"]).reset_index(drop=True)
    )

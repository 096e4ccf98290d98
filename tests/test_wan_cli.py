"""The real Wan 2.1 / SVI generators through the CLI, on tiny random components (no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, suite_toml, toml_table

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

# 3 prompts for 3 clips: upstream makes min(clips, prompts)
SUITE = suite_toml(
    "wantiny", cases={"a": ("world:7", ["a red ball", "a blue cube", "a dog sits"])}, fps=16
)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from safetensors.torch import save_file
    from tiny_wan import tiny_wan_dir, upstream_lora_state

    lora = tmp_path_factory.mktemp("wan") / "lora.safetensors"
    save_file({k: v.contiguous() for k, v in upstream_lora_state().items()}, str(lora))
    return tiny_wan_dir(), lora


def test_wan_chained_and_svi_through_cli(project, tiny_models):
    model, lora = tiny_models
    common = {
        "model": str(model),
        "dtype": "float32",
        "steps": 2,
        "max_sequence_length": 16,
        "progress": False,
    }
    cfg = project / "svibench.toml"
    cfg.write_text(
        cfg.read_text()
        + toml_table("generators.tw", {"kind": "wan-chained", **common})
        + toml_table("generators.ts", {"kind": "svi", "variant": "film", "lora": lora, **common})
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

"""Motion frames m: the session owns it, the runner records it with every clip, and the report's
time axis follows each generator's own m (not the suite protocol's); generator identities
(not svibench.toml text) are what a resume compares."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import generators_toml
from test_ablate import ablate, proj  # noqa: F401 - proj: the fixture

from svibench.analysis.tables import load_run
from svibench.config import load_config
from svibench.errors import ConfigError
from svibench.generators.tiny import TinyModelGenerator
from svibench.runner import build_generator, run_suite
from svibench.store import MOTION_KEY, RunStore
from svibench.suite import load_suite

torch.set_num_threads(1)

TINY = {"kind": "tiny-model", "checkpoint": "svi", "steps": 1}  # the svi checkpoint: m = 1


def _run(tmp_path: Path, micro_suite, tables: dict, name: str = "run", **protocol):
    suite = load_suite(micro_suite(clips=2, frames_per_clip=9, **protocol))
    cfg_path = tmp_path / "svibench.toml"
    cfg_path.write_text(generators_toml(tables, {"metrics": ["noise"]}))
    root = tmp_path / "results" / name
    run_suite(suite, load_config(cfg_path), tuple(tables), ("noise",), root,
              show_progress=False, save_videos=False)  # fmt: skip
    return root


def test_time_axis_follows_the_generators_own_m(tmp_path, micro_suite):
    # svi-shot on a film suite: m = 1 on a suite with m = 5 -> (9 - 1) / 8 s, not (9 - 5) / 8
    root = _run(tmp_path, micro_suite, {"shot": TINY}, motion_frames=5)
    store = RunStore(root)
    assert store.motion_frames("shot") == 1
    assert store.load_state("shot", "a", 1)[MOTION_KEY] == 1  # recorded with the clip
    assert load_run(root).seconds_per_clip == pytest.approx(1.0)


def test_generators_with_different_m_get_their_own_time_axis(tmp_path, micro_suite):
    root = _run(tmp_path, micro_suite, {"shot": TINY, "world": {"kind": "world"}}, motion_frames=5)
    spc = load_run(root).seconds_per_clip
    assert spc == {"shot": pytest.approx(1.0), "world": pytest.approx(0.5)}


def test_runtime_option_change_resumes_default_change_refuses(tmp_path, micro_suite, monkeypatch):
    _run(tmp_path, micro_suite, {"t": TINY})
    _run(tmp_path, micro_suite, {"t": {**TINY, "threads": 1}})  # runtime-only: resumes
    monkeypatch.setitem(TinyModelGenerator.params, "shift", 4.0)  # a changed code default
    with pytest.raises(ConfigError, match="generator 't' was run here with a different"):
        _run(tmp_path, micro_suite, {"t": TINY})


def test_identity_has_effective_defaults_and_no_runtime_options():
    wan = build_generator("w", {"kind": "wan-chained", "offload": "model"}, "cpu")
    assert wan.identity() == build_generator("w", {"kind": "wan-chained"}, "cpu").identity()
    assert "offload" not in wan.identity() and wan.identity()["steps"] == 50
    tiny = build_generator("t", {"kind": "tiny-model", "checkpoint": "film-base"}, "cpu")
    assert (tiny.identity()["motion_frames"], tiny.identity()["ref_pad_num"]) == (5, 0)
    assert tiny._model is None  # building (and the identity) loads no weights


def test_run_claimed_before_identities_still_resumes(tmp_path, micro_suite):
    root = _run(tmp_path, micro_suite, {"t": TINY})
    claim = root / "claims" / "generators" / "t.json"
    claim.write_text('{"checkpoint": "svi", "kind": "tiny-model", "steps": 1}\n')  # old form
    _run(tmp_path, micro_suite, {"t": TINY})


def test_ablation_compares_generators_with_different_m(proj, capsys):  # noqa: F811
    # variants follow the suite's m = 1; the compared tiny model carries m = 2 itself
    with open(proj / "svibench.toml", "a") as f:
        f.write('\n[generators.tiny-m2]\nkind = "tiny-model"\nsteps = 1\nmotion_frames = 2\n')
    args = ("--param", "clean_buffer_update_prob", "--values", "0,1", "--compare", "tiny-m2")
    assert ablate(*args, "--name", "mixed") == 0, capsys.readouterr()
    run = load_run(proj / "results" / "mixed" / "run")
    assert run.seconds_per_clip["tiny-m2"] == pytest.approx((9 - 2) / 8)
    t = pd.read_parquet(proj / "results" / "mixed" / "ablation.parquet")
    assert set(t["status"]) == {"ok"} and "tiny-m2" in set(t["label"])


def test_checkpoint_with_the_old_key_name_is_a_clear_error(tmp_path):
    """A tiny checkpoint written before the rename names the new key instead of a TypeError."""
    import json
    import shutil

    from svibench.models.tiny import read_config, resolve_checkpoint

    old = tmp_path / "old"
    shutil.copytree(resolve_checkpoint("base"), old)
    meta = json.loads((old / "config.json").read_text())
    meta["model"]["num_motion_frames"] = meta["model"].pop("motion_frames")
    (old / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"model\.num_motion_frames: unknown key \(renamed"):
        read_config(old)

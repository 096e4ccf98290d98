"""Offline weight catalogue: lookup order, errors, hash checks, CLI (no downloads)."""

import hashlib

import pytest
import torch
from typer.testing import CliRunner

from svibench.errors import MissingWeightsError
from svibench.weights import CATALOGUE, WeightPaths, candidates, resolve, use_paths

torch.set_num_threads(1)


@pytest.fixture
def caches(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SVIBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SVIBENCH_VERIFY_WEIGHTS", raising=False)
    monkeypatch.delenv("SVIBENCH_DREAMSIM_DIR", raising=False)
    monkeypatch.delenv("SVIBENCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    use_paths(WeightPaths(origin="defaults"))
    yield tmp_path
    use_paths(WeightPaths(origin="defaults"))


def _cfg(dirpath, body, name="svibench.toml"):
    """A minimal valid svibench.toml with the given [paths] text; loading it activates it."""
    from svibench.config import load_config

    p = dirpath / name
    p.write_text(body + '\n[metric_sets]\ndefault = ["ssim_ref"]\n')
    return load_config(p)


def _touch(p, data=b"x"):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_missing_file_names_file_and_fix(caches):
    with pytest.raises(MissingWeightsError) as e:
        resolve("amt_s")
    msg = str(e.value)
    assert "amt-s.pth" in msg and "svibench weights fetch amt_s" in msg
    assert str(caches / "vb" / "amt_model" / "amt-s.pth") in msg
    assert "\n" not in msg


def test_vbench_cache_layout_and_torch_hub(caches):
    p = _touch(caches / "vb" / "raft_model" / "models" / "raft-things.pth")
    r = resolve("raft_things")
    assert r.path == p and r.fmt == "raft_princeton" and r.source == "vbench"
    # DINO: torch hub dir comes first (what DINO's hubconf really reads)
    vb = _touch(caches / "vb" / "dino_model" / "dino_vitbase16_pretrain.pth")
    assert resolve("dino_vitb16").path == vb
    th = _touch(caches / "th" / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth")
    assert resolve("dino_vitb16").path == th


def test_toml_table_and_folder_override(caches):
    f = _touch(caches / "mine" / "x.pth")
    cfg = _cfg(caches, f'[paths.weights]\namt_s = "{f}"\n')
    assert cfg.weight_paths.files == {"amt_s": f}
    r = resolve("amt_s")
    assert r.path == f and "[paths.weights] amt_s" in r.source
    d = _touch(caches / "flat" / "amt-s.pth")
    _cfg(caches, '[paths]\nweights = "flat"\n')  # relative to the config file
    assert resolve("amt_s").path == d
    _cfg(caches, '[paths.weights]\ndir = "flat"\n')
    assert resolve("amt_s").path == d
    _cfg(caches, '[paths]\nweights = ""\n')
    with pytest.raises(MissingWeightsError):
        resolve("amt_s")


def test_documented_table_form_loads_and_bad_entries_exit_2(caches):
    """Bug (issue 15): `[paths.weights] NAME = "..."` crashed load_config with a TypeError."""
    from svibench.errors import ConfigError

    cfg = _cfg(
        caches, '[paths.weights]\nmusiq_spaq = { path = "m.pth", sha256 = "' + "a" * 64 + '" }\n'
    )
    assert cfg.weight_paths.files["musiq_spaq"] == {"path": caches / "m.pth", "sha256": "a" * 64}
    for body, msg in [
        ('[paths.weights]\nnot_a_weight = "x"\n', "unknown weights name"),
        ("[paths.weights]\namt_s = 3\n", "expected a file path"),
        ('[paths.weights]\namt_s = { path = "x", sha256 = "zz" }\n', "64 hex"),
        ('[paths.weights]\namt_s = { path = "x", extra = 1 }\n', "extra"),
        ("[paths]\nvbench_cache = 1\n", "vbench_cache"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            _cfg(caches, body)


def test_shipped_config_takes_the_documented_table(caches):
    """Bug (issue 15): the shipped `[paths] weights = ""` clashed with `[paths.weights]`."""
    from pathlib import Path

    from svibench.config import load_config

    shipped = (Path(__file__).resolve().parents[1] / "svibench.toml").read_text()
    f = _touch(caches / "m" / "amt-s.pth")
    table = f'[paths.weights]\namt_s = "{f}"\n[paths.datasets]'
    (caches / "svibench.toml").write_text(shipped.replace("[paths.datasets]", table, 1))
    cfg = load_config(caches / "svibench.toml")
    assert cfg.weight_paths.files == {"amt_s": f} and resolve("amt_s").path == f


def test_resolve_follows_the_loaded_config_not_the_cwd(caches, tmp_path_factory):
    """Bug (issue 15): resolve() re-read ./svibench.toml and ignored --config."""
    from svibench.commands.weights import app

    other = tmp_path_factory.mktemp("elsewhere")
    f = _touch(other / "w" / "amt-s.pth")
    (caches / "svibench.toml").write_text('[paths]\nweights = "nowhere"\n')  # in the cwd
    _cfg(other, '[paths]\nweights = "w"\n', name="conf.toml")
    assert resolve("amt_s").path == f
    r = CliRunner().invoke(app, ["path", "amt_s", "--config", str(other / "conf.toml")])
    assert r.exit_code == 0 and r.output.strip() == str(f)


def test_one_vbench_cache_setting_finds_every_cache(caches, tmp_path_factory):
    """[paths] vbench_cache alone finds the VBench cache, the torch hub beside it (DINO) and
    DreamSim's files, in shared/tools/vbench_ref's layout; never relative to the cwd."""
    w = tmp_path_factory.mktemp("W")
    amt = _touch(w / "vbench_cache" / "amt_model" / "amt-s.pth")
    dino = _touch(w / "torch_home" / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth")
    lora = _touch(w / "dreamsim_models" / "ensemble_lora" / "adapter_model.safetensors")
    _touch(caches / "models" / "ensemble_lora" / "adapter_model.bin")  # cwd ./models: ignored
    _cfg(caches, f'[paths]\nvbench_cache = "{w / "vbench_cache"}"\n')
    assert resolve("amt_s").path == amt
    assert resolve("dino_vitb16").path == dino
    assert resolve("dreamsim_ensemble_lora").path == lora
    assert not any(
        p.is_relative_to(caches / "models") for p, _, _ in candidates("dreamsim_ensemble_lora")
    )
    for name in CATALOGUE:
        assert all(p.is_absolute() for p, _, _ in candidates(name))


def test_manifest_verifies_seeded_weights(caches, tmp_path_factory):
    """Non-published files are checked against their own manifest, not skipped."""
    import json

    w = tmp_path_factory.mktemp("W")
    data = b"seeded musiq"
    f = _touch(w / "vbench_cache" / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth", data)
    man = {
        "files": {
            "musiq_spaq": {
                "path": str(f.relative_to(w)),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        }
    }
    (w / "MANIFEST.json").write_text(json.dumps(man))
    _cfg(caches, f'[paths]\nvbench_cache = "{w / "vbench_cache"}"\n')
    with pytest.raises(MissingWeightsError, match="sha256"):
        resolve("musiq_spaq")  # not the published file
    _cfg(
        caches,
        f'[paths]\nvbench_cache = "{w / "vbench_cache"}"\nweights_manifest = "{w / "MANIFEST.json"}"\n',
    )
    assert resolve("musiq_spaq").path == f
    f.write_bytes(b"tampered")
    with pytest.raises(MissingWeightsError, match="MANIFEST"):
        resolve("musiq_spaq")


def test_runner_preflight_checks_every_weight_before_generating(caches, monkeypatch):
    """Bug (issue 15): the LAION head was loaded on the first compute, after a clip had been
    generated. Now a missing head stops the run before any generator loads its model."""
    from svibench.metrics.features import ClipL14VBench, LaionAestheticHead
    from svibench.metrics.registry import METRICS
    from svibench.weights import preload

    assert "laion_aesthetic_head" in METRICS.get("aesthetic_quality").features
    assert "laion_aesthetic_head" in METRICS.get("quality_score").features
    loaded = []
    monkeypatch.setattr(ClipL14VBench, "load", lambda self: loaded.append("clip"))
    with pytest.raises(MissingWeightsError) as e:
        preload({"clip_l14_vbench": ClipL14VBench(), "laion_aesthetic_head": LaionAestheticHead()})
    assert "laion_aesthetic" in str(e.value) and "clip_vitl14" in str(e.value)
    assert loaded == []  # nothing loaded before everything was checked


def test_catalogue_covers_every_backbone_feature():
    from svibench.metrics.registry import FEATURES

    for name in FEATURES.names():
        for w in FEATURES.get(name).weights:
            spec = CATALOGUE[w]
            assert spec.url.startswith("https://") and spec.locations
    assert CATALOGUE["clip_vitb32"].sha256 in CATALOGUE["clip_vitb32"].url


def test_feature_load_raises_missing_weights(caches):
    from svibench.metrics.features import DinoVBench

    with pytest.raises(MissingWeightsError, match="dino_vitbase16_pretrain.pth"):
        DinoVBench().load()


def test_cli_list_path_check(caches):
    from svibench.commands.weights import app

    p = _touch(caches / "vb" / "amt_model" / "amt-s.pth")
    runner = CliRunner()
    r = runner.invoke(app, ["path", "amt_s"])
    assert r.exit_code == 0 and r.output.strip() == str(p)
    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0 and "MISSING" in r.output and f"found (vbench): {p}" in r.output
    r = runner.invoke(app, ["check", "amt_s", "dino_vitb16"])
    assert isinstance(r.exception, MissingWeightsError) and "dino_vitb16" in str(r.exception)
    assert "ok       amt_s" in r.output
    assert [c[2] for c in candidates("amt_s")] == ["vbench"]
    r = runner.invoke(app, ["--help"])
    assert "vbench_cache" in r.output and "dreamsim_cache" in r.output


def test_hf_hub_snapshot_glob(caches):
    p = _touch(caches / "hf" / "models--lalala125--AMT" / "snapshots" / "abc123" / "amt-s.pth")
    r = resolve("amt_s")
    assert r.path == p and r.source == "hf_hub"

"""Offline weight catalogue: lookup order, errors, hash checks, CLI (no downloads)."""

import hashlib

import pytest
import torch
from typer.testing import CliRunner

from svibench.errors import MissingWeightsError
from svibench.weights import CATALOGUE, candidates, load_toml_paths, resolve

torch.set_num_threads(1)


@pytest.fixture
def caches(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SVIBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SVIBENCH_VERIFY_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


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
    (caches / "svibench.toml").write_text(f'[paths.weights]\namt_s = "{f}"\n')
    r = resolve("amt_s")
    assert r.path == f and r.source == "svibench.toml"
    d = _touch(caches / "flat" / "amt-s.pth")
    (caches / "svibench.toml").write_text(f'[paths]\nweights = "{d.parent}"\n')
    assert load_toml_paths() == {"_dir": str(d.parent)}
    assert resolve("amt_s").path == d
    (caches / "svibench.toml").write_text('[paths]\nweights = ""\n')
    assert load_toml_paths() == {}


def test_hash_mismatch_and_opt_out(caches, monkeypatch):
    p = _touch(caches / "vb" / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth", b"not musiq")
    with pytest.raises(MissingWeightsError, match="sha256"):
        resolve("musiq_spaq")
    monkeypatch.setenv("SVIBENCH_VERIFY_WEIGHTS", "0")
    assert resolve("musiq_spaq").path == p
    monkeypatch.delenv("SVIBENCH_VERIFY_WEIGHTS")
    good = hashlib.sha256(b"pinned").hexdigest()
    f = _touch(caches / "pin.pth", b"pinned")
    (caches / "svibench.toml").write_text(
        f'[paths.weights]\nmusiq_spaq = {{ path = "{f}", sha256 = "{good}" }}\n'
    )
    assert resolve("musiq_spaq").path == f
    (caches / "svibench.toml").write_text(
        f'[paths.weights]\nmusiq_spaq = {{ path = "{f}", sha256 = "{"0" * 64}" }}\n'
    )
    with pytest.raises(MissingWeightsError):
        resolve("musiq_spaq")


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
    assert [c[2] for c in candidates("amt_s", {})] == ["vbench"]


def test_hf_hub_snapshot_glob(caches):
    p = _touch(caches / "hf" / "models--lalala125--AMT" / "snapshots" / "abc123" / "amt-s.pth")
    r = resolve("amt_s")
    assert r.path == p and r.source == "hf_hub"

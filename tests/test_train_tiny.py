import json

import pytest
import torch
from safetensors.torch import load_file

from svibench.errors import ConfigError
from svibench.models.tiny import load_checkpoint
from svibench.train.registry import TRAINERS
from svibench.train.tiny import TinyTrainer

torch.set_num_threads(1)
TINY = dict(size=16, frames=5, hidden=32, layers=1, batch_size=2)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    TinyTrainer(stage="base", steps=3, learning_rate=1e-3, **TINY).train(out, seed=0)
    return out


def _finetune(**kw):
    return TinyTrainer(batch_size=2, error_buffer_k=4, clean_prob=0.0, **kw)


def test_registry_and_param_checks():
    assert TRAINERS.get("tiny") is TinyTrainer
    with pytest.raises(ConfigError, match="unknown parameter"):
        TinyTrainer(bogus=1)
    with pytest.raises(ConfigError, match="clean_buffer_update_prob"):
        TinyTrainer(clean_buffer_update_prob=1.5)


def test_base_is_clean_and_finetune_fills_banks(base, tmp_path):
    meta = json.loads((base / "result.json").read_text())
    assert meta["steps"] == 3 and meta["metrics"]["noise_bank_entries"] == 0  # base: no recycling
    tr = _finetune(base_checkpoint=str(base), steps=4)
    res = tr.train(tmp_path / "svi", seed=1)
    assert res.steps == 4 and res.metrics["noise_bank_entries"] == 8  # every step injects + records
    assert torch.isfinite(torch.tensor(res.metrics["final_loss"]))
    assert tr.generator(res) == {"kind": "tiny-model", "checkpoint": str(tmp_path / "svi")}
    model, cfg, _ = load_checkpoint(res.checkpoint)
    assert cfg.size == 16 and cfg.frames == 5
    before = load_file(str(base / "model.safetensors"))
    after = load_file(str(res.checkpoint / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # idempotent once finished
    again = tr.train(tmp_path / "svi", seed=1)
    assert again.steps == 4 and again.metrics == res.metrics
    control = _finetune(base_checkpoint=str(base), steps=2, use_error_recycling=False)
    assert control.train(tmp_path / "ctl", seed=1).metrics["noise_bank_entries"] == 0


def test_killed_run_resumes_exactly(base, tmp_path):
    kw = dict(
        base_checkpoint=str(base), steps=4, save_every=2, buffer_replacement_strategy="random"
    )
    _finetune(**kw).train(tmp_path / "full", seed=2)

    def die(step, total):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _finetune(**kw).train(tmp_path / "cut", seed=2, progress=die)
    assert (tmp_path / "cut" / "train_state.pt").is_file()
    _finetune(**kw).train(tmp_path / "cut", seed=2)
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "cut" / "train_state.pt").exists()


def test_lora_finetune_saves_plain_weights(base, tmp_path):
    tr = _finetune(
        base_checkpoint=str(base),
        steps=2,
        train_architecture="lora",
        lora_rank=4,
        learning_rate=1e-2,
    )
    res = tr.train(tmp_path / "lora", seed=3)
    sd = load_file(str(res.checkpoint / "model.safetensors"))
    assert not any("lora" in k for k in sd) and set(sd) == set(
        load_file(str(base / "model.safetensors"))
    )
    load_checkpoint(res.checkpoint)  # loads into the plain architecture
    base_sd = load_file(str(base / "model.safetensors"))
    changed = [k for k in sd if not torch.equal(sd[k], base_sd[k])]
    assert changed and all(k.endswith("weight") for k in changed)  # LoRA deltas merged into weights


def test_recipe_presets_fill_defaults_and_explicit_keys_win():
    film = TinyTrainer().config
    assert film["recipe"] == "film"
    assert (film["noise_prob"], film["clean_prob"], film["y_error_num"]) == (0.01, 0.5, 3)
    assert (film["motion_frames"], film["ref_pad_num"]) == (5, 0)
    assert film["y_error_sample_from_all_grids"] and film["buffer_warmup_iter"] == 50
    assert film["learning_rate"] == 5e-4  # toy-scale value kept (recipe_skips)
    shot = TinyTrainer(recipe="shot").config
    assert (shot["motion_frames"], shot["ref_pad_num"], shot["clean_prob"]) == (1, -1, 0.2)
    mine = TinyTrainer(recipe="shot", clean_prob=0.3).config
    assert mine["clean_prob"] == 0.3
    plain = TinyTrainer(recipe="argparse").config
    assert (plain["noise_prob"], plain["y_error_num"], plain["use_error_recycling"]) == (
        0.9,
        1,
        False,
    )
    with pytest.raises(ConfigError, match="recipe"):
        TinyTrainer(recipe="talk")


def test_oracle_y_error_pool_is_what_y_injection_adds(base, tmp_path):
    pool = tmp_path / "pool.pt"
    torch.save(torch.full((2, 3, 1, 16, 16), 0.25), pool)
    tr = _finetune(base_checkpoint=str(base), steps=1, y_error_pool=str(pool), y_prob=1.0)
    from svibench.train.recycling import ErrorRecycler, RecyclingConfig

    rec = ErrorRecycler(RecyclingConfig.from_config(tr.config), 0)
    rec.y_pool = torch.load(pool, weights_only=True)
    y = torch.zeros(3, 5, 16, 16)
    _, _, y_w = rec.inject(torch.zeros_like(y), torch.zeros_like(y), y, 500.0, rec.plan())
    assert torch.all(y_w[:, :1] == 0.25) and not y_w[:, 1:].any()
    assert tr.train(tmp_path / "run", seed=0).steps == 1

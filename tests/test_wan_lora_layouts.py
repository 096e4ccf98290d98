"""LoRA files in every key layout seen in the wild load to the same merged weights, and
``svibench weights inspect`` reports them from the header alone (upstream semantics:
model_manager.py:521-555, lora.py:200-267 of vita-epfl/Stable-Video-Infinity)."""

import json
import struct
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from tiny_wan import upstream_lora_state  # noqa: E402

from svibench.errors import ConfigError  # noqa: E402
from svibench.generators.lora import (  # noqa: E402
    MODULES,
    classify_key,
    convert_upstream_keys,
    load_upstream_lora,
)
from svibench.lora_inspect import inspect_lora, read_header  # noqa: E402

TRAINER = upstream_lora_state(num_blocks=2, rank=4)  # pipe.dit.blocks.N.<m>.lora_X.default.weight


def _core(key: str) -> str:
    return key.removeprefix("pipe.dit.")  # blocks.N.<m>.lora_X.default.weight


def _down_up(key: str) -> str:
    k = (
        _core(key)
        .replace(".lora_A.default.", ".lora_down.")
        .replace(".lora_B.default.", ".lora_up.")
    )
    return "diffusion_model." + k


def _diffusers(key: str) -> str:
    k = _core(key).replace(".default.", ".")
    for wan, diff in MODULES.items():
        k = k.replace(f".{wan}.lora_", f".{diff}.lora_")
    return "transformer." + k


LAYOUTS = {
    "trainer (pipe.dit. + .default.)": lambda k: k,
    "deepspeed (_forward_module.pipe.dit.)": lambda k: "_forward_module." + k,
    "extract_lora (module._forward_module.pipe.dit.)": lambda k: "module._forward_module." + k,
    "bare blocks. (SVI 2.0 files)": _core,
    "bare blocks. without .default.": lambda k: _core(k).replace(".default.", "."),
    "diffusion_model. + lora_down/up": _down_up,
    "peft base_model.model.": lambda k: "base_model.model." + _core(k),
    "diffusers names (transformer.)": _diffusers,
}
EXPECTED = convert_upstream_keys(TRAINER)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_loads_to_the_same_tensors(layout, tmp_path):
    from safetensors.torch import save_file

    rename = LAYOUTS[layout]
    state = {rename(k): v for k, v in TRAINER.items()}
    state["blocks.0.norm3.weight"] = torch.ones(24)  # a non-LoRA tensor: ignored, as upstream
    if "down/up" in layout:  # ComfyUI-style files carry alphas: ignored, as upstream
        for k in list(state):
            if k.endswith(".lora_up.weight"):
                state[k.replace(".lora_up.weight", ".alpha")] = torch.tensor(4.0)
    path = tmp_path / "lora.safetensors"
    save_file(state, str(path))
    got = load_upstream_lora(path)
    assert sorted(got) == sorted(EXPECTED)
    for k, v in EXPECTED.items():
        assert torch.equal(got[k], v), k
    report = inspect_lora(path)
    assert report.loadable, report.problems
    assert dict(report.ranks) == {4: 20}
    assert report.blocks == {0, 1}
    assert dict(report.modules) == {m: 2 for m in MODULES if "img" not in m}
    assert report.other == ["blocks.0.norm3.weight"]
    assert report.alphas == (20 if "down/up" in layout else 0)
    assert ("lora_down/up" if "down/up" in layout else "lora_A/B") in report.spellings
    text = "\n".join(report.lines())
    assert "svibench can load it: yes" in text and "rank: 4 ×20" in text


def test_upstream_prefix_rule():
    # upstream keeps what follows "pipe.dit." whatever precedes it (model_manager.py:537)
    k = classify_key("anything.at.all.pipe.dit.blocks.7.ffn.2.lora_B.default.weight")
    assert (k.kind, k.prefix, k.block, k.module, k.side, k.adapter) == (
        "factor", "anything.at.all.pipe.dit.", 7, "ffn.2", "B", "default",
    )  # fmt: skip
    assert k.target == "blocks.7.ffn.net.2"
    assert classify_key("pipe.dit.blocks.0.self_attn.q.weight").kind == "other"
    assert classify_key("lora_te_text_model_encoder.lora_up.weight").kind == "bad"


BAD = {
    "unknown module": ({"blocks.0.norm3.lora_A.weight": (4, 24), "blocks.0.norm3.lora_B.weight": (24, 4)}, "unknown module"),
    "missing B": ({"blocks.0.self_attn.q.lora_A.default.weight": (4, 24)}, "B (up) missing"),
    "shapes": ({"blocks.0.ffn.0.lora_A.weight": (4, 24), "blocks.0.ffn.0.lora_B.weight": (32, 8)}, "are not (r, in)"),
    "no blocks": ({"lora_unet_down_blocks_0.lora_down.weight": (4, 8)}, "no 'blocks.N.'"),
    "no lora": ({"blocks.0.self_attn.q.weight": (24, 24)}, "no LoRA factors"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_inspect_names_why_a_file_cannot_load(case, tmp_path):
    from safetensors.torch import save_file

    shapes, why = BAD[case]
    path = tmp_path / "bad.safetensors"
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path))
    report = inspect_lora(path)
    assert not report.loadable
    assert any(why in p for p in report.problems), report.problems
    if case != "shapes":  # the loader checks names and pairs; peft checks the shapes
        with pytest.raises(ConfigError):
            load_upstream_lora(path)


def test_header_only_is_read(tmp_path):
    # a header that promises data the file does not hold: inspect still works (it never
    # reads tensor data), and a non-safetensors file is a clean ConfigError
    header = {"pipe.dit.blocks.0.ffn.0.lora_A.default.weight": {"dtype": "BF16", "shape": [128, 5120], "data_offsets": [0, 1310720]},
              "pipe.dit.blocks.0.ffn.0.lora_B.default.weight": {"dtype": "BF16", "shape": [13824, 128], "data_offsets": [1310720, 4849664]},
              "__metadata__": {"format": "pt"}}  # fmt: skip
    raw = json.dumps(header).encode()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    tensors, meta = read_header(path)
    assert meta == {"format": "pt"} and len(tensors) == 2
    report = inspect_lora(path)
    assert report.loadable and dict(report.ranks) == {128: 1}
    assert report.bytes == 4849664 and dict(report.dtypes) == {"BF16": 2}
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(ConfigError, match="not a safetensors file"):
        read_header(bad)


def test_cli_inspect_exit_codes(tmp_path):
    import subprocess

    from safetensors.torch import save_file

    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    save_file({"_forward_module." + k: v for k, v in TRAINER.items()}, str(good))
    save_file({"blocks.0.norm3.lora_A.weight": torch.zeros(2, 2)}, str(bad))
    exe = [sys.executable, "-m", "svibench.cli", "weights", "inspect"]
    ok = subprocess.run([*exe, str(good)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "_forward_module.pipe.dit." in ok.stdout and "can load it: yes" in ok.stdout
    no = subprocess.run([*exe, str(bad)], capture_output=True, text=True, timeout=120)
    assert no.returncode == 2 and "Traceback" not in no.stderr

import json
import sys

import pytest

from svibench.errors import ConfigError, SvibenchError
from svibench.train.command import CommandTrainer
from svibench.train.registry import TRAINERS

SCRIPT = """
import json, os, sys
out = os.environ["SVIBENCH_OUT_DIR"]
open(os.path.join(out, "argv.json"), "w").write(json.dumps(sys.argv[1:]))
open(os.path.join(out, "lora.safetensors"), "w").write("x")
"""


def _trainer(tmp_path, **kw):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return CommandTrainer(
        command=f"{sys.executable} {script} --seed {{seed}}",
        checkpoint="{out_dir}/lora.safetensors",
        generator={"kind": "svi", "lora": "{checkpoint}", "variant": "film"},
        **kw,
    )


def test_flags_pass_through_and_generator(tmp_path):
    assert TRAINERS.get("command") is CommandTrainer
    tr = _trainer(tmp_path, clean_buffer_update_prob=0.5, use_error_recycling=False, my_lr=3e-4)
    res = tr.train(tmp_path / "run", seed=7)
    argv = json.loads((tmp_path / "run" / "argv.json").read_text())
    assert argv[:2] == ["--seed", "7"]
    assert argv[2:] == [
        "--clean_buffer_update_prob",
        "0.5",
        "--use_error_recycling",
        "false",
        "--my_lr",
        "0.0003",
    ]
    assert tr.generator(res) == {
        "kind": "svi",
        "lora": str(tmp_path / "run" / "lora.safetensors"),
        "variant": "film",
    }
    (tmp_path / "run" / "argv.json").unlink()
    tr.train(tmp_path / "run", seed=7)  # finished: not rerun
    assert not (tmp_path / "run" / "argv.json").exists()
    params = json.loads((tmp_path / "run" / "svibench_params.json").read_text())
    assert params == {"clean_buffer_update_prob": 0.5, "use_error_recycling": False, "my_lr": 3e-4}


def test_failures_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="command"):
        CommandTrainer()
    with pytest.raises(ConfigError, match="clean_prob"):
        _trainer(tmp_path, clean_prob=2.0)
    bad = CommandTrainer(command=f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(SvibenchError, match="exited with 3"):
        bad.train(tmp_path / "bad", 0)
    missing = CommandTrainer(command=f"{sys.executable} -c 'pass'", checkpoint="{out_dir}/nothing")
    with pytest.raises(SvibenchError, match="does not exist"):
        missing.train(tmp_path / "m", 0)

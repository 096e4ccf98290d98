"""CommandTrainer: run the user's own training command for each ablation variant.

svibench.toml / ablation config::

    [trainer]
    kind = "command"
    command = "python train_svi.py --output_path {out_dir} --seed {seed}"
    checkpoint = "{out_dir}/svi_lora.safetensors"     # where the command leaves its result
    args_style = "flags"                              # or "json"
    generator = { kind = "svi", lora = "{checkpoint}" }
    clean_buffer_update_prob = 0.1                    # any further key is passed through

Every parameter set explicitly (including unknown keys, which are passed through untouched) goes
to the command: ``flags`` appends ``--key value`` (booleans as true/false); ``json`` writes them to
``{out_dir}/svibench_params.json``, whose path the template can use as ``{params_json}`` (also in
the environment as SVIBENCH_PARAMS). The command must resume by itself if rerun; svibench writes
``{out_dir}/result.json`` after it exits 0 with the checkpoint in place, and skips it from then on.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from svibench.errors import ConfigError, SvibenchError
from svibench.train.base import Param, Progress, Trainer, TrainResult
from svibench.train.recycling import RECYCLING_PARAMS

_OWN = ("command", "checkpoint", "args_style", "generator", "timeout_s")


class CommandTrainer(Trainer):
    name = "command"
    params = {
        **RECYCLING_PARAMS,
        "command": Param("", help="shell-style template with {out_dir}, {seed}, {params_json}"),
        "checkpoint": Param("{out_dir}", help="template of the checkpoint path the command writes"),
        "args_style": Param("flags", choices=("flags", "json")),
        "generator": Param({"kind": "svi", "lora": "{checkpoint}"}, help="generator table"),
        "timeout_s": Param(0, 0, 10**8, help="0 = no limit"),
    }

    def __init__(self, device: str = "cpu", **config: Any) -> None:
        extra = {k: v for k, v in config.items() if k not in self.params}
        for key, value in extra.items():
            if not isinstance(value, (str, int, float, bool, list)):
                raise ConfigError(
                    f"trainer 'command': parameter '{key}' must be a scalar or list, got {value!r}"
                )
        super().__init__(device, **{k: v for k, v in config.items() if k in self.params})
        self.config.update(extra)
        self.passed = {k: self.config[k] for k in config if k not in _OWN}
        if not str(self.config["command"]).strip():
            raise ConfigError(
                "trainer 'command': set command = \"...\" (the training command line)"
            )
        if not isinstance(self.config["generator"], dict) or "kind" not in self.config["generator"]:
            raise ConfigError("trainer 'command': generator must be a table with a 'kind'")

    def train(self, out_dir: Path, seed: int, progress: Progress | None = None) -> TrainResult:
        out_dir = Path(out_dir).resolve()
        done = out_dir / "result.json"
        if done.is_file():
            meta = json.loads(done.read_text())
            return TrainResult(Path(meta["checkpoint"]), int(meta["steps"]), meta["metrics"])
        out_dir.mkdir(parents=True, exist_ok=True)
        params_json = out_dir / "svibench_params.json"
        params_json.write_text(json.dumps(self.passed, indent=1, sort_keys=True))
        fields = {"out_dir": str(out_dir), "seed": seed, "params_json": str(params_json)}
        try:
            argv = shlex.split(str(self.config["command"]).format(**fields))
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(f"trainer 'command': bad command template ({e})") from None
        if self.config["args_style"] == "flags":
            argv += flag_args(self.passed)
        env = {
            **os.environ,
            "SVIBENCH_PARAMS": str(params_json),
            "SVIBENCH_SEED": str(seed),
            "SVIBENCH_OUT_DIR": str(out_dir),
        }
        if progress:
            progress(0, 1)
        try:
            proc = subprocess.run(
                argv,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.config["timeout_s"] or None,
            )
        except FileNotFoundError:
            raise SvibenchError(f"trainer 'command': program not found: {argv[0]!r}") from None
        except subprocess.TimeoutExpired:
            raise SvibenchError(
                f"trainer 'command': timed out after {self.config['timeout_s']} s"
            ) from None
        (out_dir / "train.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise SvibenchError(
                f"trainer 'command' exited with {proc.returncode} (log {out_dir / 'train.log'}): {tail[0][:200]}"
            )
        checkpoint = Path(str(self.config["checkpoint"]).format(**fields))
        if not checkpoint.exists():
            raise SvibenchError(
                f"trainer 'command': finished but checkpoint {checkpoint} does not exist"
            )
        if progress:
            progress(1, 1)
        done.write_text(json.dumps({"checkpoint": str(checkpoint), "steps": 1, "metrics": {}}))
        return TrainResult(checkpoint, 1, {})

    def generator(self, result: TrainResult) -> dict[str, Any]:
        def fill(v: Any) -> Any:
            return v.replace("{checkpoint}", str(result.checkpoint)) if isinstance(v, str) else v

        return {k: fill(v) for k, v in self.config["generator"].items()}


def flag_args(params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out += [f"--{key}", str(value)]
    return out

"""Command: run a user's external program once per clip (models living in another environment).

For each clip the session writes, into a per-case work folder, a JSON request::

    {"case": ..., "clip": k, "prompt": ..., "seed": ...,
     "reference": ".../reference.png",            # case image, native size
     "reference_resized": ".../reference_HxW.png", # resized to the protocol size (PIL bicubic)
     "conditioning": [".../clip_002.cond/000.png", ...],  # last m frames of clip k-1; [] for k=0
     "conditioning_npy": ".../clip_002.cond.npy" | null,  # same frames, uint8 (m, H, W, 3)
     "output": ".../clip_002.out.mp4", "workdir": ...,
     "protocol": {"frames_per_clip", "fps", "height", "width", "motion_frames"}}

then runs ``command`` (no shell) with ``{request}``, ``{output}``, ``{workdir}``, ``{case}``,
``{clip}`` and ``{seed}`` replaced in every argument, and reads the frames the program wrote at
``{output}`` (an mp4 or, with ``output_format = "npy"``, a uint8 array ``(T, H, W, 3)``).
Clip 0 is conditioned on the reference image alone, as upstream (test_svi.py:378-382); clip k>0
on the last m frames of clip k-1 (test_svi.py:472).

The session state is the last m frames, so a resumed run sends the very same conditioning.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from svibench.atomic import atomic_write_text
from svibench.errors import ConfigError, GeneratorOutputError, SvibenchError
from svibench.generators.base import Generator, Session, State, check_frames
from svibench.suite import Case, Protocol
from svibench.video import read_frames_file, resize_frames, write_png

OUTPUT_FORMATS = ("mp4", "npy")


class CommandGenerator(Generator):
    params: ClassVar[dict[str, Any]] = {
        "command": [],
        "timeout_s": 3600.0,
        "env": {},
        "workdir": "",  # empty: a temporary folder removed at close
        "output_format": "mp4",
        "keep_files": False,  # keep each clip's output and conditioning files after reading
    }
    description: ClassVar[str] = (
        "runs an external command per clip (JSON request in, mp4/npy out), for models in another env"
    )

    # where files go and whether they are kept: not the frames
    runtime_params: ClassVar[frozenset[str]] = frozenset({"workdir", "keep_files"})

    def __init__(self, name: str, device: str = "cpu", **params: Any) -> None:
        super().__init__(name, device, **params)
        where = f"[generators.{name}]"
        cmd = self.config["command"]
        if isinstance(cmd, str):
            try:
                cmd = shlex.split(cmd)
            except ValueError as e:
                raise ConfigError(f"{where}.command: cannot split {cmd!r} ({e})") from None
        if not isinstance(cmd, list | tuple) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise ConfigError(
                f"{where}.command: a non-empty list of strings (or one string) is required, got {cmd!r}"
            )
        self.argv: list[str] = list(cmd)
        timeout = self.config["timeout_s"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where}.timeout_s: a positive number of seconds, got {timeout!r}")
        self.timeout_s = float(timeout)
        env = self.config["env"]
        if not isinstance(env, dict):
            raise ConfigError(f"{where}.env: a table of NAME = value, got {env!r}")
        self.env = {str(k): str(v) for k, v in env.items()}
        fmt = self.config["output_format"]
        if fmt not in OUTPUT_FORMATS:
            raise ConfigError(
                f"{where}.output_format: got {fmt!r}, allowed: {', '.join(OUTPUT_FORMATS)}"
            )
        self.output_format: str = fmt
        self.keep_files = bool(self.config["keep_files"])
        workdir = self.config["workdir"]
        if not isinstance(workdir, str):
            raise ConfigError(f"{where}.workdir: a folder path, got {workdir!r}")
        self._tmp = None if workdir else tempfile.mkdtemp(prefix=f"svibench-{name}-")
        self.workdir = Path(workdir or self._tmp).expanduser().resolve()

    def start(self, case: Case, protocol: Protocol, reference: np.ndarray) -> Session:
        return _CommandSession(self, case, protocol, reference)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _last_line(*files: Path) -> str:
    """Last non-blank line of the first file that has one (stderr, then stdout)."""
    for f in files:
        try:
            with open(f, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines()]
        except OSError:
            continue
        lines = [ln for ln in lines if ln]
        if lines:
            return lines[-1][:300]
    return "(no output)"


class _CommandSession(Session):
    def __init__(
        self, gen: CommandGenerator, case: Case, protocol: Protocol, reference: np.ndarray
    ) -> None:
        self.gen, self.case, self.protocol = gen, case, protocol
        self.size = protocol.size_for(reference.shape[:2])
        h, w = self.size
        self.dir = gen.workdir / gen.name / case.id
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.reference = write_png(self.dir / "reference.png", np.ascontiguousarray(reference))
            resized = resize_frames(np.ascontiguousarray(reference)[None], self.size)[0]
            self.reference_resized = write_png(self.dir / f"reference_{h}x{w}.png", resized)
        except OSError as e:
            raise SvibenchError(
                f"[generators.{gen.name}].workdir: cannot write to {self.dir} ({e})"
            ) from None
        self.motion = np.zeros((0, h, w, 3), np.uint8)  # last m frames of the previous clip
        self.clip = -1

    def _where(self, clip: int) -> str:
        return f"command '{self.gen.name}' case '{self.case.id}' clip {clip}"

    def _write_request(self, prompt: str, clip: int, seed: int) -> tuple[Path, Path, list[Path]]:
        stem = f"clip_{clip:03d}"
        output = self.dir / f"{stem}.out.{self.gen.output_format}"
        output.unlink(missing_ok=True)  # a stale output of a killed run must not count
        cond_pngs: list[Path] = []
        cond_npy = None
        if clip > 0 and len(self.motion):
            cond_npy = self.dir / f"{stem}.cond.npy"
            np.save(cond_npy, self.motion)
            cond_pngs = [
                write_png(self.dir / f"{stem}.cond" / f"{i:03d}.png", fr)
                for i, fr in enumerate(self.motion)
            ]
        p = self.protocol
        request = {
            "case": self.case.id,
            "clip": clip,
            "prompt": prompt,
            "seed": seed,
            "reference": str(self.reference),
            "reference_resized": str(self.reference_resized),
            "conditioning": [str(x) for x in cond_pngs],
            "conditioning_npy": str(cond_npy) if cond_npy else None,
            "output": str(output),
            "output_format": self.gen.output_format,
            "workdir": str(self.dir),
            "protocol": {
                "frames_per_clip": p.frames_per_clip,
                "fps": p.fps,
                "height": self.size[0],
                "width": self.size[1],
                "motion_frames": p.motion_frames,
            },
        }
        req = self.dir / f"{stem}.request.json"
        atomic_write_text(req, json.dumps(request, indent=2))
        extra = [cond_npy, self.dir / f"{stem}.cond"] if cond_npy else []
        return req, output, extra

    def _run(self, argv: list[str], clip: int, stem: str) -> None:
        out_log, err_log = self.dir / f"{stem}.stdout.log", self.dir / f"{stem}.stderr.log"
        where = self._where(clip)
        with open(out_log, "wb") as so, open(err_log, "wb") as se:
            try:
                # Own process group, so a timeout also kills whatever the command started.
                proc = subprocess.Popen(
                    argv,
                    cwd=self.dir,
                    env={**os.environ, **self.gen.env},
                    stdin=subprocess.DEVNULL,
                    stdout=so,
                    stderr=se,
                    start_new_session=True,
                )
            except OSError as e:
                raise SvibenchError(
                    f"{where}: cannot start {argv[0]!r} ({e.strerror or e})"
                ) from None
            try:
                rc = proc.wait(timeout=self.gen.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise SvibenchError(
                    f"{where}: command timed out after {self.gen.timeout_s:g} s "
                    f"([generators.{self.gen.name}].timeout_s); last stderr line: {_last_line(err_log, out_log)}"
                ) from None
            except BaseException:
                _kill_group(proc)
                raise
        if rc != 0:
            raise SvibenchError(
                f"{where}: command exited with code {rc}; last stderr line: {_last_line(err_log, out_log)}"
            )

    def next_clip(self, prompt: str, clip: int, seed: int) -> np.ndarray:
        stem = f"clip_{clip:03d}"
        req, output, extra = self._write_request(prompt, clip, seed)
        values = {
            "{request}": str(req),
            "{output}": str(output),
            "{workdir}": str(self.dir),
            "{case}": self.case.id,
            "{clip}": str(clip),
            "{seed}": str(seed),
        }
        argv = []
        for arg in self.gen.argv:
            for key, value in values.items():
                arg = arg.replace(key, value)
            argv.append(arg)
        self._run(argv, clip, stem)
        where = self._where(clip)
        if not output.is_file():
            raise SvibenchError(
                f"{where}: the command exited 0 but wrote no output at {output}; "
                f"last stderr line: {_last_line(self.dir / f'{stem}.stderr.log', self.dir / f'{stem}.stdout.log')}"
            )
        try:
            frames = read_frames_file(output)
        except SvibenchError as e:
            raise SvibenchError(f"{where}: {e}") from None
        frames = check_frames(frames, self.protocol, self.size, f"{where}: {output}")
        m = self.protocol.motion_frames
        self.motion = frames[len(frames) - m :].copy() if m else frames[:0].copy()
        self.clip = clip
        if not self.gen.keep_files:
            for p in [output, *extra]:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
        return frames

    def state_dict(self) -> State:
        return {"clip": self.clip, "motion": self.motion}

    def load_state_dict(self, state: State) -> None:
        motion = np.asarray(state["motion"])
        h, w = self.size
        expected = (self.protocol.motion_frames if state.get("clip", -1) >= 0 else 0, h, w, 3)
        if motion.dtype != np.uint8 or motion.shape != expected:
            raise GeneratorOutputError(
                f"{self._where(int(state.get('clip', -1)))}: saved state has motion frames "
                f"{motion.dtype} {tuple(motion.shape)}, expected uint8 {expected}"
            )
        self.motion = motion.copy()
        self.clip = int(state["clip"])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()

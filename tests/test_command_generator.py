"""Command generator: an external program per clip, driven by a tiny python script."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import numpy as np
import pytest

from svibench.errors import ConfigError, GeneratorOutputError, SvibenchError
from svibench.generators.command import CommandGenerator
from svibench.generators.registry import GENERATORS
from svibench.suite import Case, Protocol

P = Protocol(frames_per_clip=5, fps=8, clips=3, motion_frames=2, width=32, height=16)
CASE = Case("c1", "world:0", ("walk", "run"))
REF = np.full((20, 40, 3), 77, np.uint8)  # native size differs from the protocol size

# The "model": continues the conditioning frames, then frames derived from seed and clip.
MODEL = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    req = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "ok"
    p = req["protocol"]
    t, h, w = p["frames_per_clip"], p["height"], p["width"]
    if mode == "fail":
        print("loading model", file=sys.stderr)
        print("CUDA out of memory on clip", req["clip"], file=sys.stderr)
        sys.exit(3)
    if mode == "sleep":
        import time; time.sleep(30)
    if mode == "nothing":
        sys.exit(0)
    if mode == "badshape":
        t = t - 1
    rng = np.random.default_rng(req["seed"] + 1000 * req["clip"])
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    if req["conditioning_npy"]:
        cond = np.load(req["conditioning_npy"])
        assert len(cond) == len(req["conditioning"]) == p["motion_frames"]
        frames[: len(cond)] = cond
    json.dump({"prompt": req["prompt"], "seed": req["seed"], "ref": req["reference_resized"]},
              open(req["workdir"] + "/seen_%03d.json" % req["clip"], "w"))
    if out.endswith(".npy"):
        np.save(out, frames)
    else:
        from svibench.video import write_mp4
        write_mp4(out, frames, p["fps"], lossless=True)
    """
)


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return str(path)


def make(tmp_path, script, mode="ok", **kw):
    kw.setdefault("output_format", "npy")
    return CommandGenerator(
        "cmd",
        command=[sys.executable, script, "{request}", "{output}", mode],
        workdir=str(tmp_path / "work"),
        **kw,
    )


def run_clips(session, clips):
    return [session.next_clip(CASE.prompt(k), k, P.seed(k)) for k in clips]


def test_registered_as_command():
    assert GENERATORS.get("command") is CommandGenerator


def test_clips_chain_on_motion_frames_and_request_is_complete(tmp_path, script):
    gen = make(tmp_path, script)
    s = gen.start(CASE, P, REF)
    clips = run_clips(s, range(P.clips))
    for c in clips:
        assert c.shape == (5, 16, 32, 3) and c.dtype == np.uint8
    for k in range(1, P.clips):  # clip k starts with the last m frames of clip k-1
        np.testing.assert_array_equal(clips[k][:2], clips[k - 1][-2:])
    work = tmp_path / "work" / "cmd" / "c1"
    req = json.loads((work / "clip_001.request.json").read_text())
    assert req["case"] == "c1" and req["clip"] == 1 and req["prompt"] == "run" and req["seed"] == 42
    assert req["protocol"] == {
        "frames_per_clip": 5,
        "fps": 8,
        "height": 16,
        "width": 32,
        "motion_frames": 2,
    }
    assert len(req["conditioning"]) == 2
    from PIL import Image

    assert Image.open(req["reference"]).size == (40, 20)  # native size
    assert Image.open(req["reference_resized"]).size == (32, 16)  # protocol size
    assert json.loads((work / "clip_000.request.json").read_text())["conditioning"] == []
    # keep_files = false: outputs and conditioning files are gone, requests and logs stay
    assert not list(work.glob("*.out.npy")) and not list(work.glob("*.cond*"))
    gen.close()


def test_mp4_output_and_string_command(tmp_path, script):
    gen = CommandGenerator(
        "cmd",
        command=f"{sys.executable} {script} {{request}} {{output}}",
        workdir=str(tmp_path / "w"),
        keep_files=True,
    )
    s = gen.start(CASE, P, REF)
    a, b = run_clips(s, [0, 1])
    np.testing.assert_array_equal(b[:2], a[-2:])  # lossless mp4: exact continuation
    assert (tmp_path / "w" / "cmd" / "c1" / "clip_001.out.mp4").is_file()


def test_resume_from_state_dict_is_exact(tmp_path, script):
    gen = make(tmp_path, script)
    full = run_clips(gen.start(CASE, P, REF), range(P.clips))
    first = gen.start(CASE, P, REF)
    run_clips(first, [0])
    state = first.state_dict()
    assert state["clip"] == 0 and state["motion"].shape == (2, 16, 32, 3)
    # the runner saves states with savez + json: round trip through that
    np.savez(tmp_path / "state.npz", motion=state["motion"])
    restored = {
        "clip": json.loads(json.dumps(state["clip"])),
        "motion": np.load(tmp_path / "state.npz")["motion"],
    }
    fresh = gen.start(CASE, P, REF)
    fresh.load_state_dict(restored)
    resumed = run_clips(fresh, [1, 2])
    for a, b in zip(resumed, full[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(GeneratorOutputError, match="saved state has motion frames"):
        gen.start(CASE, P, REF).load_state_dict(
            {"clip": 0, "motion": np.zeros((1, 16, 32, 3), np.uint8)}
        )


def test_nonzero_exit_reports_last_stderr_line(tmp_path, script):
    s = make(tmp_path, script, mode="fail").start(CASE, P, REF)
    with pytest.raises(
        SvibenchError,
        match=r"clip 0: command exited with code 3; last stderr line: CUDA out of memory on clip 0",
    ) as e:
        s.next_clip("walk", 0, 0)
    assert "\n" not in str(e.value)


def test_missing_output_and_bad_shape(tmp_path, script):
    s = make(tmp_path, script, mode="nothing").start(CASE, P, REF)
    with pytest.raises(
        SvibenchError, match=r"exited 0 but wrote no output at .*clip_000\.out\.npy"
    ):
        s.next_clip("walk", 0, 0)
    s = make(tmp_path, script, mode="badshape").start(CASE, P, REF)
    with pytest.raises(
        GeneratorOutputError, match=r"shape \(4, 16, 32, 3\), expected \(5, 16, 32, 3\)"
    ):
        s.next_clip("walk", 0, 0)


def test_timeout_kills_the_command(tmp_path, script):
    s = make(tmp_path, script, mode="sleep", timeout_s=1.5).start(CASE, P, REF)
    t0 = time.monotonic()
    with pytest.raises(
        SvibenchError, match=r"timed out after 1.5 s \(\[generators.cmd\].timeout_s\)"
    ):
        s.next_clip("walk", 0, 0)
    assert time.monotonic() - t0 < 10


def test_env_and_placeholders(tmp_path):
    script = tmp_path / "envmodel.py"
    script.write_text(
        "import os, sys, numpy as np\n"
        "assert os.environ['MY_FLAG'] == '7', os.environ.get('MY_FLAG')\n"
        "assert sys.argv[3] == 'c1' and sys.argv[4] == '2' and sys.argv[5] == '84'\n"
        "np.save(sys.argv[2], np.zeros((5, 16, 32, 3), np.uint8))\n"
    )
    gen = CommandGenerator(
        "cmd",
        command=[
            sys.executable,
            str(script),
            "{request}",
            "{output}",
            "{case}",
            "{clip}",
            "{seed}",
        ],
        env={"MY_FLAG": 7},
        output_format="npy",
    )
    s = gen.start(CASE, P, REF)
    s.load_state_dict({"clip": 1, "motion": np.zeros((2, 16, 32, 3), np.uint8)})
    assert s.next_clip("x", 2, 84).shape == (5, 16, 32, 3)
    tmp = gen.workdir
    assert tmp.is_dir()
    gen.close()  # a temporary workdir is removed
    assert not tmp.exists()


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[generators.cmd\].command: a non-empty list"):
        CommandGenerator("cmd")
    with pytest.raises(ConfigError, match=r"\.command: cannot split"):
        CommandGenerator("cmd", command="python 'unterminated")
    with pytest.raises(ConfigError, match=r"\.timeout_s: a positive number"):
        CommandGenerator("cmd", command=["x"], timeout_s=0)
    with pytest.raises(ConfigError, match=r"\.output_format: got 'avi'"):
        CommandGenerator("cmd", command=["x"], output_format="avi")
    s = CommandGenerator("cmd", command=["/no/such/program"], workdir=str(tmp_path)).start(
        CASE, P, REF
    )
    with pytest.raises(SvibenchError, match=r"cannot start '/no/such/program'"):
        s.next_clip("walk", 0, 0)

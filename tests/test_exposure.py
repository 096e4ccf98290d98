import numpy as np
import pytest
import torch

from svibench.errors import ConfigError
from svibench.exposure import colour_error, exposure_rows, late_mean, world_truth
from svibench.generators.base import Generator, Session
from svibench.generators.tiny import TinyModelGenerator
from svibench.models.tiny import TinyConfig, build_model, save_checkpoint
from svibench.suite import Case, Protocol

torch.set_num_threads(1)
PROTO = Protocol(frames_per_clip=6, clips=4, width=16, height=16, motion_frames=1)
CASES = [Case("a", "world:11", ("p",)), Case("b", "world:12", ("p",))]


def test_world_truth_clips_share_their_boundary_frames():
    truth = world_truth(CASES[0], PROTO, 2, (16, 16))
    a, b = truth(0), truth(1)
    assert a.shape == (6, 16, 16, 3) and np.array_equal(a[-2:], b[:2])
    assert world_truth(Case("c", "/x.png", ("p",)), PROTO, 2, (16, 16)) is None


def test_colour_error_is_zero_on_truth_and_grows_with_a_shift():
    x = world_truth(CASES[0], PROTO, 1, (16, 16))(0)
    assert colour_error(x, x) == 0.0
    small = np.clip(x.astype(int) + 5, 0, 255).astype(np.uint8)
    big = np.clip(x.astype(int) + 20, 0, 255).astype(np.uint8)
    assert 0 < colour_error(small, x) < colour_error(big, x)


class _DriftSession(Session):
    """Copies the truth but adds the colour offset of its conditioning plus 3 per clip."""

    def __init__(self, truth):
        self.truth, self.offset = truth, 0

    def condition_on(self, frames):
        k = self.k  # the offset the given frames carry relative to the truth of clip k - 1
        self.offset = int(np.round(frames.astype(int).mean() - self.truth(k)[-1:].mean()))

    def next_clip(self, prompt, clip, seed):
        self.k = clip
        self.offset += 3
        return np.clip(self.truth(clip).astype(int) + self.offset, 0, 255).astype(np.uint8)


class _DriftGen(Generator):
    motion_frames = 1

    def start(self, case, protocol, reference):
        return _DriftSession(world_truth(case, protocol, 1, (16, 16)))


def test_gap_separates_accumulated_drift_from_single_clip_error():
    rows = exposure_rows(_DriftGen("d"), CASES, PROTO)
    assert len(rows) == 8
    forced = [r["teacher_forced"] for r in rows if r["case"] == "a"]
    gap = [r["gap"] for r in rows if r["case"] == "a"]
    assert np.ptp(forced) < 2e-3  # one clip's worth of drift, every clip
    assert gap[0] == 0 and all(np.diff(gap) > 0)  # grows along the chain
    assert late_mean(rows, "gap", 2) > late_mean(rows, "gap", 1) > 0


def test_a_session_without_condition_on_cannot_be_teacher_forced():
    from svibench.generators.world import WorldGenerator

    with pytest.raises(ConfigError, match="teacher-forced"):
        exposure_rows(WorldGenerator("w"), CASES[:1], PROTO)


@pytest.fixture(scope="module")
def film_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("film")
    cfg = TinyConfig(size=16, frames=6, hidden=32, layers=1, motion_frames=2, ref_pad_num=0)
    save_checkpoint(build_model(cfg, seed=0), cfg, out, {"steps": 0})
    return out


def test_tiny_model_takes_m_and_padding_from_its_checkpoint(film_ckpt):
    gen = TinyModelGenerator("t", checkpoint=str(film_ckpt), steps=2)
    assert (gen.motion_frames, gen.ref_pad_num) == (2, 0)  # the suite says m = 1
    sess = gen.start(CASES[0], PROTO, world_truth(CASES[0], PROTO, 2, (16, 16))(0)[0])
    sess.next_clip("p", 0, 0)
    assert sess.state_dict()["prev"].shape == (2, 16, 16, 3)
    assert TinyModelGenerator("t", checkpoint=str(film_ckpt), motion_frames=3).motion_frames == 3


def test_teacher_forced_tiny_model_conditions_on_the_truth(film_ckpt):
    truth = world_truth(CASES[0], PROTO, 2, (16, 16))

    def clip1(forced, given=None):
        gen = TinyModelGenerator("t", checkpoint=str(film_ckpt), steps=2, teacher_forced=forced)
        sess = gen.start(CASES[0], PROTO, truth(0)[0])
        sess.next_clip("p", 0, 0)
        if given is not None:
            sess.condition_on(given)
        return sess.next_clip("p", 1, 42)

    forced = clip1(True)
    assert np.array_equal(forced, clip1(False, given=truth(0)))
    assert not np.array_equal(forced, clip1(False))  # its own tail is not the truth
    gen = TinyModelGenerator("t", checkpoint=str(film_ckpt), teacher_forced=True)
    with pytest.raises(ConfigError, match="ground truth"):
        gen.start(Case("c", "/x.png", ("p",)), PROTO, truth(0)[0])


def test_batched_tiny_exposure_matches_the_generator_path(film_ckpt):
    from svibench.exposure import tiny_exposure_rows

    proto = Protocol(frames_per_clip=6, clips=3, width=16, height=16, motion_frames=1)
    gen = TinyModelGenerator("t", checkpoint=str(film_ckpt), steps=3)
    slow = exposure_rows(gen, CASES, proto)
    fast = tiny_exposure_rows(str(film_ckpt), [11, 12], clips=3, steps=3, chunk=3)
    assert [r["clip"] for r in fast] == [r["clip"] for r in slow]
    for a, b in zip(slow, fast, strict=True):
        for key in ("chained", "teacher_forced"):
            assert abs(a[key] - b[key]) < 2e-3
    assert fast[0]["gap"] == 0.0


def test_teacher_forcing_changes_the_identity_chaining_keeps_the_old_one(film_ckpt):
    plain = TinyModelGenerator("t", checkpoint=str(film_ckpt)).identity()
    forced = TinyModelGenerator("t", checkpoint=str(film_ckpt), teacher_forced=True).identity()
    assert "teacher_forced" not in plain and forced["teacher_forced"] is True

"""Pure pieces of the SVI conditioning / sampling (no model needed)."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from svibench.errors import MissingWeightsError  # noqa: E402
from svibench.generators.wan_sampling import (  # noqa: E402
    Conditioning,
    UpstreamFlowMatchScheduler,
    condition_video,
    first_latent_mask,
    to_uint8,
)
from svibench.models.paths import resolve_file, resolve_model_dir  # noqa: E402
from svibench.models.wan_image import clip_pixels  # noqa: E402
from svibench.stitch import stitch, stitched_length  # noqa: E402


def _frames(m, h=16, w=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(m, h, w, 3), dtype=np.uint8)


def test_condition_film_zero_padding():
    motion, ref = _frames(5), _frames(1, seed=1)[0]
    v = condition_video(Conditioning(motion, ref, ref_pad_num=0), 9)
    assert v.shape == (1, 3, 9, 16, 16)
    expect = torch.from_numpy(motion).float().permute(3, 0, 1, 2) * (2 / 255) - 1
    assert torch.equal(v[0, :, :5], expect)
    assert torch.count_nonzero(v[0, :, 5:]) == 0


def test_condition_shot_reference_padding():
    motion, ref = _frames(1), _frames(1, seed=1)[0]
    v = condition_video(Conditioning(motion, ref, ref_pad_num=-1), 9)
    ref_t = torch.from_numpy(ref).float().permute(2, 0, 1) * (2 / 255) - 1
    for t in range(1, 9):
        assert torch.equal(v[0, :, t], ref_t)
    assert not torch.equal(v[0, :, 0], ref_t)


def test_condition_k_reference_copies_then_zeros():
    v = condition_video(Conditioning(_frames(1), _frames(1, seed=1)[0], ref_pad_num=2), 9)
    assert torch.count_nonzero(v[0, :, 1:3]) > 0 and torch.count_nonzero(v[0, :, 3:]) == 0


def test_mask_marks_only_first_latent_frame():
    mask = first_latent_mask(3, 2, 2)
    assert mask.shape == (1, 4, 3, 2, 2)
    assert mask[:, :, 0].eq(1).all() and mask[:, :, 1:].eq(0).all()


def test_clip_input_is_squashed_not_cropped():
    frame = np.zeros((16, 48, 3), np.uint8)
    frame[:, :8] = 255  # a white band at the far left survives a squash, not a centre crop
    x = clip_pixels(frame, 8, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert x.shape == (1, 3, 8, 8)
    assert x[0, :, :, 0].min() > 0.9 and x[0, :, :, -1].max() < 0.1


def test_uint8_truncates():
    video = (
        torch.tensor([-1.0, -0.999, 0.0, 0.999, 1.0, 2.0]).view(1, 1, 6, 1, 1).expand(1, 3, 6, 1, 1)
    )
    out = to_uint8(video)[:, 0, 0, 0]
    assert out.tolist() == [0, 0, 127, 254, 255, 255]  # 127.5 -> 127, 254.87 -> 254


def test_scheduler_matches_upstream_grid():
    s = UpstreamFlowMatchScheduler(shift=5.0)
    s.set_timesteps(50)
    base = np.linspace(1, 0, 51)[:-1]
    shifted = 5 * base / (1 + 4 * base)
    np.testing.assert_allclose(s.sigmas[:-1].numpy(), shifted, rtol=1e-6)
    np.testing.assert_allclose(s.timesteps.numpy(), shifted * 1000, rtol=1e-5)
    assert s.sigmas[-1] == 0 and len(s.timesteps) == 50


def test_stitch_length_and_content():
    clips = [np.full((9, 2, 2, 3), k, np.uint8) for k in range(3)]
    out = stitch(clips, 5)
    assert len(out) == stitched_length(3, 9, 5) == 3 * (9 - 5) + 5
    assert (out[:4] == 0).all() and (out[4:8] == 1).all() and (out[8:] == 2).all()
    with pytest.raises(ValueError):
        stitch(clips, 9)


def test_missing_model_names_repo_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="hf download Wan-AI/Nope-Diffusers"):
        resolve_model_dir("Wan-AI/Nope-Diffusers", "[generators.x].model")
    with pytest.raises(MissingWeightsError, match="vita-video-gen/svi-model version-1.0/svi-film"):
        resolve_file("vita-video-gen/svi-model", "version-1.0/svi-film.safetensors", "x")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "absent"), "x")
    (tmp_path / "f.safetensors").write_bytes(b"x")
    assert resolve_file(str(tmp_path), "f.safetensors", "x") == tmp_path / "f.safetensors"

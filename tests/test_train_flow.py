import pytest
import torch

from svibench.models.flow import (
    FlowMatch,
    bidirectional_errors,
    euler_step,
    shifted_sigmas,
    timesteps_for,
)

torch.set_num_threads(1)


def test_shifted_sigmas_match_upstream_formula():
    s = shifted_sigmas(50)
    raw = torch.linspace(1, 0, 51)[:-1]
    assert s.shape == (50,) and s[0] == pytest.approx(1.0)
    assert torch.allclose(s, 5 * raw / (1 + 4 * raw), atol=1e-6)
    assert torch.allclose(timesteps_for(50), s * 1000)
    assert (s[:-1] > s[1:]).all()


def test_training_weights_are_a_gaussian_bump():
    f = FlowMatch()
    assert f.timesteps.shape == (1000,) and f.weights.mean() == pytest.approx(1.0, rel=1e-4)
    peak = f.timesteps[int(torch.argmax(f.weights))]
    assert abs(float(peak) - 500) < 5  # centred at t = n/2
    assert float(f.weights.min()) == pytest.approx(0.0, abs=1e-6)


def test_noise_target_and_bidirectional_errors():
    g = torch.Generator().manual_seed(0)
    x0, eps, v_hat = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
    sigma = torch.tensor([0.3, 0.8])
    x_t = FlowMatch.add_noise(x0, eps, sigma)
    assert torch.allclose(x_t[0], 0.7 * x0[0] + 0.3 * eps[0])
    v = FlowMatch.target(x0, eps)
    assert torch.allclose(v, eps - x0)
    noise_err, clean_err = bidirectional_errors(v_hat, v, sigma)
    s = sigma[:, None, None]
    # integrating one step to each end with v_hat instead of v
    assert torch.allclose((x_t + (1 - s) * v_hat) - (x_t + (1 - s) * v), noise_err, atol=1e-6)
    assert torch.allclose((x_t - s * v_hat) - x0, clean_err, atol=1e-6)
    assert torch.allclose(euler_step(x_t, v, 0.5, 0.0), x_t - 0.5 * v)

import pytest
import torch

from svibench.train.flow import FlowMatch, timesteps_for
from svibench.train.recycling import ErrorRecycler, RecyclingConfig, recycling_step

torch.set_num_threads(1)
T0 = float(timesteps_for(50)[10])


def _rec(**kw):
    cfg = RecyclingConfig(**{"error_buffer_k": 4, **kw})
    return ErrorRecycler(cfg, seed=0)


def test_plan_flags_follow_probabilities():
    r = _rec(noise_prob=1.0, y_prob=0.0, latent_prob=1.0, clean_prob=0.0)
    plans = [r.plan() for _ in range(50)]
    assert all(p.noise and p.latent and not p.y and not p.clean for p in plans)
    r = _rec(clean_prob=1.0)
    assert all(r.plan().clean for _ in range(20))
    r = _rec(use_error_recycling=False)
    assert r.plan().clean and not r.record(torch.ones(1), torch.ones(1), T0, r.plan())


@pytest.mark.parametrize("prob,expected", [(0.0, 0), (1.0, 40)])
def test_clean_steps_update_banks_only_with_clean_buffer_update_prob(prob, expected):
    r = _rec(clean_prob=1.0, clean_buffer_update_prob=prob, error_buffer_k=100)
    n = sum(r.record(torch.ones(2), torch.ones(2), T0, r.plan()) for _ in range(40))
    assert n == expected and len(r.noise_bank) == expected == len(r.y_bank)


def test_clean_buffer_update_prob_is_a_rate():
    r = _rec(clean_prob=1.0, clean_buffer_update_prob=0.1, error_buffer_k=1000)
    n = sum(r.record(torch.ones(1), torch.ones(1), T0, r.plan()) for _ in range(2000))
    assert 140 < n < 260
    r = _rec(clean_prob=0.0)  # error steps always update
    assert all(r.record(torch.ones(1), torch.ones(1), T0, r.plan()) for _ in range(10))


def test_injection_targets():
    r = _rec(noise_prob=1.0, y_prob=1.0, latent_prob=1.0, clean_prob=0.0, y_error_num=2)
    shape = (3, 6, 4, 4)
    r.noise_bank.add(torch.full(shape, 1.0), T0)
    r.y_bank.add(torch.full(shape, 2.0), T0)
    x0, eps, y = torch.zeros(shape), torch.zeros(shape), torch.zeros(shape)
    x_w, e_w, y_w = r.inject(x0, eps, y, T0, r.plan())
    assert torch.all(e_w == 1.0) and torch.all(x_w == 2.0)
    assert torch.all(y_w[:, :2] == 2.0) and torch.all(y_w[:, 2:] == 0.0)
    assert torch.all(y == 0)  # inputs untouched
    # an empty bin injects nothing
    other = float(timesteps_for(50)[40])
    x_w, e_w, y_w = r.inject(x0, eps, y, other, r.plan())
    assert not x_w.any() and not e_w.any() and not y_w.any()


def test_step_fills_banks_and_resumes_identically():
    torch.manual_seed(0)
    lin = torch.nn.Conv3d(6, 3, 1)

    def fwd(x, t, y):
        return lin(torch.cat([x, y], 1))

    x0, y = torch.randn(3, 3, 4, 4, 4), torch.randn(3, 3, 4, 4, 4)
    flow = FlowMatch()
    a, g = _rec(clean_prob=0.0), torch.Generator().manual_seed(1)
    for _ in range(5):
        loss, stats = recycling_step(fwd, x0, y, flow, a, g)
        assert torch.isfinite(loss) and stats["bank_updates"] == 3
    assert len(a.noise_bank) > 0 and len(a.y_bank) == len(a.noise_bank)
    b = _rec(clean_prob=0.0)
    b.load_state_dict(a.state_dict())
    gb = torch.Generator()
    gb.set_state(g.get_state())
    la, _ = recycling_step(fwd, x0, y, flow, a, g)
    lb, _ = recycling_step(fwd, x0, y, flow, b, gb)
    assert torch.equal(la, lb)

import pytest
import torch

from svibench.errors import ConfigError
from svibench.models.flow import FlowMatch, timesteps_for
from svibench.train.recycling import (
    RECIPES,
    RECYCLING_PARAMS,
    ErrorRecycler,
    RecyclingConfig,
    recycling_step,
    y_error_bins,
)

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
    r = _rec(
        noise_prob=1.0,
        y_prob=1.0,
        latent_prob=1.0,
        clean_prob=0.0,
        y_error_num=2,
        y_error_sample_from_all_grids=False,
    )
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


def test_recipes_carry_the_published_script_values():
    # scripts/train/svi_film.sh and svi_shot.sh, line by line
    film, shot = RECIPES["film"], RECIPES["shot"]
    common = dict(
        learning_rate=1e-4,
        lora_rank=128,
        lora_alpha=128.0,
        use_error_recycling=True,
        error_buffer_k=500,
        y_error_num=3,
        buffer_warmup_iter=50,
        buffer_replacement_strategy="l2",
        y_error_sample_from_all_grids=True,
        num_grids=50,
        noise_prob=0.01,
        y_prob=0.9,
        latent_prob=0.9,
        clean_buffer_update_prob=0.1,
    )
    for recipe in (film, shot):
        assert {k: recipe[k] for k in common} == common
    assert (film["motion_frames"], film["ref_pad_num"], film["clean_prob"]) == (5, 0, 0.5)
    assert (shot["motion_frames"], shot["ref_pad_num"], shot["clean_prob"]) == (1, -1, 0.2)
    # where the scripts are silent the Param default is train_svi.py's argparse default
    assert RECYCLING_PARAMS["noise_prob"].default == 0.9
    assert RECYCLING_PARAMS["clean_prob"].default == 0.1
    assert RECYCLING_PARAMS["y_error_num"].default == 1
    assert RECYCLING_PARAMS["recipe"].default == "film"
    assert RecyclingConfig() == RecyclingConfig.recipe("film")


def test_y_errors_from_all_grids_or_a_range():
    shape = (3, 4, 2, 2)
    t_far = float(timesteps_for(50)[40])
    kw = dict(noise_prob=0.0, y_prob=1.0, latent_prob=0.0, clean_prob=0.0, y_error_num=1)
    r = _rec(**kw)  # film default: from all grids
    r.y_bank.add(torch.full(shape, 2.0), T0)
    _, _, y_w = r.inject(
        torch.zeros(shape), torch.zeros(shape), torch.zeros(shape), t_far, r.plan()
    )
    assert torch.all(y_w[:, :1] == 2.0) and not y_w[:, 1:].any()
    # a range of timesteps 0..250 -> bins 0..10 (upstream ts // 25): T0's bin 10 is inside ...
    assert y_error_bins("0,250", 50) == range(0, 11)
    r = _rec(y_error_sample_range="0,250", **kw)
    r.y_bank.add(torch.full(shape, 2.0), t_far)  # ... bin 40 is not
    _, _, y_w = r.inject(torch.zeros(shape), torch.zeros(shape), torch.zeros(shape), T0, r.plan())
    assert not y_w.any()
    r.y_bank.add(torch.full(shape, 3.0), T0)
    _, _, y_w = r.inject(
        torch.zeros(shape), torch.zeros(shape), torch.zeros(shape), t_far, r.plan()
    )
    assert torch.all(y_w[:, :1] == 3.0)
    with pytest.raises(ConfigError):
        y_error_bins("10", 50)


def _fwd_and_data():
    torch.manual_seed(0)
    lin = torch.nn.Conv3d(6, 3, 1)

    def fwd(x, t, y):
        return lin(torch.cat([x, y], 1))

    return fwd, torch.randn(1, 3, 2, 2, 2), torch.randn(1, 3, 2, 2, 2)


def test_warmup_adds_every_ranks_errors_then_only_local_ones():
    fwd, x0, y = _fwd_and_data()
    # a fake 3-rank gather: this rank's tensor plus two shifted copies, as all_gather would give
    gathered = []

    def gather(t):
        gathered.append(t.shape)
        return torch.cat([t, t + 1, t + 2])

    r = _rec(clean_prob=0.0, buffer_warmup_iter=2, error_buffer_k=100)
    g = torch.Generator().manual_seed(0)
    counts = []
    for _ in range(4):
        _, stats = recycling_step(fwd, x0, y, FlowMatch(), r, g, gather=gather)
        counts.append(stats["bank_updates"])
    assert counts == [3, 3, 1, 1] and len(r.noise_bank) == 8 == len(r.y_bank)
    assert len(gathered) == 6  # timesteps + 2 error tensors, only during the 2 warm-up steps
    # the gathered timesteps were binned too: rank copies with t+1, t+2 land in the same bins
    # single process: no gather -> local errors only, also during warm-up
    r1 = _rec(clean_prob=0.0, buffer_warmup_iter=2, error_buffer_k=100)
    for _ in range(2):
        _, stats = recycling_step(fwd, x0, y, FlowMatch(), r1, torch.Generator(), gather=None)
        assert stats["bank_updates"] == 1


def test_warmup_gather_through_a_one_process_group(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:

        def gather(t):
            out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
            dist.all_gather(out, t.contiguous())
            return torch.cat(out)

        fwd, x0, y = _fwd_and_data()
        a = _rec(clean_prob=0.0, error_buffer_k=100)
        b = _rec(clean_prob=0.0, error_buffer_k=100)
        ga, gb = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        for _ in range(3):
            la, _ = recycling_step(fwd, x0, y, FlowMatch(), a, ga, gather=gather)
            lb, _ = recycling_step(fwd, x0, y, FlowMatch(), b, gb, gather=None)
            assert torch.equal(la, lb)
        assert len(a.y_bank) == len(b.y_bank) == 3  # one process: the same as no gather
    finally:
        dist.destroy_process_group()


def test_iteration_count_resumes():
    fwd, x0, y = _fwd_and_data()
    a = _rec(buffer_warmup_iter=1)
    for _ in range(2):
        recycling_step(fwd, x0, y, FlowMatch(), a, torch.Generator())
    b = _rec(buffer_warmup_iter=1)
    assert b.in_warmup()
    b.load_state_dict(a.state_dict())
    assert b.iteration == 2 and not b.in_warmup()

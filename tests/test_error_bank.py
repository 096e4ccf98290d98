import numpy as np
import pytest
import torch

from svibench.models.flow import timesteps_for
from svibench.train.error_bank import ErrorBank

torch.set_num_threads(1)


def _bank(**kw):
    return ErrorBank(timesteps_for(50), **kw)


def test_bins_are_the_50_inference_timesteps_nearest_centre():
    bank = _bank()
    centres = timesteps_for(50)
    assert len(bank.bins) == 50
    assert centres[0] == pytest.approx(1000.0) and centres[-1] < 100  # shift 5 keeps them high
    for i, c in enumerate(centres.tolist()):
        assert bank.bin_of(c) == i
        assert bank.bin_of(torch.tensor([c + 1e-3])) == i
    # between two centres: the nearer one wins
    mid = 0.6 * centres[10] + 0.4 * centres[11]
    assert bank.bin_of(float(mid)) == 10
    assert bank.bin_of(5000.0) == 0  # clamped to 999
    assert bank.bin_of(-3.0) == 49


def test_capacity_and_fill():
    bank = _bank(capacity=3)
    for i in range(7):
        bank.add(torch.full((2, 2), float(i)), 1000.0)
    assert len(bank.bins[0]) == 3 and len(bank) == 3
    assert bank.fill() == pytest.approx(3 / 150)
    assert bank.sample(500.0) is None and not bank.has(500.0)


def test_fifo_keeps_the_newest():
    bank = _bank(capacity=3, strategy="fifo")
    for i in range(5):
        bank.add(torch.full((2,), float(i)), 1000.0)
    assert [float(t[0]) for t in bank.bins[0]] == [2.0, 3.0, 4.0]


def test_random_replaces_some_entry():
    bank = _bank(capacity=3, strategy="random", seed=1)
    for i in range(3):
        bank.add(torch.full((2,), float(i)), 1000.0)
    bank.add(torch.full((2,), 9.0), 1000.0)
    vals = sorted(float(t[0]) for t in bank.bins[0])
    assert 9.0 in vals and len(vals) == 3 and len(set(vals) & {0.0, 1.0, 2.0}) == 2


@pytest.mark.parametrize("name", ["l2", "l2_batch", "l2_similarity"])
def test_l2_replaces_the_nearest(name):
    bank = _bank(capacity=3, strategy=name)
    for v in (0.0, 5.0, 10.0):
        bank.add(torch.full((4,), v), 1000.0)
    bank.add(torch.full((4,), 6.0), 1000.0)  # nearest to 5
    assert sorted(float(t[0]) for t in bank.bins[0]) == [0.0, 6.0, 10.0]


def test_sampling_uniform_and_modulated():
    bank = _bank(capacity=4, modulate=0.5, seed=3)
    for v in (1.0, 2.0, 3.0, 4.0):
        bank.add(torch.full((1,), v), 1000.0)
    draws = [float(bank.sample(1000.0)[0]) for _ in range(2000)]
    base = np.array(draws)
    assert base.min() >= 0.5 - 1e-6 and base.max() <= 6.0 + 1e-6
    plain = _bank(capacity=4, modulate=0.0, seed=3)
    for v in (1.0, 2.0, 3.0, 4.0):
        plain.add(torch.full((1,), v), 1000.0)
    picks = np.array([float(plain.sample(1000.0)[0]) for _ in range(2000)])
    counts = np.bincount(picks.astype(int))[1:]
    assert set(picks) == {1.0, 2.0, 3.0, 4.0} and counts.min() > 400  # ~500 each


def test_invalid_settings():
    with pytest.raises(ValueError, match="strategy"):
        _bank(strategy="lru")
    with pytest.raises(ValueError, match="capacity"):
        _bank(capacity=0)


def test_state_dict_resumes_entries_order_and_rng(tmp_path):
    a = _bank(capacity=2, strategy="random", modulate=0.3, seed=5, dtype=torch.float16)
    for i in range(6):
        a.add(torch.randn(3, 2), float(i * 150))
    torch.save(a.state_dict(), tmp_path / "bank.pt")
    b = _bank(capacity=2, strategy="random", modulate=0.3, seed=99, dtype=torch.float16)
    b.load_state_dict(torch.load(tmp_path / "bank.pt", weights_only=False))
    assert len(b) == len(a)
    # the same future: replacements and samples identical
    for _ in range(5):
        e = torch.randn(3, 2)
        a.add(e, 300.0)
        b.add(e, 300.0)
        assert torch.equal(a.sample(300.0), b.sample(300.0))
    for x, y in zip(a.bins, b.bins, strict=True):
        assert len(x) == len(y) and all(torch.equal(p, q) for p, q in zip(x, y, strict=True))
    assert a.bins[a.bin_of(300.0)][0].dtype == torch.float16

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "tiny_svi_claim", Path(__file__).resolve().parent.parent / "bench" / "tiny_svi_claim.py"
)
claim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(claim)


def test_exact_sign_flip_p_values():
    assert claim.sign_flip_p(-np.ones(8)) == pytest.approx(1 / 256)  # only the observed pattern
    assert claim.sign_flip_p(np.ones(8)) == 1.0
    d = np.array([-3.0, 1.0, -2.0])  # patterns with mean <= -4/3: (-3,-1,-2),(-3,+1,-2)
    assert claim.sign_flip_p(d) == pytest.approx(2 / 8)


def test_holm_adjustment():
    assert claim.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert claim.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_paired_summary_and_mde():
    d = np.array([-0.01, -0.02, -0.015, -0.012, -0.018, -0.011, -0.02, -0.016])
    s = claim.paired(d, 4)
    assert s["ci_hi"] < 0 and s["p_t"] < 0.001 and s["p_perm"] == pytest.approx(1 / 256)
    assert 0 < s["mde"] < 0.01  # a spread of ~0.004 over 8 seeds resolves ~0.005

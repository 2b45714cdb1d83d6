"""The smoothed LLG auction's affine equilibrium (diffauction.equilibria.smoothed_llg) against
independent computations: a Monte-Carlo gradient of the game layer's closed form, a numerical
integral over the global's bid, refinement of the rule, and the β → ∞ expansion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from diffauction.equilibria.llg import GLOBAL_HIGH, NEAREST_VCG_SHIFT, bne_params
from diffauction.equilibria.smoothed_llg import fixed_point, gradient, own_bid_gradient
from diffauction.game.mechanisms import LLG_MECHANISMS, make_mechanism


def _pointwise(mechanism, v, own, other, t, beta):
    """∂ũ_0/∂b_0 of the game layer's closed form (the learner's fast path)."""
    rule = make_mechanism(mechanism)
    tensors = [torch.as_tensor(x, dtype=torch.float64) for x in (v, 0.0, own, other, t)]
    return rule.local_bid_gradients(*tensors, beta)[0].numpy()


@pytest.mark.parametrize("mechanism", LLG_MECHANISMS)
@pytest.mark.parametrize(("v", "own", "other"), [(0.6, 0.5, 0.3), (0.2, 0.05, 0.9),
                                                (0.9, 0.0, 0.0), (1.0, 1.0, 0.98)])
def test_the_integral_over_the_global_bid_is_exact(mechanism, v, own, other):
    beta = 60.0
    exact = own_bid_gradient(mechanism, v, own, other, beta)
    breaks = sorted({0.0, own, other, own + other, GLOBAL_HIGH})
    numeric = sum(quad(lambda t: float(_pointwise(mechanism, v, own, other, t, beta)), lo, hi,
                       epsabs=1e-13, epsrel=1e-12, limit=200)[0]
                  for lo, hi in zip(breaks[:-1], breaks[1:], strict=True) if hi > lo) / GLOBAL_HIGH
    assert exact == pytest.approx(numeric, abs=1e-11)


@pytest.mark.parametrize("mechanism", LLG_MECHANISMS)
def test_the_quadrature_gradient_matches_monte_carlo(mechanism):
    """E[∂ũ_0/∂(a, w)] off the equilibrium, own and others different, within 4 standard
    errors of 4 million draws of (v_0, v_1, t)."""
    own, others, beta = (-0.06, 0.93), (-0.12, 1.08), 40.0
    expected = gradient(mechanism, own, others, beta)
    generator = torch.Generator().manual_seed(17)
    samples = []
    for _ in range(8):
        v0, v1 = torch.rand(2, 500_000, generator=generator, dtype=torch.float64)
        t = GLOBAL_HIGH * torch.rand(500_000, generator=generator, dtype=torch.float64)
        b0 = (own[0] + own[1] * v0).clamp_min(0.0)
        b1 = (others[0] + others[1] * v1).clamp_min(0.0)
        g = make_mechanism(mechanism).local_bid_gradients(v0, v1, b0, b1, t, beta)[0]
        g = g * (b0 > 0)
        samples.append(torch.stack([g, g * v0], dim=-1))
    draws = torch.cat(samples).numpy()
    mean, se = draws.mean(axis=0), draws.std(axis=0) / math.sqrt(len(draws))
    assert np.all(np.abs(mean - expected) < 4 * se), (mean, expected, se)
    assert np.all(np.abs(expected) > 10 * se)  # the point is far enough from equilibrium


@pytest.mark.parametrize("mechanism", LLG_MECHANISMS)
@pytest.mark.parametrize("beta", [25.0, 400.0])
def test_the_fixed_point_is_refined_to_round_off(mechanism, beta):
    coarse, fine = fixed_point(mechanism, beta, 10), fixed_point(mechanism, beta, 20)
    assert coarse.converged and fine.converged
    assert coarse.a == pytest.approx(fine.a, abs=1e-12)
    assert coarse.w == pytest.approx(fine.w, abs=1e-12)


@pytest.mark.parametrize("mechanism", LLG_MECHANISMS)
@pytest.mark.parametrize("beta", [25.0, 50.0, 100.0, 200.0, 400.0])
def test_the_fixed_point_is_a_local_best_response(mechanism, beta):
    point = fixed_point(mechanism, beta)
    assert point.converged and point.local_max and point.status == "converged"
    assert point.residual < 1e-11


def test_vcg_bias_is_pi_squared_over_beta_squared():
    """VCG: only the price kink at t = b_j, smoothed where the own bid is within 1/β of 0,
    moves the first-order conditions: ã = −π²/(3β²), w̃ − 1 = π²/(2β²) + o(1/β²)."""
    for beta, tolerance in [(400.0, 0.01), (1000.0, 0.003)]:
        point = fixed_point("llg_vcg", beta)
        assert beta**2 * (point.w - 1.0) == pytest.approx(math.pi**2 / 2, rel=tolerance)
        assert beta**2 * point.a == pytest.approx(-math.pi**2 / 3, rel=tolerance)


def test_nearest_vcg_bias_is_of_order_one_over_beta():
    a_star, w_star = bne_params("llg_nearest_vcg")
    assert (a_star, w_star) == (-NEAREST_VCG_SHIFT, 1.0)
    scaled = [(beta * (p.w - w_star), beta * (p.a - a_star))
              for beta in (250.0, 500.0, 1000.0) for p in [fixed_point("llg_nearest_vcg", beta)]]
    (w1, a1), (w2, a2), (w3, a3) = scaled
    assert 0.1 < w3 < 0.3 and -0.2 < a3 < -0.05  # over-bids at the top, shades more below
    # β·bias settles: successive differences halve as β doubles (a 1/β² remainder)
    assert abs(w3 - w2) < 0.6 * abs(w2 - w1) and abs(a3 - a2) < 0.6 * abs(a2 - a1)


def test_bad_input_names_the_key_and_the_allowed_values():
    with pytest.raises(ValueError, match=r"mechanism: 'first_price'.*llg_vcg"):
        fixed_point("first_price", 100.0)
    with pytest.raises(ValueError, match="beta: must be positive"):
        fixed_point("llg_vcg", 0.0)
    with pytest.raises(ValueError, match="w: the affine bids' slopes must be positive"):
        gradient("llg_vcg", (0.0, -1.0), (0.0, 1.0), 50.0)

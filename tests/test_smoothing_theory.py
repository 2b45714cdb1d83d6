"""The linear smoothed fixed points of every format (diffauction.equilibria.smoothed_linear) and
their scaling in 1/β (diffauction.equilibria.smoothing_bias), against independent computations:
Monte-Carlo gradients of the game layer's own mechanisms, the β → ∞ limits from the BNE code,
exact identities, and the quadrature itself for the derived constants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffauction.equilibria import multiunit
from diffauction.equilibria.registry import linear_coefficient
from diffauction.equilibria.smoothed import gap_constant_theory, smoothed_symmetric_equilibrium
from diffauction.equilibria.smoothed_linear import (
    LinearGame,
    classify,
    gradient,
    limit_slope,
    stationary_points,
    symmetric_gradient,
    utility,
)
from diffauction.equilibria.smoothing_bias import bias_expansion
from diffauction.experiments.config import ConfigError, load_config, validate_config
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior
from diffauction.game.risk import make_risk_averse

CRRA = [LinearGame("first_price", 2, risk_aversion=0.5),
        LinearGame("first_price", 3, risk_aversion=0.5)]
GAMES = [LinearGame("first_price", 2), LinearGame("second_price", 2),
         LinearGame("third_price", 4), LinearGame("all_pay", 2), LinearGame("pay_as_bid", 3, 2),
         LinearGame("uniform_price", 5, 2), LinearGame("second_price", 5)] + CRRA


def _id(game: LinearGame) -> str:
    rho = f"-rho{game.risk_aversion:g}" if game.risk_aversion != 1.0 else ""
    return f"{game.mechanism}-{game.n_agents}-{game.units}{rho}"


def fixed_point(game: LinearGame, beta: float, nodes: int = 10) -> float:
    roots, _ = stationary_points(game, beta, nodes=nodes)
    assert len(roots) == 1, (game, beta, roots)
    return roots[0]


def monte_carlo_gradient(game: LinearGame, w_own: float, w: float, beta: float,
                         samples: int = 1 << 18, seed: int = 0) -> tuple[float, float]:
    """Mean and standard error of v·∂ũ_0/∂b from the game layer's mechanism (the learners'
    gradient) with agent 0 bidding w_own·v and the others w·v."""
    params = {"k": game.units} if game.mechanism in ("pay_as_bid", "uniform_price") else {}
    mechanism = (make_risk_averse(game.mechanism, game.risk_aversion)
                 if game.risk_aversion != 1.0 else make_mechanism(game.mechanism, **params))
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand((1, samples, game.n_agents), generator=generator, dtype=torch.float64)
    slopes = torch.full((game.n_agents,), w, dtype=torch.float64)
    slopes[0] = w_own
    per_sample = (values * mechanism.smoothed_bid_gradient(values, slopes * values, beta))[0, :, 0]
    return float(per_sample.mean()), float(per_sample.std() / math.sqrt(samples))


@pytest.mark.parametrize("game", GAMES, ids=_id)
def test_quadrature_gradient_is_the_trainers_gradient(game):
    """Off the symmetric point, where every term of the utility matters."""
    w = limit_slope(game)
    for w_own in (0.8 * w, 1.1 * w):
        mean, se = monte_carlo_gradient(game, w_own, w, 20.0)
        assert abs(float(gradient(game, w_own, w, 20.0)) - mean) < 4 * se + 1e-12


@pytest.mark.parametrize("game", GAMES[:4] + CRRA[:1], ids=_id)
def test_fixed_point_zeroes_the_monte_carlo_gradient(game):
    w = fixed_point(game, 25.0)
    mean, se = monte_carlo_gradient(game, w, w, 25.0, seed=1)
    assert abs(mean) < 4 * se
    assert abs(float(symmetric_gradient(game, w, 25.0))) < 1e-12


def test_first_price_agrees_with_the_first_price_module():
    for n, beta in [(2, 5.0), (3, 50.0), (10, 1000.0)]:
        assert fixed_point(LinearGame("first_price", n), beta) == pytest.approx(
            smoothed_symmetric_equilibrium(beta, n, tol=1e-14), abs=1e-11)


def test_utility_derivative_is_the_gradient():
    for game in GAMES:
        w, h = limit_slope(game), 1e-5
        up, down = utility(game, 0.9 * w + h, w, 50.0), utility(game, 0.9 * w - h, w, 50.0)
        numeric = (up - down) / (2 * h)
        assert float(numeric) == pytest.approx(float(gradient(game, 0.9 * w, w, 50.0)), abs=1e-7)


@pytest.mark.parametrize("game", [GAMES[0], GAMES[4], CRRA[0]] + [
    pytest.param(g, marks=pytest.mark.slow) for g in GAMES[1:4] + GAMES[5:7] + CRRA[1:]],
    ids=_id)
def test_refining_the_rule_does_not_move_the_fixed_point(game):
    for beta in (5.0, 1000.0):
        if game.mechanism == "all_pay" and beta == 5.0:
            continue
        assert fixed_point(game, beta, nodes=10) == pytest.approx(
            fixed_point(game, beta, nodes=20), abs=1e-11)


def test_limits_are_the_hard_games_equilibria():
    prior = UniformPrior(0.0, 1.0)
    for n in (2, 3, 5, 10):
        assert limit_slope(LinearGame("first_price", n)) == pytest.approx(
            linear_coefficient("first_price", n, prior))
        assert limit_slope(LinearGame("second_price", n)) == 1.0
        if n >= 3:
            assert limit_slope(LinearGame("third_price", n)) == pytest.approx(
                linear_coefficient("third_price", n, prior))
        for k in range(2, n):
            assert limit_slope(LinearGame("pay_as_bid", n, k)) == pytest.approx(
                multiunit.linear_restricted_slope("pay_as_bid", n, k))
    # all-pay, N = 2: the hard utility's slope 1/(3w) − 1/2 vanishes at w = 2/3
    assert limit_slope(LinearGame("all_pay", 2)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("game", GAMES, ids=_id)
def test_large_beta_tends_to_the_limit(game):
    w = fixed_point(game, 1e5)
    assert abs(w - limit_slope(game)) < 2e-4 * max(1.0, limit_slope(game))


def test_second_price_three_bidders_is_exactly_truthful():
    for beta in (5.0, 50.0, 1000.0):
        assert fixed_point(LinearGame("second_price", 3), beta) == pytest.approx(1.0, abs=1e-13)
        assert fixed_point(LinearGame("third_price", 3), beta) == pytest.approx(2.0, abs=1e-13)


def test_third_price_is_rescaled_second_price():
    for n in (4, 5, 10):
        c = (n - 2) / (n - 1)
        for beta in (20.0, 200.0):
            assert fixed_point(LinearGame("third_price", n), beta) == pytest.approx(
                fixed_point(LinearGame("second_price", n), beta / c) / c, abs=1e-11)


def test_first_price_constant_is_c_of_n():
    for n in (2, 3, 5, 10):
        e = bias_expansion(LinearGame("first_price", n))
        assert (e.order, e.leading) == (1, pytest.approx(-gap_constant_theory(n)))


SCALING = [("first_price", 3, 1), ("second_price", 2, 1), ("second_price", 10, 1),
           ("third_price", 5, 1), ("all_pay", 2, 1), ("all_pay", 5, 1), ("pay_as_bid", 3, 2),
           ("pay_as_bid", 10, 4), ("uniform_price", 3, 2), ("uniform_price", 10, 2)]


@pytest.mark.parametrize("mechanism, n, k", SCALING[:2] + SCALING[6:9] + [
    pytest.param(*s, marks=pytest.mark.slow) for s in SCALING[2:6] + SCALING[9:]])
def test_scaling_constants_match_the_quadrature(mechanism, n, k):
    """β^p (w̃ − w_∞) = s_p + s_{p+1}/β + …: Richardson-extrapolated from β = 2000, 4000 to s_p,
    and the next constant where it is derived."""
    game = LinearGame(mechanism, n, k)
    e = bias_expansion(game)
    scaled = {b: (fixed_point(game, b) - limit_slope(game)) * b**e.order
              for b in (2000.0, 4000.0)}
    assert 2 * scaled[4000.0] - scaled[2000.0] == pytest.approx(e.leading, rel=2e-3)
    if not math.isnan(e.next):
        assert (scaled[4000.0] - e.leading) * 4000.0 == pytest.approx(e.next, rel=0.05, abs=0.5)


def test_sign_of_the_bias():
    """First price and all-pay under-bid; two-bidder and k-unit truthful formats over-bid;
    one-item truthful formats with N ≥ 4 under-bid."""
    assert bias_expansion(LinearGame("first_price", 2)).leading < 0
    assert bias_expansion(LinearGame("all_pay", 3)).leading < 0
    assert bias_expansion(LinearGame("second_price", 2)).leading > 0
    assert bias_expansion(LinearGame("uniform_price", 5, 4)).leading > 0
    assert bias_expansion(LinearGame("second_price", 4)).leading < 0
    assert bias_expansion(LinearGame("second_price", 3)).order == 0


def test_all_pay_has_no_linear_equilibrium_beyond_two_bidders():
    w2 = fixed_point(LinearGame("all_pay", 2), 100.0)
    assert classify(LinearGame("all_pay", 2), w2, 100.0) == "equilibrium"
    w3 = fixed_point(LinearGame("all_pay", 3), 100.0)
    assert classify(LinearGame("all_pay", 3), w3, 100.0) == "local maximum, not a best response"
    w5 = fixed_point(LinearGame("all_pay", 5), 100.0)
    assert classify(LinearGame("all_pay", 5), w5, 100.0) == "minimum"
    assert stationary_points(LinearGame("all_pay", 2), 5.0)[0] == []


def test_games_reject_bad_settings():
    with pytest.raises(ValueError, match="units"):
        LinearGame("pay_as_bid", 3, 3)
    with pytest.raises(ValueError, match="third_price"):
        LinearGame("third_price", 2)
    with pytest.raises(ValueError, match="mechanism"):
        LinearGame("llg_vcg", 3)


def test_config_block_is_checked_by_key(tmp_path):
    cfg = load_config("config/config.yaml")
    cfg["smoothing_theory"]["mechanisms"] = ["first_price", "vickrey"]
    with pytest.raises(ConfigError, match="smoothing_theory.mechanisms"):
        validate_config(cfg)
    cfg = load_config("config/config.yaml")
    cfg["smoothing_theory"]["beta"] = [5, 10, 20, 50]
    with pytest.raises(ConfigError, match="smoothing_theory.beta"):
        validate_config(cfg)
    assert np.isfinite(load_config("config/config.yaml")["smoothing_theory"]["nodes"])


def test_crra_limit_is_maskin_rileys_equilibrium_and_rho_one_is_risk_neutral():
    """First price with CRRA bidders u(x) = x^ρ: the linear class's β → ∞ limit is the BNE
    slope (N − 1)/(N − 1 + ρ); the smoothed fixed point lies below it (the bias has the
    risk-neutral sign) and shrinks as 1/β; as ρ → 1 it tends to the risk-neutral fixed point."""
    prior = UniformPrior(0.0, 1.0)
    for game in CRRA:
        assert limit_slope(game) == pytest.approx(linear_coefficient(
            "first_price", game.n_agents, prior, game.risk_aversion))
        scaled = [beta * (fixed_point(game, beta) - limit_slope(game)) for beta in (1e3, 1e4)]
        assert scaled[0] < 0 and scaled[1] == pytest.approx(scaled[0], rel=0.02)
        assert math.isnan(bias_expansion(game).leading)  # not derived: quadrature only
    near = LinearGame("first_price", 2, risk_aversion=1.0 - 1e-7)
    assert fixed_point(near, 50.0) == pytest.approx(
        fixed_point(LinearGame("first_price", 2), 50.0), abs=1e-6)


def test_crra_is_modelled_for_first_price_only():
    with pytest.raises(ValueError, match="risk_aversion.*first_price only"):
        LinearGame("second_price", 2, risk_aversion=0.5)
    with pytest.raises(ValueError, match=r"risk_aversion.*\(0, 1\]"):
        LinearGame("first_price", 2, risk_aversion=1.5)

"""Tests for diffauction.game.priors: Beta prior, per-agent priors, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import special, stats

from diffauction.game.priors import (
    AgentPriors,
    BetaPrior,
    UniformPrior,
    make_agent_priors,
    make_prior,
)

F64 = torch.float64


@pytest.mark.parametrize("a, b", [(2.0, 5.0), (1.0, 1.0), (0.5, 0.5), (3.0, 1.5)])
def test_beta_transform_matches_the_exact_quantile_function(a, b):
    prior = BetaPrior(a, b)
    u = torch.linspace(0.001, 0.999, 9973, dtype=F64)
    exact = torch.from_numpy(special.betaincinv(a, b, u.numpy()))
    assert (prior.transform(u) - exact).abs().max() < 1e-4
    assert torch.allclose(prior.cdf(prior.transform(u)), u, atol=1e-4)
    ends = prior.transform(torch.tensor([0.0, 1.0], dtype=F64))
    assert ends.tolist() == [0.0, 1.0]


def test_beta_samples_follow_the_distribution_and_scaling():
    prior = BetaPrior(2.0, 5.0, low=1.0, high=3.0)
    draws = prior.sample((200_000,), generator=torch.Generator().manual_seed(0))
    assert draws.min() >= 1.0 and draws.max() <= 3.0
    result = stats.kstest(((draws - 1.0) / 2.0).numpy(), stats.beta(2.0, 5.0).cdf)
    assert result.pvalue > 1e-3
    assert prior.v_max == 3.0 and prior.name == "beta"


def test_beta_transform_keeps_the_float32_layout():
    prior = BetaPrior(2.0, 5.0)
    buffer = torch.rand(3, 2, 64)  # agent-major, viewed [runs, batch, agents]
    values = prior.transform(buffer.transpose(1, 2))
    assert values.dtype == torch.float32
    assert values.transpose(1, 2).is_contiguous()


@pytest.mark.parametrize("kwargs, key", [
    ({"a": 0.0, "b": 1.0}, "prior.a"), ({"a": 1.0, "b": -2.0}, "prior.b"),
    ({"a": 1.0, "b": 1.0, "low": 1.0, "high": 0.5}, "prior.high"),
])
def test_bad_beta_parameters_raise_naming_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        BetaPrior(**kwargs)


def test_agent_priors_map_each_agent_by_its_own_prior():
    priors = AgentPriors([UniformPrior(0.0, 0.5), UniformPrior(0.0, 1.0), BetaPrior(2.0, 2.0)])
    unit = torch.rand(4, 100, 3, dtype=F64)
    values = priors.transform(unit)
    assert torch.equal(values[..., 0], 0.5 * unit[..., 0])
    assert torch.equal(values[..., 1], unit[..., 1])
    assert torch.equal(values[..., 2], BetaPrior(2.0, 2.0).transform(unit[..., 2]))
    assert priors.highs == [0.5, 1.0, 1.0] and not priors.symmetric
    cdf = priors.cdf(values)
    assert torch.allclose(cdf, unit, atol=1e-4)
    with pytest.raises(ValueError, match="3 priors"):
        priors.transform(torch.rand(2, 5, 2))


def test_all_uniform_agent_priors_keep_the_agent_major_layout():
    priors = make_agent_priors({"name": "uniform"}, [{"name": "uniform", "high": 0.5},
                                                     {"name": "uniform", "high": 1.0}], 2)
    buffer = torch.rand(3, 2, 64)
    values = priors.transform(buffer.transpose(1, 2))
    assert values.transpose(1, 2).is_contiguous()
    assert torch.allclose(values[..., 0], 0.5 * buffer[:, 0, :])


def test_make_agent_priors_defaults_and_errors():
    same = make_agent_priors({"name": "beta", "a": 2, "b": 5}, None, 3)
    assert len(same) == 3 and same.symmetric and same[1] == BetaPrior(2, 5)
    with pytest.raises(ValueError, match="agent_priors: 1 priors for n_agents=2"):
        make_agent_priors({"name": "uniform"}, [{"name": "uniform"}], 2)
    with pytest.raises(ValueError, match="prior.name"):
        make_prior({"name": "gamma"})
    assert isinstance(make_prior({"name": "beta", "a": 1, "b": 2}), BetaPrior)
    np.testing.assert_allclose(make_prior({"name": "uniform", "low": 0, "high": 2}).v_max, 2)

"""The training loop's fused in-place gradient agrees with the readable closed form."""

from __future__ import annotations

import pytest
import torch

from diffauction.learners import Workspace, analytic_gradient, analytic_gradient_inplace
from diffauction.mechanisms import make_mechanism
from diffauction.policies import LinearPolicy

F64 = torch.float64


@pytest.mark.parametrize("mechanism", ["first_price", "second_price", "all_pay"])
@pytest.mark.parametrize("agents", [2, 3, 7])
def test_inplace_gradient_matches_readable(mechanism, agents):
    generator = torch.Generator().manual_seed(agents)
    runs, batch = 3, 257
    values = torch.rand((runs, agents, batch), generator=generator, dtype=F64).transpose(1, 2)
    params = torch.rand((runs, agents), generator=generator, dtype=F64)
    beta = torch.tensor([5.0, 50.0, 500.0], dtype=F64)[:, None, None]
    policy = LinearPolicy(params)
    mech = make_mechanism(mechanism)
    expected = analytic_gradient(policy, mech, values, params, beta)
    work = Workspace(runs, agents, batch, F64, "cpu")
    got = analytic_gradient_inplace(policy, mech, values, params, beta, work)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mechanism", ["first_price", "second_price", "all_pay"])
def test_float32_is_exact_enough(mechanism):
    """float32 (the default training precision) matches float64 to ~1e-6 on the gradient."""
    generator = torch.Generator().manual_seed(0)
    values = torch.rand((4, 3, 8192), generator=generator, dtype=F64).transpose(1, 2)
    params = torch.rand((4, 3), generator=generator, dtype=F64)
    beta = torch.full((4, 1, 1), 100.0, dtype=F64)
    mech = make_mechanism(mechanism)
    exact = analytic_gradient(LinearPolicy(params), mech, values, params, beta)
    v32, p32, b32 = values.float(), params.float(), beta.float()
    work = Workspace(4, 3, 8192, torch.float32, "cpu")
    single = analytic_gradient_inplace(LinearPolicy(p32), mech, v32, p32, b32, work)
    assert (single.double() - exact).abs().max() < 2e-6


def test_subclass_with_its_own_derivative_does_not_inherit_the_fused_path():
    from diffauction.mechanisms import FirstPrice

    class Doubled(FirstPrice):
        def smoothed_bid_gradient(self, values, bids, beta):
            return 2.0 * super().smoothed_bid_gradient(values, bids, beta)

    values = torch.rand((2, 3, 50), dtype=F64).transpose(1, 2)
    bids = 0.5 * values
    expected = Doubled().smoothed_bid_gradient(values, bids, 30.0)
    got = Doubled().smoothed_bid_gradient_(values, bids.clone(), 30.0, torch.empty_like(bids))
    assert torch.allclose(got, expected)

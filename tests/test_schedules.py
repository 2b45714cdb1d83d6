"""Tests for diffauction.learning.schedules: end points, monotonicity and the closed forms."""

from __future__ import annotations

import pytest
import torch

from diffauction.learning.schedules import SCHEDULES, Schedule

F64 = torch.float64
TOTAL = 101
START = torch.tensor([10.0, 1e-2, 5.0, 3.0], dtype=F64)
END = torch.tensor([200.0, 1e-4, 5.0, 0.5], dtype=F64)  # rising, falling, flat, falling


def trajectory(name: str) -> torch.Tensor:
    schedule = Schedule(name, START, END)
    return torch.stack([torch.as_tensor(schedule.at(t, TOTAL)).expand(4) for t in range(TOTAL)])


@pytest.mark.parametrize("name", [s for s in SCHEDULES if s != "constant"])
def test_hits_start_and_end(name):
    values = trajectory(name)
    assert torch.allclose(values[0], START, rtol=1e-12, atol=0)
    assert torch.allclose(values[-1], END, rtol=1e-12, atol=0)


def test_constant_stays_at_start():
    values = trajectory("constant")
    assert torch.equal(values, START.expand(TOTAL, 4))


@pytest.mark.parametrize("name", SCHEDULES)
def test_monotone_between_start_and_end(name):
    values = trajectory(name)
    diffs = values[1:] - values[:-1]
    rising, falling, flat = END > START, END < START, END == START
    if name == "constant":
        assert torch.all(diffs == 0)
        return
    assert torch.all(diffs[:, rising] > 0)
    assert torch.all(diffs[:, falling] < 0)
    assert torch.all(diffs[:, flat].abs() < 1e-12)
    low, high = torch.minimum(START, END), torch.maximum(START, END)
    assert torch.all(values >= low * (1 - 1e-12)) and torch.all(values <= high * (1 + 1e-12))


def test_linear_is_arithmetic():
    values = trajectory("linear")
    s = torch.arange(TOTAL, dtype=F64)[:, None] / (TOTAL - 1)
    assert torch.allclose(values, START + (END - START) * s, rtol=1e-12, atol=1e-15)
    # constant increments
    diffs = values[1:] - values[:-1]
    assert torch.allclose(diffs, diffs[:1].expand_as(diffs), rtol=1e-9, atol=1e-15)


def test_geometric_has_constant_ratio():
    values = trajectory("geometric")
    ratios = values[1:] / values[:-1]
    expected = (END / START) ** (1 / (TOTAL - 1))
    assert torch.allclose(ratios, expected.expand_as(ratios), rtol=1e-12, atol=0)


def test_inverse_time_is_harmonic_interpolation():
    values = trajectory("inverse_time")
    s = torch.arange(TOTAL, dtype=F64)[:, None] / (TOTAL - 1)
    # 1/value moves linearly from 1/start to 1/end
    assert torch.allclose(1 / values, (1 - s) / START + s / END, rtol=1e-12, atol=0)
    inverse_steps = (1 / values)[1:] - (1 / values)[:-1]
    assert torch.allclose(inverse_steps, inverse_steps[:1].expand_as(inverse_steps), rtol=1e-8)
    # lr0 / (1 + k t) decay, k = (lr0/lr_end - 1)/(T - 1)
    k = (START / END - 1) / (TOTAL - 1)
    t = torch.arange(TOTAL, dtype=F64)[:, None]
    assert torch.allclose(values, START / (1 + k * t), rtol=1e-12, atol=0)


def test_midpoints():
    """s = 1/2 for every schedule, worked by hand for start 1, end 4."""
    start, end = torch.tensor([1.0], dtype=F64), torch.tensor([4.0], dtype=F64)
    expected = {"constant": 1.0, "linear": 2.5, "geometric": 2.0, "inverse_time": 1.6}
    for name, value in expected.items():
        assert Schedule(name, start, end).at(5, 11).item() == pytest.approx(value, rel=1e-14)


def test_single_step_uses_start():
    for name in SCHEDULES:
        value = Schedule(name, START, END).at(0, 1)
        assert torch.allclose(torch.as_tensor(value).expand(4), START)


def test_unknown_name_raises():
    with pytest.raises(ValueError, match=r"cosine.*allowed"):
        Schedule("cosine", START, END)

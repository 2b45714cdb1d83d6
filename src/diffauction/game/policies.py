"""Bid functions, batched over independent runs and agents.

A policy holds its parameters as one tensor whose first two axes are ``[runs, agents]`` and maps
values ``[runs, batch, agents]`` to bids of the same shape.

==========  ==========================================  ==========================================
policy      bid b_i(v)                                  parameters
==========  ==========================================  ==========================================
linear      w_i · v                                     [runs, agents] (the default; analytic
                                                        gradient)
affine      max(0, w_i · v + c_i)                       [runs, agents, 2] = (w, c)
mlp         v · σ(f_θ(x_i))  (``output: shading``)      [runs, A, P]: every layer of every run's
            v̄_i · σ(f_θ(x_i)) (``output: bounded``)     and agent's network, flattened; A = 1
                                                        with ``shared`` weights, else agents
==========  ==========================================  ==========================================

v̄_i is agent i's highest value and x_i = 2v/v̄_i − 1 ∈ [−1, 1] the network's input (centred, so
tanh units start in their curved range). The MLP f_θ: R → R has ``hidden`` layers and is
evaluated for all runs and agents at once with batched matrix products (weights
[runs, A, in, out]); with shared weights A = 1 broadcasts one network over the symmetric agents.

Why the shading output b = v·σ(f): it keeps 0 ≤ b ≤ v ≤ v̄ by construction, so no bid ever
exceeds the bidder's value (never optimal in first price or all-pay) and b(0) = 0 exactly, while
the sigmoid keeps gradients alive everywhere (a hard clamp at v̄ would zero them outside). The
network models the *shading factor* b/v, which is constant in the uniform first-price BNE and
smooth in the others, so a small network fits it. ``bounded`` (b = v̄·σ(f)) also allows bids
above the value, e.g. for second price where the BNE is truthful.
"""

from __future__ import annotations

import math

import torch


class LinearPolicy:
    """b_i = w_i · v_i with one scalar w per (run, agent); parameters shaped [runs, agents]."""

    name = "linear"

    def __init__(self, w0: torch.Tensor):
        self.params = w0.clone()

    def bids(self, values: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        w = self.params if params is None else params
        return w[:, None, :] * values

    @staticmethod
    def chain_rule(values: torch.Tensor, bid_gradient: torch.Tensor) -> torch.Tensor:
        """∂E[ũ_i]/∂w_i = E[v_i · ∂ũ_i/∂b_i]: average over the batch axis, shape [runs, agents]."""
        return (values * bid_gradient).mean(dim=1)

    def bid_function(self, grid: torch.Tensor) -> torch.Tensor:
        """b(v) on a value grid [G] for every run and agent: [runs, G, agents]."""
        return self.params[:, None, :] * grid[None, :, None].to(self.params)


class AffinePolicy:
    """b_i = max(0, w_i·v_i + c_i), for equilibria with a kink; parameters [runs, agents, 2]."""

    name = "affine"

    def __init__(self, w0: torch.Tensor, c0: float = 0.0):
        self.params = torch.stack([w0, torch.full_like(w0, c0)], dim=-1).contiguous()

    def bids(self, values: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        p = self.params if params is None else params
        return torch.relu(p[:, None, :, 0] * values + p[:, None, :, 1])


ACTIVATIONS = {"selu": torch.selu, "tanh": torch.tanh, "relu": torch.relu}
OUTPUTS = ("shading", "bounded")


class MLPPolicy:
    """A multilayer perceptron per agent (or one shared by symmetric agents), batched over runs.

    ``params`` is one flat tensor [runs, A, P] (A = 1 if ``shared`` else ``n_agents``); layer k
    uses the slices W_k [runs, A, in, out] and b_k [runs, A, 1, out]. Input v/v̄_i, hidden
    activations ``activation``, a linear last layer z, then the output map (module docstring).
    Initialisation: every weight and bias U(−1/√fan_in, 1/√fan_in) (torch's default for Linear)
    from a generator seeded by the run's seed, so a run's network does not depend on its batch
    mates.
    """

    name = "mlp"

    def __init__(self, seeds: list[int], n_agents: int, hidden: list[int], v_max,
                 shared: bool = False, activation: str = "selu", output: str = "shading",
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"policy.hidden: every layer needs a width >= 1, got {hidden}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"policy.activation: unknown activation {activation!r}; "
                             f"allowed: {sorted(ACTIVATIONS)}")
        if output not in OUTPUTS:
            raise ValueError(f"policy.output: unknown output {output!r}; allowed: {list(OUTPUTS)}")
        self.n_agents = n_agents
        self.shared = shared
        self.activation = ACTIVATIONS[activation]
        self.output = output
        sizes = [1, *[int(h) for h in hidden], 1]
        self.layers = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.size = sum(i * o + o for i, o in self.layers)
        v_max = torch.as_tensor(v_max, dtype=dtype, device=device).reshape(-1)
        self.v_max = v_max.expand(n_agents).clone() if v_max.numel() == 1 else v_max.clone()
        copies = 1 if shared else n_agents
        self.params = torch.empty((len(seeds), copies, self.size), dtype=dtype, device=device)
        for r, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(int(seed) + 1_000_003)
            self.params[r] = self._initial(copies, generator).to(dtype=dtype, device=device)

    def _initial(self, copies: int, generator: torch.Generator) -> torch.Tensor:
        chunks = []
        for fan_in, fan_out in self.layers:
            bound = 1.0 / math.sqrt(fan_in)
            count = fan_in * fan_out + fan_out
            chunks.append((torch.rand((copies, count), generator=generator,
                                      dtype=torch.float64) * 2 - 1) * bound)
        return torch.cat(chunks, dim=1)

    def unpack(self, params: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W [runs, A, in, out], b [runs, A, 1, out]) views of every layer."""
        out, start = [], 0
        runs, copies = params.shape[:2]
        for fan_in, fan_out in self.layers:
            w = params[..., start:start + fan_in * fan_out].reshape(runs, copies, fan_in, fan_out)
            start += fan_in * fan_out
            b = params[..., start:start + fan_out].reshape(runs, copies, 1, fan_out)
            start += fan_out
            out.append((w, b))
        return out

    def logits(self, values: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """f_θ(v/v̄) for values [runs, batch, agents], returned as [runs, agents, batch]."""
        p = self.params if params is None else params
        # input 2v/v̄ − 1 ∈ [−1, 1]: centred, so tanh units start in their curved range
        x = (values / self.v_max.to(values)).transpose(1, 2).unsqueeze(-1) * 2.0 - 1.0
        layers = self.unpack(p)
        w, b = layers[0]
        h = x * w + b  # first layer has one input: a broadcast product, no matmul
        for w, b in layers[1:]:
            h = torch.matmul(self.activation(h), w) + b  # batched over [runs, agents]
        return h.squeeze(-1)

    def bids(self, values: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Bids [runs, batch, agents] (a transposed view of agent-major memory)."""
        scale = values.transpose(1, 2) if self.output == "shading" else \
            self.v_max.to(values)[None, :, None]
        return (scale * torch.sigmoid(self.logits(values, params))).transpose(1, 2)


POLICIES = {"linear": LinearPolicy, "affine": AffinePolicy, "mlp": MLPPolicy}


def value_grid(lows, highs, points: int, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Per-agent grids v_{k,i} = low_i + (high_i − low_i)·k/(G−1), shaped [G, agents]."""
    s = torch.linspace(0.0, 1.0, points, dtype=torch.float64)
    low = torch.as_tensor(lows, dtype=torch.float64)
    high = torch.as_tensor(highs, dtype=torch.float64)
    return (low + (high - low) * s[:, None]).to(dtype=dtype, device=device)


def make_policy(spec: dict, seeds: list[int], n_agents: int, w0: torch.Tensor, priors,
                dtype: torch.dtype, device) -> LinearPolicy | AffinePolicy | MLPPolicy:
    """Build the policy of a config ``policy`` mapping, at its initial parameters.

    ``w0`` [runs] is the initial slope; ``priors`` gives each agent's support. MLP keys: ``hidden``
    (default [10, 10]), ``shared`` (False), ``activation`` (selu), ``output`` (shading). The
    pre-training keys ``pretrain`` and ``pretrain_steps`` are applied by the learning layer
    (:func:`diffauction.learning.pretrain.make_policy`), which the trainer calls.
    """
    name = spec.get("name", "linear")
    runs = len(seeds)
    if name == "linear":
        return LinearPolicy(w0[:, None].expand(runs, n_agents))
    if name == "affine":
        return AffinePolicy(w0[:, None].expand(runs, n_agents), float(spec.get("c0", 0.0)))
    if name != "mlp":
        raise ValueError(f"policy.name: unknown policy {name!r}; allowed: {sorted(POLICIES)}")
    return MLPPolicy(seeds, n_agents, spec.get("hidden", [10, 10]), priors.highs,
                     shared=spec.get("shared", False), activation=spec.get("activation", "selu"),
                     output=spec.get("output", "shading"), dtype=dtype, device=device)

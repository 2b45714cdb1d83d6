"""diffauction: differentiable learning in multi-agent auctions.

Layers, each a subpackage importing only the layers below it (checked by import-linter):

game         mechanisms (hard rule + smoothed relaxation), priors, policies, risk attitudes
equilibria   the BNE registry and closed forms; the smoothed game's equilibrium
learning     one batched non-cooperative training loop, gradient estimators, optimizers, PPO
analysis     L2, utility loss, ε-Nash, revenue, reach-and-stay for any bid function
experiments  one module per study: config validation, runs, tidy tables
report       LaTeX macros and tables;  figures: one function per figure

``env`` is the PettingZoo environment on the game layer; ``io`` writes files atomically and
records provenance.
"""

__version__ = "0.1.0"

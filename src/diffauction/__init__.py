"""diffauction: differentiable learning in multi-agent auctions.

Modules
-------
priors       valuation distributions
mechanisms   hard and smoothed allocation/payment rules, batched [runs, batch, agents]
policies     bid functions (linear b = w·v)
equilibria   closed-form Bayes-Nash equilibria
smoothed     the smoothed game's own fixed point (quadrature + root finding)
learners     batched, non-cooperative gradient ascent with schedules
metrics      L2 to BNE, utility loss, ε-Nash by grid best response, strategy movement
config       configuration loading and validation
"""

__version__ = "0.1.0"

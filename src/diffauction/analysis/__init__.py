"""Analysis: scores for any bid function against any opponents in the hard auction — L2 / L∞ to a
reference (:mod:`.distance`), utility loss and grid best-response ε-Nash (:mod:`.metrics`,
:mod:`.bid_functions`), revenue, one reach-and-stay (:mod:`.convergence`), and the fit of the
smoothing bias (:mod:`.scaling`). Knows no learner.
"""

"""Learning: ONE batched, non-cooperative training loop (:mod:`.trainer`) for every learner that
ascends a policy's parameters, with pluggable gradient estimators (:mod:`.estimators`: the
closed-form smoothed gradient, autograd, NPGA, REINFORCE), one optimizer module, samplers,
schedules and recording; Hedge and PPO share the recording. A learner knows no particular
auction: it works through the game layer's interface.
"""

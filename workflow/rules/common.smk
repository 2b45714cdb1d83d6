# Config validation at load time and the small helpers the rules share.
import sys

from diffauction.config import ConfigError, resolve_experiment, validate_config

try:
    _validated = validate_config(config)
except ConfigError as err:
    sys.exit(f"diffauction: {err}")
config.clear()
config.update(_validated)

EXPERIMENTS = sorted(config["experiments"])
if "week4" not in EXPERIMENTS:
    sys.exit(
        "diffauction: invalid configuration:\n  experiments: the report needs an experiment "
        f"named 'week4'; configured: {EXPERIMENTS}"
    )


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),


def resolved(wildcards):
    """The experiment's full settings: a params value, so any change reruns its jobs."""
    return resolve_experiment(config, wildcards.experiment)

# Config validation at load time and the small helpers the rules share.
import sys
from pathlib import Path

from diffauction.experiments.config import ConfigError, count_runs, resolve_experiment, validate_config

try:
    _validated = validate_config(config)
except ConfigError as err:
    sys.exit(f"diffauction: {err}")
config.clear()
config.update(_validated)

EXPERIMENTS = sorted(config["experiments"])
# The report's sections read these experiments by name.
REPORT_EXPERIMENTS = ["week4", "overshading", "tradeoff", "annealing_n2", "annealing_n5"]
_missing = [name for name in REPORT_EXPERIMENTS if name not in EXPERIMENTS]
if _missing:
    sys.exit(
        "diffauction: invalid configuration:\n  experiments: the report needs the experiments "
        f"{REPORT_EXPERIMENTS}; missing: {_missing}"
    )
ANNEALING = ["annealing_n2", "annealing_n5"]

# Every rule that runs package code lists, as its `code` input, the files of every layer its script
# reaches through its imports (workflow/lib/code_inputs.py), so editing a file of a layer reruns
# exactly the jobs whose code can see it and what depends on them (tests/test_rerun.py).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "lib"))
from code_inputs import layer_files, script_layers  # noqa: E402


def code(script):
    """The package files a script of workflow/scripts/ runs (its layers, io.py, __init__.py)."""
    src = Path("src")
    return layer_files(script_layers(Path("workflow/scripts") / script, src), src / "diffauction")


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    block=r"\d+",


def resolved(wildcards):
    """The experiment's settings with the analysis settings: a params value, so any change
    reruns the jobs that use it."""
    return resolve_experiment(config, wildcards.experiment)


def training_settings(wildcards):
    """What determines an experiment's training runs (analysis settings left out, so changing
    them reruns only the analysis)."""
    settings = resolve_experiment(config, wildcards.experiment)
    del settings["analysis"]
    return settings


def training_blocks(experiment):
    """Block indices of an experiment's training jobs (config key runs_per_job)."""
    size = config["runs_per_job"]
    if not size:
        return [0]
    runs = count_runs(resolve_experiment(config, experiment))
    return list(range(-(-runs // size)))

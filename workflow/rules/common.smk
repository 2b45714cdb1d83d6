# Config validation at load time and the small helpers the rules share.
import glob
import sys

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

# The package's layers (pyproject.toml, import-linter): game < equilibria < learning < analysis <
# experiments < report | figures, io under all. Every rule that runs package code lists the layers
# its script reaches through its imports (directly or through the modules it imports) as `code`
# inputs, so editing a file of a layer reruns exactly the jobs whose code can see it and what
# depends on them. tests/test_rerun.py checks the lists against the imports.
PACKAGE = "src/diffauction"
LAYERS = ["game", "equilibria", "learning", "analysis", "experiments", "report", "figures"]
# files outside a layer's folder that belong to it: the environment learning/ppo.py wraps, and the
# config schema experiments/config.py validates against
_LAYER_EXTRAS = {"learning": ["env.py"], "experiments": ["schemas/*.yaml"]}


def code(*layers):
    """The package files of ``layers`` (every ``*.py`` under ``src/diffauction/<layer>/``, plus
    ``env.py`` for learning and ``schemas/*.yaml`` for experiments) and of what all layers share
    (``io.py``, ``__init__.py``), sorted. Globbed when the workflow loads, so modules added to a
    layer are inputs at once. For a rule's ``code=`` input: list the layers its script imports
    and the layers those imports reach."""
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise ValueError(f"code(): unknown layers {unknown}; the layers are {LAYERS}")
    files = {f"{PACKAGE}/io.py", f"{PACKAGE}/__init__.py"}
    for layer in layers:
        files.update(glob.glob(f"{PACKAGE}/{layer}/**/*.py", recursive=True))
        for pattern in _LAYER_EXTRAS.get(layer, []):
            files.update(glob.glob(f"{PACKAGE}/{pattern}"))
    return sorted(files)


# what the scripts reach, by the layers their imports touch (tests/test_rerun.py keeps it true)
BELOW_REPORT = ["game", "equilibria", "learning", "analysis", "experiments"]  # training & co.
SIMULATION = ["game", "equilibria", "learning", "experiments"]  # experiments.mechanisms


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

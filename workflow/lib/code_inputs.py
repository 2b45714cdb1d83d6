"""Which package files a workflow script runs: the `code` inputs of the rules (common.smk).

A script's code is every layer of ``src/diffauction`` that it reaches through its imports —
directly, or through the modules those import — taken as whole folders, plus what every layer
shares (``io.py``, ``__init__.py``). Read from the sources when the workflow loads, so a new
module or a new import changes the inputs at once and editing a file of a layer reruns exactly
the jobs whose scripts can see it (and what depends on them). Only the standard library: the
Snakefile imports this before anything else.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

LAYERS = ("game", "equilibria", "learning", "analysis", "experiments", "report", "figures")
#: top-level modules that belong to a layer: the environment PPO wraps, the schema the config
#: validation reads (the schema is data, so it is listed by file pattern below)
LAYER_OF_MODULE = {"env": "learning", "schemas": "experiments"}
LAYER_EXTRAS = {"learning": ["env.py"], "experiments": ["schemas/*.yaml"]}
SHARED = ("io.py", "__init__.py")


@functools.cache
def _imports(path: Path, package: str) -> tuple[str, ...]:
    """The diffauction modules (and maybe attributes) a file imports, as absolute names.

    Cached: the ~40 scripts share most of their modules; parsing each module once instead of
    once per script that reaches it (871 parses) takes the Snakefile's load from ~7.4 s to ~5.2 s.
    """
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            if module.split(".")[0] == "diffauction":
                names += [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "diffauction"]
    return tuple(names)


def script_layers(script: Path, src: Path) -> set[str]:
    """The layers ``script`` reaches: every package module it imports, directly or through the
    modules it imports (parent packages included), mapped to its layer."""
    seen, todo = set(), [(Path(script), "")]
    while todo:
        path, module = todo.pop()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in _imports(path, package):
            parts = name.split(".")
            for i in range(2, len(parts) + 1):
                base = src.joinpath(*parts[:i])
                found = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
                sub = ".".join(parts[:i])
                if found.exists() and sub not in seen:
                    seen.add(sub)
                    todo.append((found, sub))
    layers = {LAYER_OF_MODULE.get(m.split(".")[1], m.split(".")[1]) for m in seen}
    return layers & set(LAYERS)


def layer_files(layers, package: Path) -> list[str]:
    """Every file of ``layers`` (``*.py`` under ``package/<layer>/`` and the layer's extras) and
    the shared modules, as sorted paths relative to the current directory (none for no layer)."""
    if not layers:
        return []
    files = {package / name for name in SHARED}
    for layer in layers:
        files.update((package / layer).rglob("*.py"))
        for pattern in LAYER_EXTRAS.get(layer, []):
            files.update(package.glob(pattern))
    return sorted(str(path) for path in files)

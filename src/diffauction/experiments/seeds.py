"""Seeds in a configuration: a list, or ``{count, start}``."""

from __future__ import annotations


def seed_values(seeds) -> list[int]:
    """A list of seeds, or ``{count, start}`` (start 0 unless given)."""
    if isinstance(seeds, dict):
        start = seeds.get("start", 0)
        return list(range(start, start + seeds["count"]))
    return list(seeds)

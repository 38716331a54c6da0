"""Targets: one module each (kibana, opensearch) with the same small surface, loaded by name."""

from __future__ import annotations

import importlib
from types import ModuleType

TARGETS = ("kibana", "opensearch")


def target_module(name: str) -> ModuleType:
    """The module for one target; adding a target means adding a module here, touching no other."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    return importlib.import_module(f"deployer.targets.{name}")

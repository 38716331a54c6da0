"""The registry of targets: name -> the target's descriptor (a TargetKind), imported only when first asked for.

Adding a target is one folder under deployer/targets/ whose package defines a TargetKind subclass, and one entry
here (or `register` for a target shipped elsewhere, as the tests do). Nothing outside targets/ names a target:
it asks the registry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deployer.targets.base import TargetKind

# name -> "module:Class"; names only, so listing targets (the CLI's choices, detect.toml's tables) imports nothing.
_REGISTRY: dict[str, str] = {
    "kibana": "deployer.targets.kibana:Kibana",
    "opensearch": "deployer.targets.opensearch:OpenSearch",
}
_loaded: dict[str, TargetKind] = {}


def names() -> tuple[str, ...]:
    """Every registered target's name, in registration order."""
    return tuple(_REGISTRY)


def target_kind(name: str) -> TargetKind:
    """The descriptor of one target; ValueError naming the known ones for any other name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(_REGISTRY)}")
    if name not in _loaded:
        from deployer.targets.base import TargetKind

        module_name, _, class_name = _REGISTRY[name].partition(":")
        descriptor = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(descriptor, type) and issubclass(descriptor, TargetKind)):
            raise ValueError(f"{_REGISTRY[name]} is not a TargetKind (deployer.targets.base)")
        kind = descriptor()
        if kind.name != name:
            raise ValueError(f"{_REGISTRY[name]} declares itself {kind.name!r}, registered as {name!r}")
        _loaded[name] = kind
    return _loaded[name]


def every_target() -> tuple[TargetKind, ...]:
    return tuple(target_kind(name) for name in _REGISTRY)


def for_engine(engine: str) -> TargetKind:
    """The target whose rules run on `engine` ("elasticsearch", "opensearch"): what `detect test` proves there."""
    for kind in every_target():
        if kind.engine == engine:
            return kind
    raise ValueError(f"no target runs on the {engine} engine")


def register(name: str, spec: str) -> None:
    """Add a target ("package.module:Class") beside the built-in ones; the tests register a third target this way.
    Nothing is imported until the target is first asked for."""
    module_name, colon, class_name = spec.partition(":")
    if not (module_name and colon and class_name):
        raise ValueError(f"target {name!r}: {spec!r} is not 'package.module:Class'")
    _REGISTRY[name] = spec
    _loaded.pop(name, None)


def unregister(name: str) -> None:
    """Forget a target (a test's, once it is done with it); an unknown name is no error."""
    _REGISTRY.pop(name, None)
    _loaded.pop(name, None)


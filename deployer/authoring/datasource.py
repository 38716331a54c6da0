"""`detect datasource pull|list|show`: the team's data sources, written from a real cluster and shown.

`pull` reads an environment's cluster's field capabilities for one index pattern and writes only what differs from
ECS or adds to it (the fields whose type ECS gives the same way are left out). A data source is ECS plus what it
declares, so the file says just what is particular to the integration, stays short enough to review (an Elastic
Agent integration's indices map thousands of fields, most of them ECS) and keeps up when detect pins a newer ECS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deployer.errors import DetectError, display_path
from deployer.rules.datasource import DataSource, catalog, datasources_folder, load_data_source

# Mapped but not data: the engines' metadata fields (`_id`, `_index`, ...) and object parents (`process`).
_NOT_FIELDS = frozenset({"object"})
_NAME = "^[A-Za-z0-9][A-Za-z0-9._-]*$"


@dataclass(frozen=True)
class Pulled:
    """What `pull` wrote: `declared` fields of `mapped` the indices map (the rest as ECS has them)."""

    path: Path
    name: str
    pattern: str
    engine: str
    indices: int
    mapped: int
    declared: int
    conflicts: tuple[str, ...]  # fields mapped with several types across the indices, and the type written

    def text(self) -> str:
        lines = [f"wrote {display_path(self.path)}: {self.declared} field(s) that differ from or add to ECS, of "
                 f"{self.mapped} mapped in {self.indices} index(es) matching {self.pattern} ({self.engine})"]
        lines += [f"  note: {conflict}" for conflict in self.conflicts]
        return "\n".join(lines) + "\n"


def pull_data_source(env: str, pattern: str, name: str, *, config_path: Path, engine: str | None = None,
                     force: bool = False) -> Pulled:
    """Write datasources/<name>.json from the field capabilities of `pattern` on the environment's cluster."""
    import re

    from deployer.environments import engine_connections, load_environment
    from deployer.prove.engines import open_engine

    if not re.fullmatch(_NAME, name):
        raise DetectError(f"{name!r} cannot name a data source: letters, digits, '.', '_' and '-' only")
    path = datasources_folder() / f"{name}.json"
    if path.exists() and not force:
        raise DetectError(f"{display_path(path)} exists: rerun with --force to replace it")
    connections = engine_connections(load_environment(env, config_path))
    if not connections:
        raise DetectError(f"environment {env!r} names no cluster to read fields from")
    if engine is not None and engine not in connections:
        raise DetectError(f"environment {env!r} has no {engine} cluster (it has: {', '.join(connections)})")
    engine = engine or next(iter(connections))
    cluster = open_engine(engine, connections[engine])
    try:
        answer = cluster.request("GET", f"/{quote(pattern, safe='*,:')}/_field_caps",
                                 params={"fields": "*", "ignore_unavailable": "true", "allow_no_indices": "true"})
    finally:
        cluster.close()
    indices, types, conflicts = _field_types(answer)
    if not indices:
        raise DetectError(f"no index matches {pattern} on {env}'s {engine} cluster: there are no fields to read")
    declared = _beyond_ecs(types)
    document = {
        "name": name,
        "description": f"Pulled from {env}'s {engine} cluster ({pattern}, {len(indices)} index(es)) on "
                       f"{datetime.now(UTC):%Y-%m-%d}: ECS plus these fields.",
        "index": [pattern], "ecs_version": _ecs_version(),
        "fields": {field: {"type": declared[field]} for field in sorted(declared)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_file_text(document), "utf-8")
    return Pulled(path, name, pattern, engine, len(indices), len(types), len(declared), tuple(conflicts))


def _field_types(answer: Any) -> tuple[list[str], dict[str, str], list[str]]:
    """The indices of a `_field_caps` answer, field -> type, and a note for each field of several types."""
    indices = answer.get("indices") if isinstance(answer, dict) else None
    fields = answer.get("fields") if isinstance(answer, dict) else None
    if not isinstance(indices, list) or not isinstance(fields, dict):
        raise DetectError("_field_caps answered without a list of indices and an object of fields")
    from deployer.rules.ecs import ecs_field_types

    ecs = ecs_field_types()
    types: dict[str, str] = {}
    conflicts = []
    for name, by_type in sorted(fields.items()):
        if name.startswith("_") or not isinstance(by_type, dict):
            continue
        # No `indices` under a type means every index has it; anything but a list there is read the same way.
        kinds = {kind: len(caps["indices"]) if isinstance(caps.get("indices"), list) and caps["indices"] else len(indices)
                 for kind, caps in by_type.items()
                 if isinstance(kind, str) and kind not in _NOT_FIELDS and kind != "unmapped" and isinstance(caps, dict)}
        if not kinds:
            continue
        # Several types: the one most indices have; on a tie ECS's, else the first by name.
        chosen = max(sorted(kinds), key=lambda kind: (kinds[kind], kind == ecs.get(name)))
        types[name] = chosen
        if len(kinds) > 1:
            found = ", ".join(f"{kind} in {kinds[kind]}" for kind in sorted(kinds, key=lambda kind: (-kinds[kind], kind)))
            conflicts.append(f"{name} is mapped as {found} index(es): wrote {chosen}")
    return indices, types, conflicts


def _beyond_ecs(types: dict[str, str]) -> dict[str, str]:
    from deployer.rules.ecs import ecs_field_types

    ecs = ecs_field_types()
    return {name: kind for name, kind in types.items() if ecs.get(name) != kind}


def _ecs_version() -> str:
    from deployer.rules.ecs import ECS_VERSION

    return ECS_VERSION


def _file_text(document: dict[str, Any]) -> str:
    """The file as people write them: one field a line, so a pull again shows in a diff as the fields it changed."""
    head = {key: value for key, value in document.items() if key != "fields"}
    lines = [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in head.items()]
    fields = [f"    {json.dumps(name)}: {json.dumps(spec)}" for name, spec in document["fields"].items()]
    return "{\n" + "\n".join(lines) + '\n  "fields": {' + ("\n" + ",\n".join(fields) + "\n  " if fields else "") + "}\n}\n"


def list_text() -> str:
    """One line per data source of the folder: name, index patterns, declared fields, description."""
    sources = catalog().sources
    if not sources:
        return (f"no data sources in {display_path(datasources_folder())}/: rules are checked against ECS "
                f"{_ecs_version()} alone (detect datasource pull writes one)\n")
    width = max(len(source.name) for source in sources)
    return "".join(f"{source.name:<{width}}  {', '.join(source.index)}  ({len(source.declared)} field(s) declared over "
                   f"ECS {_ecs_version()})  {source.description}".rstrip() + "\n" for source in sources)


def show_document(name: str) -> dict[str, Any]:
    """The named data source as JSON: its file's settings and every field it declares, with its type."""
    source = _named(name)
    return {"name": source.name, "path": display_path(source.path) if source.path else None,
            "description": source.description, "index": list(source.index), "ecs_version": _ecs_version(),
            "fields": {field: ({"type": kind, "origin": source.origins[field]} if field in source.origins else
                               {"type": kind}) for field, kind in source.declared.items()}}


def _named(name: str) -> DataSource:
    source = load_data_source(name)
    if source is None:
        known = ", ".join(catalog().names) or "none"
        raise DetectError(f"no data source {name!r} in {display_path(datasources_folder())}/ (known: {known})")
    return source

"""Data sources: what a log source holds once indexed, kept by the team in its repository (datasources/*.json).

A data source is ECS (the version detect pins, deployer/rules/ecs.py) plus the fields it declares: an integration's
own fields (`winlog.*` for Sysmon) and any ECS field it maps differently. Its index patterns say which rules read it.

The folder is `datasources/` where detect runs, as `detections/` is; `--datasources` (the commands that take
`--rules-dir`) or $DETECT_DATASOURCES name another. Nothing is read from the installed package.

A file: {"name": "windows.sysmon_operational", "description": "...", "index": ["logs-windows.sysmon_operational-*"],
"ecs_version": "9.4.0", "fields": {"winlog.event_id": {"type": "keyword", "origin": "EventID"}, ...}}. `name` is the
file's stem; `ecs_version` says which ECS the fields were compared with (informative); `origin` (optional) names the
raw field a field is made from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from deployer.errors import DetectError, display_path
from deployer.rules.fields import TEXT_TYPES, WHOLE_NUMBER_TYPES, Fields, patterns_overlap

__all__ = ["TEXT_TYPES", "WHOLE_NUMBER_TYPES", "Catalog", "DataSource", "available_data_sources", "catalog",
           "datasources_folder", "load_data_source", "use_datasources"]

DEFAULT_FOLDER = Path("datasources")
FOLDER_VARIABLE = "DETECT_DATASOURCES"
_chosen: list[Path] = []  # the folder a command's --datasources names, once given


@dataclass(frozen=True, eq=False)
class DataSource(Fields):
    name: str = ""
    description: str = ""
    index: tuple[str, ...] = ()
    path: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)  # field -> the raw field it comes from (Sysmon's Image)


def use_datasources(folder: Path | None) -> None:
    """Read data sources from `folder` from now on in this process (None: back to the default)."""
    _chosen[:] = [folder] if folder is not None else []


def datasources_folder() -> Path:
    """The folder data sources are read from: --datasources, else $DETECT_DATASOURCES, else ./datasources."""
    if _chosen:
        return _chosen[0]
    return Path(os.environ.get(FOLDER_VARIABLE) or DEFAULT_FOLDER)


@dataclass(frozen=True, eq=False)
class Catalog:
    """The data sources of one folder, loaded once, and the fields each combination of index patterns holds."""

    folder: Path
    sources: tuple[DataSource, ...]
    digest: str  # sha256 of the files: validity recorded under one catalog is not trusted under another

    def named(self, name: str) -> DataSource | None:
        return next((source for source in self.sources if source.name == name), None)

    @property
    def names(self) -> list[str]:
        return [source.name for source in self.sources]

    def claiming(self, pattern: str) -> list[DataSource]:
        """The data sources whose index patterns overlap `pattern`, in name order."""
        return [source for source in self.sources if any(patterns_overlap(pattern, own) for own in source.index)]

    def fields_of(self, patterns: tuple[str, ...]) -> Fields:
        return _fields_of(self, patterns)


@cache
def _fields_of(catalog: Catalog, patterns: tuple[str, ...]) -> Fields:
    from deployer.rules.ecs import ECS_VERSION, ecs_field_types

    ecs = f"ECS {ECS_VERSION}"
    matched: list[DataSource] = []
    for pattern in patterns:
        if pattern.startswith("-"):
            continue  # an exclusion (`-logs-test-*`) takes indices away
        matched += [source for source in catalog.claiming(pattern) if source not in matched]
    if not matched:
        return Fields(described=ecs, field_types=ecs_field_types(), declared={})
    declared: dict[str, str] = {}
    found_in: dict[str, str] = {}
    for source in matched:  # the first declaration of a field wins: see deployer/rules/fields.py
        for name, field_type in source.declared.items():
            if name not in declared:
                declared[name] = field_type
                found_in[name] = f"data source {source.name}"
    names = ", ".join(source.name for source in matched)
    return Fields(described=f"{ecs} or data source{'s' if len(matched) > 1 else ''} {names}",
                  field_types={**ecs_field_types(), **declared}, declared=declared,
                  found_in=found_in, found_elsewhere=ecs)


def catalog() -> Catalog:
    """The data sources of the current folder (see `datasources_folder`); read again only when its files change."""
    folder = datasources_folder()
    try:
        files = sorted(path for path in folder.iterdir() if path.suffix == ".json" and path.is_file())
        stamps = tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    except FileNotFoundError:
        stamps = ()
    except OSError as error:
        raise DetectError(f"cannot read the data sources in {display_path(folder)}: {error.strerror}") from None
    return _load_catalog(folder.resolve(), stamps)


@cache
def _load_catalog(folder: Path, stamps: tuple[tuple[str, int, int], ...]) -> Catalog:
    digest = hashlib.sha256()
    sources = []
    for name, _, _ in stamps:
        path = folder / name
        raw = path.read_bytes()
        digest.update(name.encode() + b"\0" + raw + b"\0")
        sources.append(_data_source(path, raw))
    return Catalog(folder, tuple(sources), digest.hexdigest())


def _data_source(path: Path, raw: bytes) -> DataSource:
    from deployer.rules.ecs import ecs_field_types

    shown = display_path(path)
    try:
        table = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise DetectError(f"{shown}: not a data source: invalid JSON ({error})") from None
    problem = _shape_problem(table, path.stem)
    if problem:
        raise DetectError(f"{shown}: {problem}")
    fields = table["fields"]
    declared = {name: spec["type"] for name, spec in fields.items()}
    return DataSource(
        described=f"data source {path.stem}", field_types={**ecs_field_types(), **declared}, declared=declared,
        name=path.stem, description=table.get("description", ""), index=tuple(table["index"]), path=path,
        origins={name: spec["origin"] for name, spec in fields.items() if "origin" in spec},
    )


def _shape_problem(table: Any, stem: str) -> str | None:
    if not isinstance(table, dict):
        return "a data source is a JSON object with index and fields"
    if table.get("name", stem) != stem:
        return f"/name: {table['name']!r} is not the file's name ({stem!r}): a data source is named by its file"
    index = table.get("index")
    if not isinstance(index, list) or not index or not all(isinstance(item, str) and item for item in index):
        return "/index: the index patterns the data source is read from, a non-empty list of strings"
    fields = table.get("fields")
    if not isinstance(fields, dict):
        return "/fields: an object of field name -> {\"type\": ...}"
    for name, spec in fields.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or not spec["type"]:
            return f"/fields/{name.replace('~', '~0').replace('/', '~1')}: {{\"type\": \"keyword\"}} or another type"
    return None


def available_data_sources() -> list[str]:
    """The names of the data sources in the current folder, sorted."""
    return catalog().names


def load_data_source(name: str) -> DataSource | None:
    """The named data source, or None when the folder has none of that name."""
    return catalog().named(name)

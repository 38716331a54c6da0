"""Data sources: tables of the fields a log source has once indexed (field -> type), shipped as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Field types whose values an exact comparison (a `terms` exclusion) cannot match as written.
TEXT_TYPES = frozenset({"text", "match_only_text"})
WHOLE_NUMBER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})


@dataclass(frozen=True)
class DataSource:
    name: str
    description: str
    index: tuple[str, ...]
    field_types: dict[str, str]
    origins: dict[str, str]  # ECS field -> the raw (e.g. Sysmon) field it comes from

    def has(self, field: str) -> bool:
        return field in self.field_types

    def exclusion_findings(self, field: str, values: Sequence[Any]) -> list[tuple[int | None, str]]:
        """Why an exclusion on `field` with `values` would never match, as (index into values or None, message)."""
        if not self.has(field):
            return [(None, f"field {field!r} is not in data source {self.name}: this exclusion would never match")]
        field_type = self.field_types[field]
        if field_type in TEXT_TYPES:
            return [(None, f"field {field!r} is a {field_type} field in data source {self.name}: an exclusion compares "
                           "whole values, which a text field does not keep; use a keyword field")]
        if field_type in WHOLE_NUMBER_TYPES:
            return [(number, f"{value!r} is not a whole number, but {field!r} is a {field_type} field")
                    for number, value in enumerate(values)
                    if not ((isinstance(value, int) and not isinstance(value, bool)) or re.fullmatch(r"-?[0-9]+", str(value)))]
        return []

    def index_mapping(self) -> dict[str, Any]:
        """Explicit mappings for a test index: the same field types production has, no dynamic guessing."""
        properties: dict[str, Any] = {}
        for field, field_type in self.field_types.items():
            node = properties
            *parents, leaf = field.split(".") if field != "@timestamp" else ["@timestamp"]
            for parent in parents:
                node = node.setdefault(parent, {"properties": {}})["properties"]
            node[leaf] = {"type": field_type}
        return {"dynamic": "strict", "properties": properties}


def available_data_sources() -> list[str]:
    folder = resources.files("deployer") / "datasources"
    return sorted(item.name.removesuffix(".json") for item in folder.iterdir() if item.name.endswith(".json"))


@cache
def load_data_source(name: str) -> DataSource | None:
    """The named data source, or None when detect ships no table of that name."""
    if name not in available_data_sources():
        return None
    table = json.loads((resources.files("deployer") / "datasources" / f"{name}.json").read_text("utf-8"))
    fields = table["fields"]
    return DataSource(
        name=table["name"],
        description=table["description"],
        index=tuple(table["index"]),
        field_types={field: spec["type"] for field, spec in fields.items()},
        origins={field: spec["sysmon"] for field, spec in fields.items() if "sysmon" in spec},
    )

"""Before a monitor is created or updated: do the indices it will search map what it groups and matches as keyword?

A monitor that groups by a `text` field fails on every run (the search fails on that index's shards), and a
`wildcard`, `regexp`, `prefix` or `term(s)` on a `text` field tests analysed tokens and silently misses events.
Dynamic mapping makes every string `text` (with a `.keyword` sub-field): the default when Logstash or Data Prepper
write to OpenSearch. So the plan reads the field types of the target's indices (`_field_caps`) and refuses such a
monitor, naming the index and the fields, rather than deploying something that cannot work there.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from deployer.dialects.dsl import scan_dsl
from deployer.errors import DetectError
from deployer.rules.model import JSON
from deployer.targets.base import Action, PlanEntry
from deployer.targets.http import comma_batches

# Analysed string types: no doc values to aggregate on, and patterns or exact terms test their tokens.
TEXT_TYPES = frozenset({"text", "match_only_text"})
_GROUPS = "groups by"
_CLAUSE_USES = {"wildcard": "pattern-matches", "regexp": "pattern-matches", "prefix": "pattern-matches",
                "term": "matches exactly", "terms": "matches exactly"}
_USE_ORDER = (_GROUPS, "pattern-matches", "matches exactly")
# Engines refuse request lines over 4 KiB; leave room for the method, the parameters and HTTP/1.1.
_LINE_LIMIT = 3000
# A data stream's backing index: .ds-<data stream>-000001
_BACKING_INDEX = re.compile(r"^\.ds-(?P<stream>.+)-\d{6}$")

Fetch = Callable[[str, dict[str, str]], Any]  # (path, query parameters) -> the decoded JSON answer


@dataclass(frozen=True)
class FieldType:
    type: str
    aggregatable: bool


@dataclass(frozen=True)
class Mismatch:
    """One field one index maps in a way the monitor cannot use."""

    index: str
    field: str
    type: str
    uses: tuple[str, ...]


def field_uses(monitor: JSON) -> dict[str, tuple[str, ...]]:
    """Field -> how the monitor uses it with keyword semantics: its group fields and the fields of its exact and
    pattern clauses (match, exists and range work on any type and are left out)."""
    search = monitor["inputs"][0]["search"]["query"]
    uses: dict[str, set[str]] = {}
    for aggregation in search.get("aggregations", {}).values():
        for source in aggregation.get("composite", {}).get("sources", []):
            for spec in source.values():
                if "field" in spec.get("terms", {}):
                    uses.setdefault(spec["terms"]["field"], set()).add(_GROUPS)
    for use in scan_dsl(search.get("query", {})).uses:
        if use.kind in _CLAUSE_USES:
            uses.setdefault(use.field, set()).add(_CLAUSE_USES[use.kind])
    return {name: tuple(kind for kind in _USE_ORDER if kind in kinds) for name, kinds in uses.items()}


def field_caps_requests(patterns: Iterable[str], fields: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """The `_field_caps` requests for all patterns and fields: one, unless the request line would be too long."""
    parameters = {"include_unmapped": "true", "ignore_unavailable": "true", "allow_no_indices": "true"}
    requests = []
    for pattern_batch in comma_batches([quote(p, safe="*:") for p in sorted(set(patterns))], limit=_LINE_LIMIT // 2):
        path = f"/{pattern_batch}/_field_caps"
        for field_batch in comma_batches([quote(name, safe="") for name in sorted(set(fields))], limit=_LINE_LIMIT - len(path)):
            requests.append((path, {**parameters, "fields": field_batch}))
    return requests


def read_field_caps(answer: Any) -> tuple[list[str], dict[tuple[str, str], FieldType]]:
    """The concrete indices of an answer and (index, field) -> type; raises DetectError on a malformed answer."""
    indices = answer.get("indices") if isinstance(answer, dict) else None
    fields = answer.get("fields") if isinstance(answer, dict) else None
    if not isinstance(indices, list) or not isinstance(fields, dict) or not all(isinstance(i, str) for i in indices):
        raise DetectError("_field_caps answered without a list of indices and an object of fields")
    types: dict[tuple[str, str], FieldType] = {}
    for name, by_type in fields.items():
        if not isinstance(by_type, dict):
            raise DetectError(f"_field_caps answered field {name} without its types")
        for type_name, caps in by_type.items():
            if not isinstance(caps, dict):
                raise DetectError(f"_field_caps answered field {name} type {type_name} without its capabilities")
            # Without "indices", every index of the answer maps the field this way.
            where = caps.get("indices") or indices
            if not isinstance(where, list):
                raise DetectError(f"_field_caps answered field {name} type {type_name} without a list of indices")
            not_aggregatable = set(caps.get("non_aggregatable_indices") or ())
            for index in where:
                aggregatable = bool(caps.get("aggregatable")) and index not in not_aggregatable
                types[(str(index), name)] = FieldType(str(type_name), aggregatable)
    return indices, types


def _names(index: str) -> tuple[str, ...]:
    backing = _BACKING_INDEX.match(index)
    return (index, backing["stream"]) if backing else (index,)


def _matches(index: str, patterns: tuple[str, ...]) -> bool:
    """Whether an index expression of patterns (with `-exclusions`) names this index, or its data stream."""
    included = False
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(name, pattern.removeprefix("-")) for name in _names(index)):
            included = not pattern.startswith("-")
    return included


def _named(index: str, patterns: Iterable[str]) -> bool:
    """Whether any pattern, included or excluded, spells this index (else it came through an alias)."""
    return any(fnmatch.fnmatchcase(name, pattern.removeprefix("-")) for pattern in patterns for name in _names(index))


def suspects(types: dict[tuple[str, str], FieldType]) -> dict[str, list[tuple[str, FieldType]]]:
    """Field -> the indices where it is mapped but not as keyword, or not aggregatable: few, however many indices."""
    found: dict[str, list[tuple[str, FieldType]]] = {}
    for (index, name), mapped in types.items():
        # An unmapped field is fine: nothing matches there, nothing fails.
        if mapped.type != "unmapped" and (mapped.type in TEXT_TYPES or not mapped.aggregatable):
            found.setdefault(name, []).append((index, mapped))
    return found


def mismatches(uses: dict[str, tuple[str, ...]], indices: set[str],
               suspected: dict[str, list[tuple[str, FieldType]]]) -> list[Mismatch]:
    found = []
    for name, how in uses.items():
        for index, mapped in suspected.get(name, ()):
            if index in indices and (mapped.type in TEXT_TYPES or _GROUPS in how):
                found.append(Mismatch(index, name, mapped.type, how))
    return sorted(found, key=lambda item: (item.index, item.field))


def _mapped_as(item: Mismatch) -> str:
    return f"{item.type}, not keyword" if item.type in TEXT_TYPES else f"{item.type} that cannot be aggregated"


def reason(found: list[Mismatch]) -> str:
    """One line: the first index and every field it maps wrongly, what the monitor does with them, the fix."""
    first = found[0].index
    here = [item for item in found if item.index == first]
    others = sorted({item.index for item in found} - {first})
    by_kind: dict[str, list[str]] = {}
    for item in here:
        by_kind.setdefault(_mapped_as(item), []).append(item.field)
    subject = " and ".join(f"{_listed(names)} as {kind}" for kind, names in by_kind.items())
    if len(here) == 1:
        pronoun, uses = "it", " and ".join(f"{use} it" for use in here[0].uses)
    else:
        pronoun, uses = "them", "groups by or matches them"
    grouped = any(_GROUPS in item.uses for item in here)
    effect = "so every run of the monitor fails there" if grouped else "so it tests analysed tokens there and misses events"
    fix = "as keyword" if all(item.type in TEXT_TYPES for item in here) else "as keyword with doc values"
    line = f"{first} maps {subject}; the monitor {uses}, {effect} (map {pronoun} {fix}, e.g. with an index template)"
    if others:
        line += f"; {len(others)} more index(es) too: {', '.join(others[:2])}{', …' if len(others) > 2 else ''}"
    return line


def _listed(names: list[str], shown: int = 4) -> str:
    if len(names) <= shown:
        return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more field(s)"


def refuse_unrunnable(entries: list[PlanEntry], fetch: Fetch) -> list[PlanEntry]:
    """The entries, with each create/update whose monitor cannot run on the indices it searches refused."""
    checked = {position: entry for position, entry in enumerate(entries)
               if entry.action in (Action.create, Action.update, Action.adopt) and entry.desired is not None}
    if not checked:
        return entries
    uses = {position: field_uses(entry.desired.payload) for position, entry in checked.items() if entry.desired}
    patterns = {position: tuple(entry.desired.payload["inputs"][0]["search"]["indices"])
                for position, entry in checked.items() if entry.desired}
    wanted = {name for fields in uses.values() for name in fields}
    if not wanted:
        return entries
    indices: set[str] = set()
    types: dict[tuple[str, str], FieldType] = {}
    for path, parameters in field_caps_requests({p for group in patterns.values() for p in group}, wanted):
        answer_indices, answer_types = read_field_caps(fetch(path, parameters))
        indices.update(answer_indices)
        types.update(answer_types)
    # An index no pattern names by itself came through an alias (or a name form not known here): it counts for each
    # entry with a pattern that names no index by itself, as an alias does.
    every_pattern = {pattern for group in patterns.values() for pattern in group}
    unnamed = {index for index in indices if not _named(index, every_pattern)}
    names_none = {pattern for pattern in every_pattern
                  if not pattern.startswith("-") and not any(_named(index, (pattern,)) for index in indices)}
    searched: dict[tuple[str, ...], set[str]] = {}  # rules of one data source share their patterns: match them once
    for group in set(patterns.values()):
        through_alias = any(pattern in names_none for pattern in group)
        searched[group] = {index for index in indices if (through_alias and index in unnamed) or _matches(index, group)}
    suspected = suspects(types)
    result = list(entries)
    for position, entry in checked.items():
        found = mismatches(uses[position], searched[patterns[position]], suspected)
        if found:
            result[position] = dataclasses.replace(entry, action=Action.refuse, reason=reason(found))
    return result

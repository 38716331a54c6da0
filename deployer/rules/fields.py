"""The fields a rule may name, with their types: ECS, and what the team's data sources add to it.

A rule that names its `data_source` is checked against that data source (ECS plus the fields it declares). A rule
that names none is checked against what its index patterns hold: for each pattern, the data sources whose patterns
overlap it (ECS alone where none does); a field is known when any of them has it. Its type comes from where it is
found: a data source's declaration before ECS and, between data sources that disagree, the first in the order of the
rule's index patterns (data sources of one pattern in name order). The engines would see such a field as a type
conflict; detect checks the rule against the type its first pattern gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deployer.rules.model import Rule

# Field types whose values an exact comparison (a `terms` exclusion) cannot match as written.
TEXT_TYPES = frozenset({"text", "match_only_text"})
WHOLE_NUMBER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
# ECS object fields whose keys are the user's own (labels.*): the test index maps them dynamically.
_OPEN_OBJECT_TYPES = frozenset({"object", "nested", "flattened"})
# Types a test index maps as another of their family: queries find the same events in both, and an engine without
# X-Pack's mappers (the local Elasticsearch `detect test` starts has neither wildcard nor match_only_text) cannot
# create the index else.
# ECS maps process.command_line as wildcard.
_TEST_INDEX_TYPES = {"wildcard": "keyword", "constant_keyword": "keyword", "match_only_text": "text"}


@dataclass(frozen=True, eq=False)
class Fields:
    """Field -> type of everything a rule may name, and how messages say where each field comes from."""

    described: str  # where the fields come from, as messages say it: `data source windows.sysmon_operational`
    field_types: Mapping[str, str]
    declared: Mapping[str, str]  # the fields data sources declare (ECS gives the rest), mapped as written in a test index
    found_in: Mapping[str, str] = field(default_factory=dict)  # field -> where its type comes from, when not...
    found_elsewhere: str = ""  # ... this (a rule's index patterns: ECS), or `described` when empty

    def has(self, name: str) -> bool:
        return name in self.field_types

    def where(self, name: str) -> str:
        """Where the type of `name` comes from, as messages say it."""
        return self.found_in.get(name, self.found_elsewhere or self.described)

    @cached_property
    def objects(self) -> frozenset[str]:
        """Every name that has known fields below it (`process` for `process.pid`)."""
        parents: set[str] = set()
        for name in self.field_types:
            parts = name.split(".")
            parents.update(".".join(parts[:end]) for end in range(1, len(parts)))
        return frozenset(parents)

    def exclusion_findings(self, name: str, values: Sequence[Any]) -> list[tuple[int | None, str]]:
        """Why an exclusion on `name` with `values` would never match, as (index into values or None, message)."""
        if not self.has(name):
            return [(None, f"field {name!r} is not in {self.described}: this exclusion would never match")]
        field_type = self.field_types[name]
        if field_type in TEXT_TYPES:
            return [(None, f"field {name!r} is a {field_type} field in {self.where(name)}: an exclusion compares "
                           "whole values, which a text field does not keep; use a keyword field")]
        if field_type in WHOLE_NUMBER_TYPES:
            return [(number, f"{value!r} is not a whole number, but {name!r} is a {field_type} field")
                    for number, value in enumerate(values)
                    if not ((isinstance(value, int) and not isinstance(value, bool)) or re.fullmatch(r"-?[0-9]+", str(value)))]
        return []

    def index_mapping(self, used: Iterable[str] = ()) -> dict[str, Any]:
        """Explicit mappings for a test index: the same field types production has, no dynamic guessing.

        The declared fields are mapped as declared; of ECS, only the fields in `used` (a test index cannot map all
        of ECS: the engines refuse more than 1,000 fields), each with its ECS multi-fields."""
        from deployer.rules.ecs import ecs_fields

        ecs = ecs_fields()
        leaves: dict[str, dict[str, Any]] = {name: {"type": _TEST_INDEX_TYPES.get(field_type, field_type)}
                                             for name, field_type in self.declared.items()}
        for name in used:
            if name in leaves or name not in self.field_types:
                continue
            parent = name.rsplit(".", 1)[0]
            if name not in ecs and parent in ecs and any(multi.name == name for multi in ecs[parent].multi_fields):
                name = parent  # process.command_line.text is a multi-field of process.command_line
            if name in leaves:
                continue
            spec = ecs.get(name)
            field_type = _TEST_INDEX_TYPES.get(self.field_types[name], self.field_types[name])
            leaves[name] = {"type": field_type} if spec is None or name in self.declared else _ecs_mapping(spec)
        return {"dynamic": "strict", "properties": _nest(leaves)}


def _ecs_mapping(spec: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = {"type": _TEST_INDEX_TYPES.get(spec.type, spec.type)}
    if spec.type in _OPEN_OBJECT_TYPES:
        return {"type": spec.type, "dynamic": True} if spec.type != "flattened" else mapping
    if spec.ignore_above is not None and mapping["type"] == "keyword":
        mapping["ignore_above"] = spec.ignore_above
    if spec.scaling_factor is not None:
        mapping["scaling_factor"] = spec.scaling_factor
    if spec.multi_fields:
        mapping["fields"] = {multi.name.rsplit(".", 1)[1]: {"type": _TEST_INDEX_TYPES.get(multi.type, multi.type)}
                             for multi in spec.multi_fields}
    return mapping


def _nest(leaves: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Dotted names as nested properties, in the order given. A field that is also the parent of another (`a.b`
    keyword beside `a.b.text`, as `_field_caps` lists a multi-field) carries the other as one of its multi-fields."""
    properties: dict[str, Any] = {}
    for name, leaf in leaves.items():
        parts = name.split(".")
        node = properties
        for depth, parent in enumerate(parts[:-1]):
            holder = node.setdefault(parent, {"properties": {}})
            if "properties" not in holder:  # a leaf already: the rest of the name is a multi-field of it
                holder.setdefault("fields", {})[".".join(parts[depth + 1:])] = dict(leaf)
                break
            node = holder["properties"]
        else:
            below = node.get(parts[-1], {}).get("properties")
            node[parts[-1]] = dict(leaf)
            if below:  # its multi-fields came first
                node[parts[-1]]["fields"] = dict(_flat(below))
    return properties


def _flat(properties: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, dict[str, Any]]]:
    for key, value in properties.items():
        if "properties" in value:
            yield from _flat(value["properties"], f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def rule_fields(rule: Rule) -> Fields | None:
    """What `rule` may name: its data source's fields, or what its index patterns hold. None: it names a data source
    the team's datasources/ folder does not have (validation says so)."""
    from deployer.rules.datasource import load_data_source

    if rule.data_source is not None:
        return load_data_source(rule.data_source)
    return index_fields(rule.index)


def index_fields(patterns: Sequence[str]) -> Fields:
    """The fields the indices of `patterns` hold: ECS, and what each data source whose patterns overlap them adds."""
    from deployer.rules.datasource import catalog

    return catalog().fields_of(tuple(patterns))


def patterns_overlap(first: str, second: str) -> bool:
    """Whether some index name matches both index patterns (`*` matches any run of characters).

    A cross-cluster prefix (`remote:logs-*`) is ignored: the data source describes the indices wherever they are."""
    left, right = first.rpartition(":")[2], second.rpartition(":")[2]
    seen: set[tuple[int, int]] = set()
    pending = [(0, 0)]
    while pending:
        at_left, at_right = pending.pop()
        if (at_left, at_right) in seen:
            continue
        seen.add((at_left, at_right))
        if at_left == len(left) and at_right == len(right):
            return True
        if at_left < len(left) and left[at_left] == "*":
            pending.append((at_left + 1, at_right))
            if at_right < len(right):
                pending.append((at_left, at_right + 1))
        elif at_right < len(right) and right[at_right] == "*":
            pending.append((at_left, at_right + 1))
            if at_left < len(left):
                pending.append((at_left + 1, at_right))
        elif at_left < len(left) and at_right < len(right) and left[at_left] == right[at_right]:
            pending.append((at_left + 1, at_right + 1))
    return False


def named_fields(rule: Rule, documents: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """The fields `rule` names (query, grouping, exclusions) and those `documents` (fixture events) hold, in order:
    what a test index for the rule must map."""
    from deployer.dialects.dsl import scan_dsl
    from deployer.dialects.eql import parse_eql

    uses = parse_eql(rule.eql).uses if rule.language == "eql" else scan_dsl(rule.dsl).uses
    names = [use.field for use in uses]
    if rule.language == "eql":
        names.append(rule.event_category_override or "event.category")  # `process where ...` reads it
    names += [*rule.group_by, *(exclusion.field for exclusion in rule.exclusions)]
    # The fields the engines sort or range on for the rule: mapped with their types too.
    names += [name for name in (rule.timestamp_override, rule.tiebreaker_field, rule.timestamp_field) if name]
    for document in documents:
        names += _leaves(document, "")
    return list(dict.fromkeys(names))


def _leaves(node: Mapping[str, Any], prefix: str) -> Iterable[str]:
    for key, value in node.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping):
                yield from _leaves(item, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

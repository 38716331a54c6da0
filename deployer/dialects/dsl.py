"""The query DSL clauses detect accepts in rules, checked for structure, with the fields they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deployer.errors import pointer_of

_BOOL_OCCURRENCES = ("filter", "must", "should", "must_not")
_LEAF_PARAMETERS = {
    "term": {"value", "case_insensitive", "boost"},
    "match": {"query", "operator", "boost"},
    "match_phrase": {"query", "boost"},
    "wildcard": {"value", "wildcard", "case_insensitive", "boost", "rewrite"},
    "regexp": {"value", "flags", "case_insensitive", "max_determinized_states", "boost", "rewrite"},
    "prefix": {"value", "case_insensitive", "boost", "rewrite"},
    "range": {"gt", "gte", "lt", "lte", "format", "time_zone", "boost"},
}
SUPPORTED_CLAUSES = ("bool", "terms", "exists", *_LEAF_PARAMETERS)


@dataclass(frozen=True)
class FieldUse:
    """One field tested by a query: the clause kind, the value or pattern, and where it stands."""

    pointer: str
    field: str
    kind: str
    value: Any = None
    case_insensitive: bool = False


@dataclass
class DslScan:
    uses: list[FieldUse] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (pointer, message)


def scan_dsl(clause: Any, path: tuple[str | int, ...] = ("query",)) -> DslScan:
    """Walk a query DSL clause; report structural problems and every field use, with JSON pointers."""
    scan = DslScan()
    _scan_clause(clause, path, scan)
    return scan


def _scan_clause(clause: Any, path: tuple[str | int, ...], scan: DslScan) -> None:
    here = pointer_of(path)
    if not isinstance(clause, dict) or len(clause) != 1:
        scan.problems.append((here, "a query clause is an object with exactly one key, such as {\"term\": {...}}"))
        return
    (kind, body), = clause.items()
    path = (*path, kind)
    if kind == "bool":
        _scan_bool(body, path, scan)
    elif kind == "terms":
        _scan_terms(body, path, scan)
    elif kind == "exists":
        if not isinstance(body, dict) or set(body) != {"field"} or not isinstance(body["field"], str):
            scan.problems.append((pointer_of(path), "exists takes {\"field\": \"name\"}"))
        else:
            scan.uses.append(FieldUse(pointer_of((*path, "field")), body["field"], "exists"))
    elif kind in _LEAF_PARAMETERS:
        _scan_leaf(kind, body, path, scan)
    else:
        scan.problems.append((pointer_of(path), f"unsupported clause {kind!r}; detect supports {', '.join(SUPPORTED_CLAUSES)}"))


def _scan_bool(body: Any, path: tuple[str | int, ...], scan: DslScan) -> None:
    if not isinstance(body, dict) or not body:
        scan.problems.append((pointer_of(path), "bool takes an object with filter, must, should or must_not"))
        return
    for key, value in body.items():
        where = (*path, key)
        if key in _BOOL_OCCURRENCES:
            clauses = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not value:
                scan.problems.append((pointer_of(where), f"empty {key} list"))
            for index, child in enumerate(clauses):
                _scan_clause(child, (*where, index) if isinstance(value, list) else where, scan)
        elif key == "minimum_should_match":
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                scan.problems.append((pointer_of(where), "minimum_should_match is a number or a percentage"))
        elif key != "boost":
            scan.problems.append((pointer_of(where), f"unknown bool parameter {key!r}"))


def _scan_terms(body: Any, path: tuple[str | int, ...], scan: DslScan) -> None:
    fields = [key for key in body if key != "boost"] if isinstance(body, dict) else []
    if len(fields) != 1 or not isinstance(body[fields[0]], list) or not body[fields[0]]:
        scan.problems.append((pointer_of(path), "terms takes one field with a non-empty list of values "
                              "(it has no case_insensitive option: use term or wildcard for that)"))
        return
    name = fields[0]
    for index, value in enumerate(body[name]):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            scan.problems.append((pointer_of((*path, name, index)), "terms values are strings or numbers"))
    scan.uses.append(FieldUse(pointer_of((*path, name)), name, "terms", tuple(body[name])))


def _scan_leaf(kind: str, body: Any, path: tuple[str | int, ...], scan: DslScan) -> None:
    if not isinstance(body, dict) or len(body) != 1:
        scan.problems.append((pointer_of(path), f"{kind} takes exactly one field"))
        return
    (name, spec), = body.items()
    where = (*path, name)
    if kind == "range":
        if not isinstance(spec, dict) or not spec:
            scan.problems.append((pointer_of(where), "range takes an object such as {\"gte\": ...}"))
            return
    elif not isinstance(spec, dict):
        spec = {"query" if kind.startswith("match") else "value": spec}  # the short form {"field": value}
    unknown = sorted(set(spec) - _LEAF_PARAMETERS[kind])
    if unknown:
        scan.problems.append((pointer_of((*where, unknown[0])), f"unknown {kind} parameter {unknown[0]!r}"))
        return
    value_key = "query" if kind.startswith("match") else ("wildcard" if "wildcard" in spec else "value")
    if kind != "range":
        if value_key not in spec:
            scan.problems.append((pointer_of(where), f"{kind} needs a {value_key!r}"))
            return
        where_value = (*where, value_key) if isinstance(body[name], dict) else where
        if kind in ("wildcard", "regexp", "prefix") and not isinstance(spec[value_key], str):
            scan.problems.append((pointer_of(where_value), f"a {kind} pattern is a string"))
            return
        if not isinstance(spec[value_key], (str, int, float, bool)):  # the engines refuse null, lists and objects
            scan.problems.append((pointer_of(where_value), f"a {kind} value is a string, number or boolean"))
            return
        if kind == "regexp" and spec.get("flags", "ALL") != "ALL":
            scan.problems.append((pointer_of((*where, "flags")), "detect checks regexps with Lucene's default flags ALL; drop 'flags'"))
        insensitive = spec.get("case_insensitive", False)
        if not isinstance(insensitive, bool):
            scan.problems.append((pointer_of((*where, "case_insensitive")), "case_insensitive is true or false"))
        scan.uses.append(FieldUse(pointer_of(where_value), name, kind, spec[value_key], bool(insensitive)))
    else:
        for bound in ("gt", "gte", "lt", "lte"):
            if spec.get(bound) is not None and (not isinstance(spec[bound], (str, int, float)) or isinstance(spec[bound], bool)):
                scan.problems.append((pointer_of((*where, bound)), "a range bound is a string, a number or null"))
                return
        scan.uses.append(FieldUse(pointer_of(where), name, kind, dict(spec)))

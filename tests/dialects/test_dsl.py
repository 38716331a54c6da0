from __future__ import annotations

from typing import Any

import pytest

from deployer.dialects.dsl import FieldUse, scan_dsl


def test_field_uses_carry_pointers_and_patterns() -> None:
    scan = scan_dsl({"bool": {"filter": [
        {"term": {"event.code": "17"}},
        {"wildcard": {"process.executable": {"value": "*\\\\calc.exe", "case_insensitive": True}}},
    ]}})
    assert scan.problems == []
    assert scan.uses == [
        FieldUse("/query/bool/filter/0/term/event.code", "event.code", "term", "17"),
        FieldUse("/query/bool/filter/1/wildcard/process.executable/value", "process.executable", "wildcard",
                 "*\\\\calc.exe", True),
    ]


@pytest.mark.parametrize(("clause", "pointer", "fragment"), [
    ({}, "/query", "exactly one key"),
    ({"term": {"a": "x"}, "terms": {"b": ["y"]}}, "/query", "exactly one key"),
    ({"bool": {"filter": []}}, "/query/bool/filter", "empty filter list"),
    ({"bool": {"filtr": []}}, "/query/bool/filtr", "unknown bool parameter 'filtr'"),
    ({"regexp": {"a": {"value": ".*", "flags": "NONE"}}}, "/query/regexp/a/flags", "default flags ALL"),
    ({"wildcard": {"a": {"value": 3}}}, "/query/wildcard/a/value", "a wildcard pattern is a string"),
    ({"term": {"a": {"valeu": "x"}}}, "/query/term/a/valeu", "unknown term parameter 'valeu'"),
    ({"range": {"a": "x"}}, "/query/range/a", "range takes an object"),
    ({"exists": {"name": "a"}}, "/query/exists", "exists takes"),
    ({"terms": {"a": []}}, "/query/terms", "non-empty list"),
    ({"match_all": {}}, "/query/match_all", "unsupported clause 'match_all'"),
])
def test_structural_problems(clause: Any, pointer: str, fragment: str) -> None:
    problems = scan_dsl(clause).problems
    assert len(problems) == 1
    assert problems[0][0] == pointer and fragment in problems[0][1]

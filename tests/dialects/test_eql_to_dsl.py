"""EQL to query DSL: Elasticsearch's EQL case rules and null logic kept; untranslatable queries refused."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.dialects.eql_to_dsl import translate_eql
from deployer.errors import UnsupportedByTarget


def _condition(text: str) -> Any:
    return translate_eql(f"any where {text}")["bool"]["filter"][0]


@pytest.mark.parametrize(("text", "expected"), [
    ('a == "X"', {"term": {"a": {"value": "X"}}}),
    ('a : "X"', {"term": {"a": {"value": "X", "case_insensitive": True}}}),
    ('a : "*\\\\x.exe"', {"wildcard": {"a": {"value": "*\\\\x.exe", "case_insensitive": True}}}),
    ('a like "x*"', {"wildcard": {"a": {"value": "x*", "case_insensitive": False}}}),
    ('a like~ "x*"', {"wildcard": {"a": {"value": "x*", "case_insensitive": True}}}),
    ('a regex "x.*"', {"regexp": {"a": {"value": "x.*", "case_insensitive": False}}}),
    ('a regex~ "x.*"', {"regexp": {"a": {"value": "x.*", "case_insensitive": True}}}),
    ('a in ("x", "y")', {"terms": {"a": ["x", "y"]}}),
    ('a in~ ("x")', {"bool": {"should": [{"term": {"a": {"value": "x", "case_insensitive": True}}}],
                              "minimum_should_match": 1}}),
    ("a >= 3", {"range": {"a": {"gte": 3}}}),
    ("a == null", {"bool": {"must_not": [{"exists": {"field": "a"}}]}}),
    ("a != null", {"exists": {"field": "a"}}),
    ('a != "x"', {"bool": {"filter": [{"exists": {"field": "a"}}], "must_not": [{"term": {"a": {"value": "x"}}}]}}),
    ('not a : "x"', {"bool": {"filter": [{"exists": {"field": "a"}}],
                              "must_not": [{"term": {"a": {"value": "x", "case_insensitive": True}}}]}}),
    ('a == 1 or b == 2', {"bool": {"should": [{"term": {"a": {"value": 1}}}, {"term": {"b": {"value": 2}}}],
                                   "minimum_should_match": 1}}),
])
def test_translation_keeps_elasticsearch_semantics(text: str, expected: Any) -> None:
    assert _condition(text) == expected


def test_event_category_becomes_a_term() -> None:
    assert translate_eql('file where a == "x"')["bool"]["filter"][0] == {"term": {"event.category": "file"}}


@pytest.mark.parametrize(("text", "reason"), [
    ("sequence [any where a == 1] [any where b == 2]", "sequence queries correlate several events"),
    ("any where a == 1 | head 1", "pipes"),
    ("any where length(a) > 3", "the left side of a comparison must be a field"),
    ("any where not (a == 1 or b == 2)", "`not` over several fields"),
    ("any where a == b", "the right side of a comparison must be a literal value"),
])
def test_untranslatable_queries_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(UnsupportedByTarget, match=reason.replace("(", r"\(").replace("|", r"\|")):
        translate_eql(text)


def test_a_category_override_is_the_field_the_category_tests() -> None:
    """Elasticsearch's EQL reads `process where` on the rule's event_category_override (Kibana passes it as
    event_category_field); the translation tests the same field."""
    assert translate_eql('process where process.name == "x"', "endgame.event_type")["bool"]["filter"][0] == \
        {"term": {"endgame.event_type": "process"}}
    assert translate_eql('process where process.name == "x"')["bool"]["filter"][0] == {"term": {"event.category": "process"}}
    assert "endgame.event_type" not in str(translate_eql('any where process.name == "x"', "endgame.event_type"))


def test_the_opensearch_monitor_of_a_rule_with_a_category_override_tests_that_field() -> None:
    import dataclasses
    import json

    from deployer.rules.ruleset import validate_paths
    from deployer.targets import target_kind
    from tests.conftest import EQL_RULE

    (rule,) = validate_paths([EQL_RULE]).rules
    overridden = dataclasses.replace(rule, event_category_override="endgame.event_type")
    assert '"endgame.event_type"' in json.dumps(target_kind("opensearch").compile_rule(overridden))
    assert '"endgame.event_type"' not in json.dumps(target_kind("opensearch").compile_rule(rule))

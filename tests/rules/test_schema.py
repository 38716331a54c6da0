"""The schema check's two validators agree: jsonschema-rs says whether a rule is valid, jsonschema says why."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.rules.schema import _fast_validator, _validator, schema_problems
from tests.conftest import DSL_RULE, EQL_RULE

DOCUMENTS = [json.loads(path.read_text("utf-8")) for path in (DSL_RULE, EQL_RULE)]
FIELDS = sorted({key for document in DOCUMENTS for key in document}
                | {"alert_suppression", "max_signals", "unknown", "meta", "tiebreaker_field", "investigation_fields",
                   "severity_mapping", "throttle", "exceptions_list", "timestamp_override_fallback_disabled"})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["1h", "now-70m", "now", "high", "eql", "dsl", "https://attack.mitre.org/", "T1071",
                                             "windows.sysmon_operational", "not a uri"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["field", "values", "reason", "group_by",
                                                                                     "id", "name", "reference", "x", "detect",
                                                                                     "field_names", "duration"]), children, max_size=3),
    max_leaves=8)


def _mutate(document: dict[str, Any], changes: list[tuple[str, Any, bool]]) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    for field, value, remove in changes:
        if remove:
            mutated.pop(field, None)
        else:
            mutated[field] = value
    return mutated


@settings(max_examples=400, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from([0, 1]), changes=st.lists(st.tuples(st.sampled_from(FIELDS), json_values, st.booleans()), max_size=3))
def test_fast_and_explaining_validators_agree(which: int, changes: list[tuple[str, Any, bool]]) -> None:
    document = _mutate(DOCUMENTS[which], changes)
    explained = list(_validator().iter_errors(document))
    assert _fast_validator().is_valid(document) == (explained == [])


def test_a_bad_threat_reference_is_refused_by_both() -> None:
    document = copy.deepcopy(DOCUMENTS[0])
    document["threat"][0]["tactic"]["reference"] = "not a uri"
    assert not _fast_validator().is_valid(document)
    assert [problem.pointer for problem in schema_problems("rule.json", document)] == ["/threat/0/tactic/reference"]


def test_a_rule_may_leave_kibanas_defaults_out() -> None:
    document = copy.deepcopy(DOCUMENTS[1])
    for key in ("interval", "from", "to", "enabled"):
        del document[key]
    assert schema_problems("rule.json", document) == []


def test_fields_of_eql_rules_only_and_detects_meta_key_are_refused_with_a_reason() -> None:
    document = {**copy.deepcopy(DOCUMENTS[0]), "tiebreaker_field": "event.sequence", "meta": {"detect": {}, "owner": "soc"}}
    assert DOCUMENTS[0]["language"] == "dsl"
    assert [(problem.pointer, problem.message) for problem in schema_problems("rule.json", document)] == [
        ("/meta", "meta.detect is detect's own marker: name your key otherwise"),
        ("/tiebreaker_field", "only EQL rules have tiebreaker_field")]
    assert not _fast_validator().is_valid(document)

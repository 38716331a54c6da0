"""Kibana payloads: golden files, and every payload validated against Kibana's official OpenAPI description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deployer.rules.model import Rule
from deployer.targets import kibana
from tests.conftest import DSL_RULE, EQL_RULE, mutated
from tests.targets.golden import assert_golden
from tests.targets.kibana.whole_rule import EQL_ONLY_FIELDS, KIBANA_FIELDS, SUPPRESSION, with_every_field


def _rule(path: Path, document: dict[str, Any]) -> Rule:
    return Rule.from_document(path, document)


@pytest.mark.parametrize("path", [DSL_RULE, EQL_RULE], ids=["dsl", "eql"])
def test_payload_matches_golden(path: Path, dsl_document: dict[str, Any], eql_document: dict[str, Any]) -> None:
    document = dsl_document if path == DSL_RULE else eql_document
    assert_golden(f"{path.stem}.kibana.json", kibana.compile_rule(_rule(path, document)))


def test_dsl_rule_is_a_query_rule_with_the_dsl_as_filter(dsl_document: dict[str, Any]) -> None:
    payload = kibana.compile_rule(_rule(DSL_RULE, dsl_document))
    assert (payload["type"], payload["language"], payload["query"]) == ("query", "kuery", "")
    assert payload["filters"][0]["query"] == dsl_document["query"]
    assert payload["filters"][0]["meta"]["negate"] is False
    assert (payload["interval"], payload["from"], payload["to"]) == ("1h", "now-70m", "now-10m")
    assert (payload["risk_score"], payload["severity"], payload["enabled"]) == (49, "high", False)
    assert payload["alert_suppression"] == {"group_by": ["process.entity_id", "file.name", "event.code"],
                                            "missing_fields_strategy": "doNotSuppress"}
    # group_by is detect's grouping (OpenSearch's buckets, the risk message's fields), not what an analyst sees first:
    # Kibana's investigation_fields are the rule's own field, and detect's wider grouping rides in its marker.
    assert "investigation_fields" not in payload
    assert payload["meta"]["detect"]["group_by"] == dsl_document["group_by"]
    assert payload["threat"][0]["technique"][0]["id"] == "T1071"
    assert payload["meta"]["detect"]["content_hash"] == _rule(DSL_RULE, dsl_document).content_hash


def test_exclusions_become_negated_filters(eql_document: dict[str, Any]) -> None:
    document = mutated(eql_document, lambda d: d.__setitem__(
        "exclusions", [{"field": "host.name", "values": ["LAB-01"], "reason": "malware lab"}]))
    payload = kibana.compile_rule(_rule(EQL_RULE, document))
    assert payload["filters"] == [{"meta": {"type": "custom", "alias": "exclusion: host.name: malware lab", "negate": True,
                                            "disabled": False}, "query": {"terms": {"host.name": ["LAB-01"]}}}]


@pytest.mark.parametrize("path", [DSL_RULE, EQL_RULE], ids=["dsl", "eql"])
def test_every_kibana_field_reaches_the_payload_as_written(path: Path, dsl_document: dict[str, Any],
                                                          eql_document: dict[str, Any]) -> None:
    document = with_every_field(dsl_document if path == DSL_RULE else eql_document)
    payload = kibana.compile_rule(_rule(path, document))
    expected = {**KIBANA_FIELDS, **(EQL_ONLY_FIELDS if path == EQL_RULE else {})}
    assert {key: payload.get(key) for key in expected if key != "meta"} == {key: value for key, value in expected.items()
                                                                             if key != "meta"}
    assert payload["meta"] == {**KIBANA_FIELDS["meta"], "detect": payload["meta"]["detect"]}
    assert payload["meta"]["detect"]["declared_required_fields"] is True
    assert payload["alert_suppression"] == {"group_by": document["alert_suppression"]["group_by"], **SUPPRESSION}
    assert not set(EQL_ONLY_FIELDS) & set(kibana.compile_rule(_rule(DSL_RULE, with_every_field(dsl_document))))


def test_kibana_defaults_fill_what_a_rule_leaves_out(eql_document: dict[str, Any]) -> None:
    for key in ("interval", "from", "to", "enabled"):
        eql_document.pop(key)
    rule = _rule(EQL_RULE, eql_document)
    assert (str(rule.schedule.interval), rule.schedule.start_text, rule.schedule.end_text) == ("5m", "now-6m", "now")
    assert (rule.max_signals, rule.enabled) == (100, False)
    payload = kibana.compile_rule(rule)
    assert (payload["interval"], payload["from"], payload["enabled"]) == ("5m", "now-6m", False)
    assert "to" not in payload and "max_signals" not in payload  # Kibana's defaults, which the rule left out
    spelled = kibana.compile_rule(_rule(EQL_RULE, {**eql_document, "max_signals": 100, "to": "now"}))
    assert (spelled["max_signals"], spelled["to"]) == (100, "now")  # said back as the rule spells them
    # Spelled at the defaults or left out: the same content, so no version bump and no change to deploy.
    assert spelled["meta"]["detect"]["content_hash"] == payload["meta"]["detect"]["content_hash"]
    assert kibana.comparable(spelled) == kibana.comparable(payload)


def test_required_fields_a_rule_declares_replace_the_derived_ones(eql_document: dict[str, Any]) -> None:
    derived = kibana.compile_rule(_rule(EQL_RULE, eql_document))
    assert "declared_required_fields" not in derived["meta"]["detect"]
    declared = kibana.compile_rule(_rule(EQL_RULE, {**eql_document, "required_fields": []}))
    assert declared["required_fields"] == [] and declared["meta"]["detect"]["declared_required_fields"] is True


def test_compile_is_pure(dsl_document: dict[str, Any]) -> None:
    rule = _rule(DSL_RULE, dsl_document)
    first = kibana.compile_rule(rule)
    first["filters"][0]["query"]["bool"]["filter"].clear()
    assert kibana.compile_rule(rule)["filters"][0]["query"] == dsl_document["query"]


# --- the official contract -------------------------------------------------------------------------

def _validator(contract: dict[str, Any], schema_name: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    return OAS30Validator({"$ref": f"#/components/schemas/{schema_name}", "components": contract["components"]})


def _declared_properties(contract: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _declared_properties(contract, contract["components"]["schemas"][schema["$ref"].split("/")[-1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _declared_properties(contract, part)
    return names


def _operation_body_schema(contract: dict[str, Any], method: str) -> str:
    body = contract["paths"]["/api/detection_engine/rules"][method]["requestBody"]
    ref: str = body["content"]["application/json"]["schema"]["$ref"]
    return ref.split("/")[-1]


@pytest.mark.parametrize(("path", "typed_schema"), [(DSL_RULE, "QueryRuleCreateProps"), (EQL_RULE, "EqlRuleCreateProps")],
                         ids=["dsl", "eql"])
@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("whole", [False, True], ids=["as-written", "every-field"])
def test_payload_validates_against_kibana_openapi(
    kibana_contract: dict[str, Any], path: Path, typed_schema: str, method: str, whole: bool,
    dsl_document: dict[str, Any], eql_document: dict[str, Any],
) -> None:
    document = dsl_document if path == DSL_RULE else eql_document
    payload = kibana.compile_rule(_rule(path, with_every_field(document) if whole else document))
    for schema_name in (_operation_body_schema(kibana_contract, method), typed_schema):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(kibana_contract, schema_name).iter_errors(payload)]
        assert errors == [], f"{schema_name}: {errors}"
    # The contract allows unknown keys; Kibana would drop them silently, so every key must be declared.
    declared = _declared_properties(kibana_contract, kibana_contract["components"]["schemas"][typed_schema])
    assert set(payload) - declared == set()


def test_contract_check_catches_a_bad_payload(kibana_contract: dict[str, Any], dsl_document: dict[str, Any]) -> None:
    payload = kibana.compile_rule(_rule(DSL_RULE, dsl_document))
    payload["severity"] = "severe"
    payload["alert_suppression"]["group_by"] = ["a", "b", "c", "d"]
    assert list(_validator(kibana_contract, "QueryRuleCreateProps").iter_errors(payload))

"""Kibana rules read back into rule documents: every field of the whole rule, and export(import(x)) gives back x."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from deployer.errors import UnsupportedByTarget
from deployer.rules.model import Rule, content_of
from deployer.rules.schema import schema_problems
from deployer.targets import kibana
from deployer.targets.kibana import decompile
from tests.conftest import DSL_RULE, EQL_RULE
from tests.targets.kibana.whole_rule import as_kibana_runs_it, corpus_rules, with_every_field


def _document_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The rule document of a Kibana rule. Where no data source reads its index patterns and detect still asks for
    one (until rules may leave data_source out), name one, so the rest of the rule is what is tested here."""
    try:
        return decompile.decompile_rule(payload)[0]
    except UnsupportedByTarget as error:
        if not str(error).startswith("no detect data source reads"):
            raise
    with mock.patch.object(decompile, "_data_source_of", lambda index: "windows.sysmon_operational"):
        return decompile.decompile_rule(payload)[0]


def _round_trip(source: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the document import writes, the payload export then sends) for a Kibana rule."""
    document = _document_of(source)
    assert schema_problems("imported.json", document) == []
    return document, kibana.compile_rule(Rule.from_document(Path("imported.json"), document))


@pytest.mark.parametrize("source", corpus_rules(), ids=lambda rule: str(rule["rule_id"])[:8])
def test_every_corpus_rule_exports_back_as_it_was(source: dict[str, Any]) -> None:
    document, payload = _round_trip(source)
    derived = "required_fields" not in source  # the rule declared none: detect lists them from the data source
    assert as_kibana_runs_it(payload, derived_required_fields=derived) == as_kibana_runs_it(source)
    # What the source left out to Kibana's defaults the file leaves out too (1,703 of Elastic's rules have no interval).
    assert {key for key in ("interval", "from", "to", "max_signals") if key not in source} & set(document) == set()


def test_the_corpus_has_its_eql_rules() -> None:
    assert len(corpus_rules()) >= 30


@pytest.mark.parametrize("path", [DSL_RULE, EQL_RULE], ids=["dsl", "eql"])
def test_every_kibana_field_survives_export_and_import(path: Path, dsl_document: dict[str, Any],
                                                       eql_document: dict[str, Any]) -> None:
    document = with_every_field(dsl_document if path == DSL_RULE else eql_document)
    payload = kibana.compile_rule(Rule.from_document(path, document))
    imported, notes = kibana.decompile_rule(payload)
    assert notes == []
    assert content_of(imported) == content_of(document)
    assert kibana.compile_rule(Rule.from_document(path, imported)) == payload


def test_investigation_fields_are_not_a_grouping(eql_document: dict[str, Any]) -> None:
    # 494 of Elastic's rules show more than three fields first: read as group_by, they failed Kibana's limit of
    # three suppression fields, and the others gained suppression on export.
    payload = kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document))
    payload["meta"] = {}
    payload.pop("alert_suppression")
    payload["investigation_fields"] = {"field_names": ["host.name", "user.name", "process.executable", "file.name"]}
    document = _document_of(payload)
    assert document["investigation_fields"] == payload["investigation_fields"]
    assert "group_by" not in document and "alert_suppression" not in document
    assert "alert_suppression" not in kibana.compile_rule(Rule.from_document(EQL_RULE, document))


def test_a_rule_an_earlier_detect_deployed_reads_back_as_its_file(eql_document: dict[str, Any]) -> None:
    # Earlier versions wrote group_by into investigation_fields and not into the marker.
    payload = kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document))
    payload["investigation_fields"] = {"field_names": payload["meta"]["detect"].pop("group_by")}
    document = _document_of(payload)
    assert content_of(document) == content_of(eql_document)
    payload["meta"]["detect"]["content_hash"] = "0" * 64  # not detect's reading: the fields are shown, not grouped
    assert _document_of(payload)["investigation_fields"] == payload["investigation_fields"]


def test_suppression_kibana_wrote_keeps_its_duration_and_kibanas_default_strategy(eql_document: dict[str, Any]) -> None:
    payload = kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document))
    payload["meta"] = {}
    payload["alert_suppression"] = {"group_by": ["host.name"], "duration": {"unit": "m", "value": 5}}
    document = _document_of(payload)
    # Kibana suppresses events lacking the field when the rule does not say (detect's default is the other way).
    assert document["alert_suppression"] == {"group_by": ["host.name"], "duration": {"unit": "m", "value": 5},
                                             "missing_fields_strategy": "suppress"}
    assert document["group_by"] == ["host.name"]
    exported = kibana.compile_rule(Rule.from_document(EQL_RULE, document))
    assert exported["alert_suppression"] == {"group_by": ["host.name"], "duration": {"value": 5, "unit": "m"},
                                             "missing_fields_strategy": "suppress"}


def test_user_meta_is_kept_and_kibanas_own_link_is_not(eql_document: dict[str, Any]) -> None:
    payload = kibana.compile_rule(Rule.from_document(EQL_RULE, {**eql_document, "meta": {"owner": "soc"}}))
    payload["meta"]["kibana_siem_app_url"] = "https://kibana.example/app/security"
    document = _document_of(payload)
    assert document["meta"] == {"owner": "soc"}
    assert kibana.compile_rule(Rule.from_document(EQL_RULE, document))["meta"]["owner"] == "soc"


def test_required_fields_detect_derived_are_not_written_into_the_file(eql_document: dict[str, Any]) -> None:
    payload = kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document))
    assert payload["required_fields"] and "required_fields" not in _document_of(payload)
    foreign = {**payload, "meta": {}, "required_fields": [{"name": "event.code", "type": "keyword", "ecs": True}]}
    assert _document_of(foreign)["required_fields"] == [{"name": "event.code", "type": "keyword"}]


@pytest.mark.parametrize(("key", "value"), [("data_view_id", "logs-*"), ("saved_id", "my-saved-query")])
def test_a_rule_on_a_data_view_or_saved_query_is_refused_with_its_reason(eql_document: dict[str, Any], key: str,
                                                                        value: str) -> None:
    payload = {**kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document)), key: value}
    with pytest.raises(UnsupportedByTarget) as raised:
        kibana.decompile_rule(payload)
    assert raised.value.pointer == f"/{key}"


def test_a_key_no_kibana_rule_of_these_types_has_is_noted_as_dropped(eql_document: dict[str, Any]) -> None:
    payload = {**kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document)), "threat_index": ["ti-*"]}
    _, notes = kibana.decompile_rule(copy.deepcopy(payload))
    assert notes == ["dropped threat_index (not a field of Kibana's eql rules detect holds)"]


def test_a_rule_of_a_kind_detect_does_not_hold_is_refused_for_what_it_is_first(eql_document: dict[str, Any]) -> None:
    """The kind comes before anything about the rule's indices or fields: a KQL rule on a data view is refused as a
    KQL rule, at /language, and counted as one."""
    payload = {**kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document)), "type": "query", "language": "kuery",
               "query": "process.name : x", "filters": [], "index": [], "data_view_id": "logs-*"}
    with pytest.raises(UnsupportedByTarget) as raised:
        kibana.Kibana().decompile_rule(payload)
    assert (str(raised.value), raised.value.pointer, raised.value.cause) == (
        "a KQL (kuery) query rule: detect holds EQL and query DSL rules today", "/language", "a KQL (kuery) query rule")


def test_a_rule_of_a_held_kind_is_refused_with_its_kind_in_the_cause(eql_document: dict[str, Any]) -> None:
    payload = {**kibana.compile_rule(Rule.from_document(EQL_RULE, eql_document)), "data_view_id": "logs-*"}
    with pytest.raises(UnsupportedByTarget) as raised:
        kibana.Kibana().decompile_rule(payload)
    assert raised.value.cause == "an EQL rule: the rule reads a data view"
    assert str(raised.value) == "the rule reads a data view: detect rules name their indices and hold their query"

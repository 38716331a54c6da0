from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from deployer.rules.model import Duration, Rule, Schedule, content_hash


def test_duration_parses_units() -> None:
    assert Duration.parse("70m").seconds == 4200
    assert Duration.parse("1h").seconds == 3600
    assert str(Duration.parse("2d")) == "2d"
    with pytest.raises(ValueError):
        Duration.parse("0h")


def test_schedule_of_the_seed_is_hourly_from_70_to_10_minutes_ago(dsl_document: dict[str, Any]) -> None:
    schedule = Schedule.from_document(dsl_document)
    assert schedule.interval.seconds == 3600
    assert schedule.lookback_start.seconds == 70 * 60
    assert schedule.lookback_end is not None and schedule.lookback_end.seconds == 10 * 60
    assert schedule.window_seconds == 3600


def test_schedule_without_to_runs_up_to_now(dsl_document: dict[str, Any]) -> None:
    del dsl_document["to"]
    assert Schedule.from_document(dsl_document).lookback_end is None


def test_rule_model_reads_grouping_and_message(dsl_document: dict[str, Any]) -> None:
    rule = Rule.from_document(Path("x.json"), dsl_document)
    assert rule.group_by[0] == "process.executable" and len(rule.group_by) == 9
    assert rule.suppress_by == ("process.entity_id", "file.name", "event.code")
    assert rule.placeholders == ("process.executable", "file.name", "host.name")
    assert rule.enabled is False and rule.exclusions == ()


def test_suppression_defaults_to_group_by(dsl_document: dict[str, Any]) -> None:
    del dsl_document["alert_suppression"]
    dsl_document["group_by"] = ["host.name"]
    assert Rule.from_document(Path("x.json"), dsl_document).suppress_by == ("host.name",)


def test_content_hash_ignores_version_and_schema_but_not_content(dsl_document: dict[str, Any]) -> None:
    original = content_hash(dsl_document)
    bumped = copy.deepcopy(dsl_document)
    bumped["version"] = 7
    bumped["$schema"] = "elsewhere.json"
    assert content_hash(bumped) == original
    edited = copy.deepcopy(dsl_document)
    edited["risk_score"] = 50
    assert content_hash(edited) != original
    reordered = dict(reversed(list(dsl_document.items())))
    assert content_hash(reordered) == original


def test_every_schema_field_has_one_typed_attribute() -> None:
    """The schema describes the rule's shape; the model holds each of its fields as an attribute, so a field added
    to one and not the other fails here instead of reaching the compilers as raw JSON."""
    import dataclasses
    import json
    from importlib import resources

    from deployer.rules.model import DOCUMENT_FIELDS

    schema = json.loads((resources.files("deployer") / "schema" / "rule.schema.json").read_text("utf-8"))
    assert set(schema["properties"]) == set(DOCUMENT_FIELDS)
    attributes = {item.name for item in dataclasses.fields(Rule)} | {"suppress_by"}
    assert {name for name in DOCUMENT_FIELDS.values() if name} <= attributes


def test_optional_fields_left_out_are_none_and_written_empty_lists_stay(dsl_document: dict[str, Any]) -> None:
    for key in ("note", "setup", "license", "author", "threat", "to", "alert_suppression"):
        dsl_document.pop(key, None)
    dsl_document["references"] = []
    rule = Rule.from_document(Path("x.json"), dsl_document)
    assert (rule.note, rule.setup, rule.license, rule.author, rule.threat, rule.timestamp_override) == (None,) * 6
    assert (rule.investigation_fields, rule.severity_mapping, rule.required_fields, rule.meta) == (None,) * 4
    assert (rule.max_signals, rule.max_signals_written) == (100, False)  # Kibana's default, not spelled
    assert rule.references == () and rule.schedule.end_written is False and rule.suppression_written is False


@pytest.mark.parametrize("target", ["kibana", "opensearch"])
def test_compilers_read_the_typed_rule_so_an_overlay_reaches_every_field(dsl_document: dict[str, Any], target: str) -> None:
    """An environment overlay replaces attributes (dataclasses.replace); a compiler reading the raw document would
    still send the file's values."""
    import dataclasses
    import json

    from deployer.targets import target_kind

    rule = Rule.from_document(Path("x.json"), dsl_document)
    changed = dataclasses.replace(rule, name="Renamed", description="Described", note="Guide", setup="Set up",
                                  references=("https://example.org/ref",), risk_score=99, severity="critical",
                                  schedule=Schedule(Duration(2, "h"), Duration(3, "h"), Duration(5, "m"), True))
    text = json.dumps(target_kind(target).compile_rule(changed))
    assert "Renamed" in text and "now-3h" in text.replace("||-3h", "now-3h")
    assert json.dumps(target_kind(target).compile_rule(rule)) != text
    if target == "kibana":
        payload = target_kind(target).compile_rule(changed)
        assert (payload["note"], payload["setup"], payload["references"], payload["risk_score"]) == \
            ("Guide", "Set up", ["https://example.org/ref"], 99)
        assert (payload["interval"], payload["from"], payload["to"]) == ("2h", "now-3h", "now-5m")


def test_kibana_fields_are_typed(eql_document: dict[str, Any]) -> None:
    from deployer.rules.model import RelatedIntegration, RequiredField, RiskScoreMapping, SeverityMapping
    from tests.targets.kibana.whole_rule import with_every_field

    rule = Rule.from_document(Path("x.json"), with_every_field(eql_document))
    assert rule.severity_mapping == (SeverityMapping("event.code", "equals", "17", "critical"),)
    assert rule.risk_score_mapping == (RiskScoreMapping("event.risk_score", "equals", ""),
                                       RiskScoreMapping("event.severity", "equals", "", 80))
    assert rule.related_integrations == (RelatedIntegration("windows", "^3.0.0"),
                                         RelatedIntegration("azure", "~1.1.6", "activitylogs"))
    assert rule.required_fields == (RequiredField("event.code", "keyword"), RequiredField("file.name", "keyword"))
    assert rule.investigation_fields == ("host.name", "user.name", "process.executable", "file.name")
    assert (rule.suppression_duration, rule.missing_fields_strategy) == (Duration(6, "h"), "suppress")
    assert (rule.timestamp_override, rule.tiebreaker_field, rule.max_signals) == ("event.ingested", "event.sequence", 250)


def test_defaults_spelled_or_left_out_are_the_same_content(eql_document: dict[str, Any]) -> None:
    for key in ("interval", "from"):
        eql_document.pop(key)
    spelled = {**eql_document, "interval": "5m", "from": "now-6m", "max_signals": 100,
               "alert_suppression": {**eql_document["alert_suppression"], "missing_fields_strategy": "doNotSuppress"}}
    assert content_hash(spelled) == content_hash(eql_document)
    assert content_hash({**eql_document, "max_signals": 101}) != content_hash(eql_document)

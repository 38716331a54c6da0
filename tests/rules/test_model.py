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

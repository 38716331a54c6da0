"""Fixture loading: timestamps placed in the rule's window at the run instant, bad lines named by file and line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deployer.errors import Problem
from deployer.fixtures import RuleFixtures, load_fixtures, place_in_window
from deployer.model import Rule
from tests.conftest import DSL_RULE, REPO

INSTANT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _rule(document: dict[str, Any], stem: str = "qakbot") -> Rule:
    return Rule.from_document(Path(f"detections/{stem}.json"), document)


def test_repository_fixtures_load_and_fall_where_they_should(dsl_document: dict[str, Any]) -> None:
    fixtures = load_fixtures(Rule.from_document(DSL_RULE, dsl_document), REPO / "fixtures", INSTANT)
    assert isinstance(fixtures, RuleFixtures)
    window_start, window_end = INSTANT - timedelta(minutes=70), INSTANT - timedelta(minutes=10)
    for event in fixtures.events:
        moment = datetime.fromisoformat(event.document["@timestamp"])
        if event.expected:
            assert window_start <= moment < window_end, event.event_id
    outside = [e for e in fixtures.events if not window_start <= datetime.fromisoformat(e.document["@timestamp"]) < window_end]
    assert outside and all(not event.expected for event in outside)


def test_absolute_stamps_keep_spacing_and_are_centred(dsl_document: dict[str, Any]) -> None:
    placed = place_in_window(_rule(dsl_document), ["2024-01-01T00:00:00Z", "2024-01-01T00:20:00Z"], INSTANT)
    assert isinstance(placed, list)
    assert placed[1] - placed[0] == timedelta(minutes=20)
    assert placed[0] == INSTANT - timedelta(minutes=50)  # window 70..10 min ago, 20 min of events in its middle


def test_relative_stamps_stay_relative(dsl_document: dict[str, Any]) -> None:
    placed = place_in_window(_rule(dsl_document), ["now-75m", "now", "now-30s"], INSTANT)
    assert placed == [INSTANT - timedelta(minutes=75), INSTANT, INSTANT - timedelta(seconds=30)]


def test_span_longer_than_window_is_refused(dsl_document: dict[str, Any]) -> None:
    placed = place_in_window(_rule(dsl_document), ["2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z"], INSTANT)
    assert isinstance(placed, str) and "longer than the rule's window" in placed


def test_bad_lines_are_named_by_file_and_line(dsl_document: dict[str, Any], in_tmp: Path) -> None:
    folder = in_tmp / "fixtures" / "qakbot"
    folder.mkdir(parents=True)
    (folder / "match.ndjson").write_text('{"@timestamp": "now-20m"}\n{not json\n')
    (folder / "nomatch.ndjson").write_text('\n{"host": {"name": "x"}}\n')
    problems = load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT)
    assert problems == [
        Problem("fixtures/qakbot/match.ndjson", "line 2", "invalid JSON at column 2: Expecting property name enclosed in double quotes"),
        Problem("fixtures/qakbot/nomatch.ndjson", "line 2", 'an event is a JSON object with an "@timestamp" string'),
    ]


def test_missing_fixtures_are_problems(dsl_document: dict[str, Any], in_tmp: Path) -> None:
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == [
        Problem("fixtures/qakbot", "", "no fixtures for rule 4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11: expected match.ndjson and nomatch.ndjson here")]
    (in_tmp / "fixtures" / "qakbot").mkdir(parents=True)
    (in_tmp / "fixtures" / "qakbot" / "match.ndjson").write_text(json.dumps({"@timestamp": "now-20m"}) + "\n")
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == [
        Problem("fixtures/qakbot/nomatch.ndjson", "", "missing fixture file")]

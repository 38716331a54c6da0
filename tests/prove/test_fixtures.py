"""Fixture loading: timestamps placed in the rule's window at the run instant, bad lines named by file and line."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.node import RunningNode
from deployer.errors import Problem
from deployer.prove.fixtures import RuleFixtures, check_fixtures, event_problems, load_fixtures, place_in_window
from deployer.rules.datasource import load_data_source
from deployer.rules.model import Rule
from tests.conftest import DSL_RULE, FIXTURES, detect

INSTANT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _rule(document: dict[str, Any], stem: str = "qakbot") -> Rule:
    return Rule.from_document(Path(f"detections/{stem}.json"), document)


def test_repository_fixtures_load_and_fall_where_they_should(dsl_document: dict[str, Any]) -> None:
    fixtures = load_fixtures(Rule.from_document(DSL_RULE, dsl_document), FIXTURES, INSTANT)
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
        Problem("fixtures/qakbot/match.ndjson", "", "invalid JSON at column 2: Expecting property name enclosed in double quotes",
                line=2),
        Problem("fixtures/qakbot/nomatch.ndjson", "/@timestamp", 'an event is a JSON object with an "@timestamp" string', line=2),
    ]
    # The line is part of the location, not of the file's name: people read both as `file:line`.
    assert [str(problem).split(": ")[0] for problem in problems] == ["fixtures/qakbot/match.ndjson:2", "fixtures/qakbot/nomatch.ndjson:2"]


def test_missing_fixtures_are_problems(dsl_document: dict[str, Any], in_tmp: Path) -> None:
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == [
        Problem("fixtures/qakbot", "", "no fixtures for rule 4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11: expected match.ndjson and nomatch.ndjson here")]
    (in_tmp / "fixtures" / "qakbot").mkdir(parents=True)
    (in_tmp / "fixtures" / "qakbot" / "match.ndjson").write_text(json.dumps({"@timestamp": "now-20m"}) + "\n")
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == [
        Problem("fixtures/qakbot/nomatch.ndjson", "", "missing fixture file")]


def _fixture_folder(in_tmp: Path, match: list[Any], nomatch: list[Any]) -> Path:
    folder = in_tmp / "fixtures" / "qakbot"
    folder.mkdir(parents=True)
    for name, events in (("match.ndjson", match), ("nomatch.ndjson", nomatch)):
        (folder / name).write_text("".join((event if isinstance(event, str) else json.dumps(event)) + "\n" for event in events))
    return folder


def test_an_empty_match_file_proves_nothing_and_fails(dsl_document: dict[str, Any], in_tmp: Path) -> None:
    _fixture_folder(in_tmp, ["", "  "], [{"@timestamp": "now-20m"}])
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == [
        Problem("fixtures/qakbot/match.ndjson", "", "no event the rule must alert on: a proof with nothing that must "
                                                    "alert proves nothing; add at least one event")]


GOOD = {"@timestamp": "2024-03-12T09:02:14.512Z", "event": {"code": "17", "category": ["file"], "created": 1710234134512},
        "process": {"pid": 4242, "executable": "C:\\x.exe"}, "winlog": {"process": {"pid": "4242"}}, "host": {"name": None}}
BAD_EVENTS = [
    ("pid not a number", {"process": {"pid": "abc"}},
     "/process/pid: process.pid is a long field in data source windows.sysmon_operational: expected a number, got a string \"abc\""),
    ("pid a boolean", {"process": {"pid": True}},
     "/process/pid: process.pid is a long field in data source windows.sysmon_operational: expected a number, got a boolean true"),
    ("pid beyond long", {"process": {"pid": 2 ** 63}},
     "/process/pid: process.pid is a long field in data source windows.sysmon_operational: 9223372036854775808 is out of the long range"),
    ("object for a keyword", {"host": {"name": {"first": "wks"}}},
     "/host/name: host.name is a keyword field in data source windows.sysmon_operational: expected a single value, got an object"),
    ("array item an object", {"event": {"category": ["file", {"x": 1}]}},
     "/event/category/1: event.category is a keyword field in data source windows.sysmon_operational: expected a single "
     "value, got an object"),
    ("value for an object", {"process": "cmd.exe"},
     "/process: process holds fields in data source windows.sysmon_operational: expected an object, got a string"),
    # process.parent.name is ECS, which every data source holds; a misspelt object is in neither.
    ("field not in the data source", {"process": {"parrent": {"name": "x"}}},
     "/process/parrent: field 'process.parrent' is not in data source windows.sysmon_operational"),
    ("dotted key", {"process.pid": 1},
     "/process.pid: dotted key 'process.pid': write nested objects, {\"process\": {\"pid\": ...}}, as the events are indexed"),
    ("bad date", {"event": {"created": "yesterday"}},
     "/event/created: event.created is a date field in data source windows.sysmon_operational: expected an ISO 8601 date "
     "(2024-03-12T09:02:14.512Z) or epoch milliseconds, got \"yesterday\""),
    ("bad timestamp", {"@timestamp": "2024-13-01T00:00:00Z"},
     "/@timestamp: '2024-13-01T00:00:00Z' is neither ISO 8601 (2024-03-12T09:02:14.512Z) nor now-<n><s|m|h|d>"),
]


def _with(change: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(GOOD))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            event[key].update(value)
        else:
            event[key] = value
    return event


@pytest.mark.parametrize(("case", "change", "expected"), BAD_EVENTS, ids=[case for case, _, _ in BAD_EVENTS])
def test_bad_events_are_named_by_file_line_and_pointer(case: str, change: dict[str, Any], expected: str,
                                                     dsl_document: dict[str, Any], in_tmp: Path) -> None:
    _fixture_folder(in_tmp, [GOOD], [GOOD, _with(change)])
    problems = check_fixtures(_rule(dsl_document), Path("fixtures"))
    assert [str(problem) for problem in problems] == [f"fixtures/qakbot/nomatch.ndjson:2: {expected}"]
    assert load_fixtures(_rule(dsl_document), Path("fixtures"), INSTANT) == problems


def test_a_rule_without_fixture_folder_has_nothing_to_check(dsl_document: dict[str, Any], in_tmp: Path) -> None:
    assert check_fixtures(_rule(dsl_document), Path("fixtures")) == []


def test_detect_test_refuses_a_bad_fixture_before_any_node(in_tmp: Path) -> None:
    shutil.copy(DSL_RULE, in_tmp / "rule.json")
    shutil.copytree(FIXTURES / DSL_RULE.stem, in_tmp / "fixtures" / "rule")
    nomatch = in_tmp / "fixtures" / "rule" / "nomatch.ndjson"
    lines = nomatch.read_text().splitlines()
    bad = json.loads(lines[0])
    bad["process"]["pid"] = "not-a-pid"
    nomatch.write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    started = time.monotonic()
    # An unreachable cluster: were the fixture not refused first, the run would end on the connection instead.
    result = detect("test", "rule.json", "--cluster-url", "http://127.0.0.1:9", cwd=in_tmp)
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    assert f"fixtures/rule/nomatch.ndjson:{len(lines) + 1}: /process/pid: process.pid is a long field in data source " \
           "windows.sysmon_operational: expected a number, got a string \"not-a-pid\"" in result.stdout.splitlines()
    assert "Traceback" not in result.stderr and "{'" not in result.stdout


def test_the_engine_refuses_what_the_check_refuses(opensearch_node: RunningNode) -> None:
    """The check's verdicts, against a real OpenSearch indexing each event into the data source's strict mapping.

    Dotted keys are left out: the engines expand them, detect refuses them by choice (events are indexed nested)."""
    import urllib.error
    import urllib.request

    source = load_data_source("windows.sysmon_operational")
    assert source is not None

    def call(method: str, path: str, body: Any) -> int:
        request = urllib.request.Request(f"{opensearch_node.url}/{path}", json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    index = "detect-fixture-check"
    assert call("PUT", index, {"mappings": source.index_mapping(), "settings": {"number_of_replicas": 0}}) == 200
    try:
        events = [GOOD, *(_with(change) for case, change, _ in BAD_EVENTS if case not in ("dotted key", "bad timestamp"))]
        for number, event in enumerate(events):
            refused = bool(event_problems(event, source))
            status = call("PUT", f"{index}/_doc/{number}", event)
            assert refused == (status >= 400), (event, status)
    finally:
        call("DELETE", index, None)

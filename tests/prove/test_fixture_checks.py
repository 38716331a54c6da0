"""`detect validate` checks each rule's fixtures (fixtures/<rule file stem>/) as `detect test` would before any node
starts; a rule without a fixture folder is fine; the record of valid rules sees fixture changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deployer.rules.ruleset import validate_paths
from tests.conftest import DSL_RULE, FIXTURES, detect


@pytest.fixture
def repository(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DETECT_VALIDATION_CACHE", str(in_tmp / "validated"))
    (in_tmp / "detections").mkdir()
    shutil.copy(DSL_RULE, in_tmp / "detections" / "qakbot.json")
    shutil.copytree(FIXTURES / DSL_RULE.stem, in_tmp / "fixtures" / "qakbot")
    return in_tmp


def _break_a_pid(repository: Path) -> str:
    match = repository / "fixtures" / "qakbot" / "match.ndjson"
    lines = match.read_text().splitlines()
    event = json.loads(lines[0])
    event["process"]["pid"] = {"value": 4242}
    match.write_text("\n".join([json.dumps(event), *lines[1:]]) + "\n")
    return ("fixtures/qakbot/match.ndjson:1: /process/pid: process.pid is a long field in data source "
            "windows.sysmon_operational: expected a single value, got an object")


def test_validate_reports_fixture_problems_by_file_line_and_pointer(repository: Path) -> None:
    expected = _break_a_pid(repository)
    result = detect("validate", cwd=repository)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == expected


def test_validate_takes_the_fixtures_root_from_its_option(repository: Path) -> None:
    expected = _break_a_pid(repository)
    shutil.move(repository / "fixtures", repository / "events")
    assert detect("validate", cwd=repository).returncode == 0  # no folder under ./fixtures: nothing to check
    result = detect("validate", "--fixtures", "events", cwd=repository)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == expected.replace("fixtures/", "events/", 1)


def test_an_empty_match_file_fails_validate(repository: Path) -> None:
    (repository / "fixtures" / "qakbot" / "match.ndjson").write_text("\n")
    assert [str(problem) for problem in validate_paths([repository / "detections"], fixtures=Path("fixtures")).problems] == [
        "fixtures/qakbot/match.ndjson: /: no event the rule must alert on: a proof with nothing that must alert proves "
        "nothing; add at least one event"]


def test_a_fixture_change_invalidates_the_record_of_valid_rules(repository: Path) -> None:
    rules, fixtures = repository / "detections", Path("fixtures")
    assert validate_paths([rules], fixtures=fixtures).ok
    assert validate_paths([rules], fixtures=fixtures).ok  # now answered from the record
    expected = _break_a_pid(repository)
    assert [str(problem) for problem in validate_paths([rules], fixtures=fixtures).problems] == [expected]

"""The record of valid rule files: a rerun on unchanged rules skips their checks and gives the same answer;
any change to a file, to detect or to its checking libraries checks again; invalid files are never recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer.rules import cache
from deployer.rules import ruleset as validate_step
from deployer.rules.ruleset import validate_paths
from tests.conftest import DETECTIONS


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "validated"
    monkeypatch.setenv("DETECT_VALIDATION_CACHE", str(folder))
    return folder


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rule_ids that went through the full semantic checks."""
    checked: list[str] = []
    real = validate_step.rule_findings

    def counting(rule: Any) -> Any:
        checked.append(rule.rule_id)
        return real(rule)

    monkeypatch.setattr(validate_step, "rule_findings", counting)
    return checked


@pytest.fixture
def rules(in_tmp: Path) -> Path:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    return in_tmp / "detections"


def _summary(rules: Path) -> tuple[list[str], list[str]]:
    validation = validate_paths([rules])
    return sorted(rule.rule_id for rule in validation.rules), [str(problem) for problem in validation.problems]


def test_a_rerun_on_unchanged_rules_skips_their_checks(record: Path, checks: list[str], rules: Path) -> None:
    first = _summary(rules)
    assert len(checks) == 2
    assert _summary(rules) == first
    assert len(checks) == 2  # nothing checked again
    assert len(list(record.glob("*.txt"))) == 1


def test_an_edited_file_is_checked_again(record: Path, checks: list[str], rules: Path) -> None:
    _summary(rules)
    rule_file = rules / "windows_app_layer_protocol_qakbot_namedpipe.json"
    document = json.loads(rule_file.read_text())
    document["risk_score"] = 5  # valid for the schema, wrong for its severity band
    rule_file.write_text(json.dumps(document, indent=2))
    valid, problems = _summary(rules)
    assert len(checks) == 3 and len(valid) == 1
    assert problems == ["detections/windows_app_layer_protocol_qakbot_namedpipe.json: /severity: risk_score 5 is low in Kibana's "
                        "bands, not high (48-73)"]


def test_invalid_files_are_never_recorded(record: Path, checks: list[str], rules: Path) -> None:
    rule_file = rules / "windows_app_layer_protocol_qakbot_namedpipe.json"
    rule_file.write_text(rule_file.read_text().replace('"risk_score": 49', '"risk_score": 5'))
    first = _summary(rules)
    second = _summary(rules)
    assert first == second and len(second[1]) == 1
    assert checks.count(json.loads(rule_file.read_text())["rule_id"]) == 2


def test_a_new_detect_or_library_starts_a_new_record(record: Path, checks: list[str], rules: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _summary(rules)
    monkeypatch.setattr(cache, "fingerprint", lambda: "0" * 64)
    _summary(rules)
    assert len(checks) == 4
    assert [path.name for path in record.glob("*.txt")] == ["0" * 64 + ".txt"]  # the stale record is gone


def test_off_and_an_unreadable_record_only_cost_speed(record: Path, checks: list[str], rules: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _summary(rules)
    (record / f"{cache.fingerprint()}.txt").write_bytes(b"\xff\xfe garbage")
    assert _summary(rules) == expected
    monkeypatch.setenv("DETECT_VALIDATION_CACHE", "off")
    assert _summary(rules) == expected
    assert len(checks) == 6

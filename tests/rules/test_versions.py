"""`--base REV`: a rule whose content changed since REV must raise its version; checked with a real git repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deployer.errors import DetectError
from deployer.rules.ruleset import validate_paths


def _git(folder: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *arguments],
                   check=True, capture_output=True)


@pytest.fixture
def repo(in_tmp: Path, dsl_document: dict[str, Any]) -> Path:
    _git(in_tmp, "init", "-q", "-b", "main")
    (in_tmp / "detections").mkdir()
    (in_tmp / "detections" / "qakbot.json").write_text(json.dumps(dsl_document, indent=2))
    _git(in_tmp, "add", ".")
    _git(in_tmp, "commit", "-qm", "base")
    return in_tmp


def _rewrite(repo: Path, change: dict[str, Any], name: str = "qakbot.json") -> None:
    path = repo / "detections" / name
    source = repo / "detections" / "qakbot.json"
    document = json.loads(source.read_text())
    document.update(change)
    if name != "qakbot.json":
        source.unlink()
    path.write_text(json.dumps(document, indent=2))


def test_unchanged_rule_passes(repo: Path) -> None:
    assert validate_paths([Path("detections")], base="HEAD").problems == []


def test_changed_content_without_a_version_bump_fails(repo: Path) -> None:
    _rewrite(repo, {"risk_score": 50})
    problems = [str(p) for p in validate_paths([Path("detections")], base="HEAD").problems]
    assert problems == ["detections/qakbot.json: /version: content changed since HEAD but version is still 1: set it to 2"]


def test_changed_content_with_a_version_bump_passes(repo: Path) -> None:
    _rewrite(repo, {"risk_score": 50, "version": 2})
    assert validate_paths([Path("detections")], base="HEAD").problems == []


def test_reformatting_is_not_a_content_change(repo: Path) -> None:
    path = repo / "detections" / "qakbot.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True))
    assert validate_paths([Path("detections")], base="HEAD").problems == []


def test_version_going_down_fails(repo: Path) -> None:
    _rewrite(repo, {"version": 3})
    _git(repo, "commit", "-qam", "v3")
    _rewrite(repo, {"version": 2})
    problems = [str(p) for p in validate_paths([Path("detections")], base="HEAD").problems]
    assert problems == ["detections/qakbot.json: /version: version 2 is lower than 3 at HEAD"]


def test_renamed_file_is_followed_by_rule_id(repo: Path) -> None:
    _rewrite(repo, {"risk_score": 50}, name="renamed.json")
    problems = [str(p) for p in validate_paths([Path("detections")], base="HEAD").problems]
    assert problems == ["detections/renamed.json: /version: content changed since HEAD but version is still 1: set it to 2"]


def test_new_rule_needs_no_history(repo: Path) -> None:
    _rewrite(repo, {"rule_id": "new-rule"})
    assert validate_paths([Path("detections")], base="HEAD").problems == []


def test_unknown_revision_is_one_clear_error(repo: Path) -> None:
    with pytest.raises(DetectError, match="--base nope: no such git revision"):
        validate_paths([Path("detections")], base="nope")

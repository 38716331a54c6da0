"""`detect new`: a scaffolded rule validates, proves on a real engine as written, and never overwrites."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from deployer.cluster.node import RunningNode
from tests.conftest import detect


@pytest.mark.parametrize("language", ["dsl", "eql"])
def test_new_rule_is_valid_with_a_fresh_id_at_version_1(in_tmp: Path, language: str) -> None:
    result = detect("new", "Suspicious Example Start", "--language", language, cwd=in_tmp)
    assert result.returncode == 0, result.stderr
    rule_file = in_tmp / "detections" / "suspicious_example_start.json"
    assert result.stdout.splitlines() == ["detections/suspicious_example_start.json",
                                          "fixtures/suspicious_example_start/match.ndjson",
                                          "fixtures/suspicious_example_start/nomatch.ndjson"]
    document = json.loads(rule_file.read_text())
    assert (document["version"], document["language"], document["name"]) == (1, language, "Suspicious Example Start")
    assert uuid.UUID(document["rule_id"]).version == 4
    assert (rule_file.parent / document["$schema"]).resolve().is_file()
    assert detect("validate", cwd=in_tmp).returncode == 0


def test_two_new_rules_get_different_ids(in_tmp: Path) -> None:
    detect("new", "First", cwd=in_tmp)
    detect("new", "Second", cwd=in_tmp)
    ids = {json.loads(path.read_text())["rule_id"] for path in (in_tmp / "detections").glob("*.json")}
    assert len(ids) == 2


def test_new_never_overwrites(in_tmp: Path) -> None:
    assert detect("new", "Example", cwd=in_tmp).returncode == 0
    rule_file = in_tmp / "detections" / "example.json"
    before = rule_file.read_bytes()
    again = detect("new", "example!", cwd=in_tmp)
    assert again.returncode == 2
    assert again.stderr.strip() == "error: detections/example.json already exists: choose another name (nothing was written)"
    assert rule_file.read_bytes() == before


def test_new_rules_prove_on_a_real_engine(in_tmp: Path, opensearch_node: RunningNode) -> None:
    for language in ("dsl", "eql"):
        assert detect("new", f"Example {language}", "--language", language, cwd=in_tmp).returncode == 0
    result = detect("test", "--cluster-url", opensearch_node.url, "--format", "json", cwd=in_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [(proof["matches"]["expected"], proof["matches"]["actual"]) for proof in report["proofs"]] == \
        [(["match.ndjson:1"], ["match.ndjson:1"])] * 2

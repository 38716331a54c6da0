"""`detect new`: a scaffolded rule is refused until its placeholders are written, then validates and proves on a real
engine; it never overwrites."""

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
    refused = detect("validate", cwd=in_tmp)
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[0] == (
        "detections/suspicious_example_start.json: /description: still the placeholder 'TODO: what this rule detects "
        "and why it ...': write the rule's own description here (text starting with 'TODO:' is left by detect new "
        "for a person to write)")
    fill_placeholders(rule_file)
    assert detect("validate", cwd=in_tmp).returncode == 0


def fill_placeholders(rule_file: Path) -> None:
    """What the engineer does after `detect new`: write the text only a person can write."""
    document = json.loads(rule_file.read_text())
    document["description"] = "A process named example.exe starts: the example this scaffold detects."
    rule_file.write_text(json.dumps(document, indent=2) + "\n")


def test_a_scaffold_as_written_is_neither_exported_nor_proved(in_tmp: Path) -> None:
    assert detect("new", "Example", cwd=in_tmp).returncode == 0
    for command in (("test",), ("export", "--target", "kibana")):
        result = detect(*command, cwd=in_tmp)
        assert result.returncode != 0, command
        assert "detections/example.json: /description: still the placeholder" in result.stdout + result.stderr, command


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
        fill_placeholders(in_tmp / "detections" / f"example_{language}.json")
    result = detect("test", "--cluster-url", opensearch_node.url, "--format", "json", cwd=in_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [(proof["matches"]["expected"], proof["matches"]["actual"]) for proof in report["proofs"]] == \
        [(["match.ndjson:1"], ["match.ndjson:1"])] * 2


def test_new_names_the_file_after_the_name_transliterated(in_tmp: Path) -> None:
    result = detect("new", "Überwachung: verdächtiger Dienst", cwd=in_tmp)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "detections/uberwachung_verdachtiger_dienst.json"
    document = json.loads((in_tmp / "detections" / "uberwachung_verdachtiger_dienst.json").read_text())
    assert document["name"] == "Überwachung: verdächtiger Dienst"  # the name itself is kept as written

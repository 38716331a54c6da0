"""Data sources from the team's folder, layered on ECS, and a rule's fields from what its index patterns hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.errors import DetectError
from deployer.rules.datasource import catalog, load_data_source, use_datasources
from deployer.rules.fields import index_fields, patterns_overlap
from deployer.rules.model import Rule
from deployer.rules.semantics import rule_findings
from tests.conftest import DATASOURCES, EQL_RULE, detect

# The newcomer's rule of issue 13: ECS fields only, Elastic Defend's index, no data_source.
RUNDLL32: dict[str, Any] = {
    "rule_id": "0b9e4d52-8f3c-4a4e-9d1f-3c2a7e5b6d10", "version": 1, "name": "Rundll32 running JavaScript",
    "description": "rundll32.exe started with a javascript: command line, as mshta-style loaders do.",
    "severity": "high", "risk_score": 73, "interval": "5m", "from": "now-6m",
    "index": ["logs-endpoint.events.process-*"], "language": "eql",
    "query": 'process where process.name == "rundll32.exe" and process.command_line : "*javascript:*"',
}


@pytest.mark.parametrize(("first", "second", "overlap"), [
    ("logs-windows.*", "logs-windows.sysmon_operational-*", True),
    ("logs-windows.sysmon_operational-default", "logs-windows.sysmon_operational-*", True),
    ("winlogbeat-*", "logs-windows.sysmon_operational-*", False),
    ("logs-*", "*-sysmon", True),
    ("logs-endpoint.events.process-*", "logs-endpoint.events.*", True),
    ("logs-endpoint.events.process-*", "logs-endpoint.events.file-*", False),
    ("remote:logs-windows.*", "logs-windows.sysmon_operational-*", True),
    ("abc", "abd", False), ("a*c", "*b*", True), ("a*", "b*", False),
])
def test_index_patterns_overlap_when_some_index_matches_both(first: str, second: str, overlap: bool) -> None:
    assert patterns_overlap(first, second) is overlap
    assert patterns_overlap(second, first) is overlap


def _findings(document: dict[str, Any]) -> list[tuple[str, str]]:
    return rule_findings(Rule.from_document(Path("rule.json"), document))


def test_the_rundll32_rule_validates_with_ecs_alone(tmp_path: Path) -> None:
    """No data source reads logs-endpoint.events.*: ECS is what it holds, and process.command_line is ECS. The tool
    runs where the team has no datasources/ folder at all, and nothing of the package is touched."""
    (tmp_path / "detections").mkdir()
    (tmp_path / "detections" / "rundll32.json").write_text(json.dumps(RUNDLL32), "utf-8")
    result = detect("validate", "detections", "--datasources", "datasources", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "✓ 1 rule(s) valid in 1 file(s)\n")
    misspelt = {**RUNDLL32, "query": RUNDLL32["query"].replace("process.command_line", "process.commandline")}
    assert _findings(misspelt) == [("/query", "field 'process.commandline' is not in ECS 9.4.0")]


def test_a_pattern_a_data_source_claims_adds_its_fields() -> None:
    winlog = {**RUNDLL32, "query": 'process where winlog.event_id == "1"'}
    assert _findings({**winlog, "index": ["logs-windows.*"]}) == []  # the Sysmon data source's pattern overlaps
    assert _findings({**winlog, "index": ["winlogbeat-*"]}) == [("/query", "field 'winlog.event_id' is not in ECS 9.4.0")]
    both = _findings({**winlog, "index": ["winlogbeat-*", "logs-windows.*"], "query": 'process where winlog.evnt_id == "1"'})
    assert both == [("/query", "field 'winlog.evnt_id' is not in ECS 9.4.0 or data source windows.sysmon_operational")]


def test_a_named_data_source_is_ecs_plus_its_fields_as_before() -> None:
    document = json.loads(EQL_RULE.read_text("utf-8"))
    assert _findings(document) == []
    source = load_data_source("windows.sysmon_operational")
    assert source is not None and source.has("process.command_line") and source.has("winlog.event_id")
    # Declared types win over ECS's (ECS maps message as match_only_text).
    assert (source.field_types["message"], source.where("message")) == ("text", "data source windows.sysmon_operational")


def _folder(tmp_path: Path, **sources: dict[str, Any]) -> Path:
    folder = tmp_path / "datasources"
    folder.mkdir()
    for name, table in sources.items():
        (folder / f"{name}.json").write_text(json.dumps(table), "utf-8")
    return folder


def test_between_data_sources_the_first_pattern_gives_the_type(tmp_path: Path) -> None:
    use_datasources(_folder(tmp_path, a={"index": ["a-*"], "fields": {"x.code": {"type": "long"}}},
                            b={"index": ["b-*"], "fields": {"x.code": {"type": "keyword"}}}))
    try:
        first_a, first_b = index_fields(["a-1", "b-1"]), index_fields(["b-1", "a-1"])
        assert (first_a.field_types["x.code"], first_a.where("x.code")) == ("long", "data source a")
        assert (first_b.field_types["x.code"], first_b.where("x.code")) == ("keyword", "data source b")
        assert first_a.where("process.name") == "ECS 9.4.0"
        assert first_a.described == "ECS 9.4.0 or data sources a, b"
        assert index_fields(["-a-*", "c-*"]).described == "ECS 9.4.0"  # an exclusion claims nothing
    finally:
        use_datasources(None)


def test_the_catalog_is_read_again_when_a_file_changes(tmp_path: Path) -> None:
    folder = _folder(tmp_path, a={"index": ["a-*"], "fields": {}})
    use_datasources(folder)
    try:
        before = catalog()
        (folder / "a.json").write_text(json.dumps({"index": ["a-*"], "fields": {"y": {"type": "ip"}}}), "utf-8")
        after = catalog()
        assert before.digest != after.digest and after.named("a") is not None and after.named("a").has("y")  # type: ignore[union-attr]
    finally:
        use_datasources(None)


@pytest.mark.parametrize(("table", "message"), [
    ({"name": "b", "index": ["a-*"], "fields": {}}, "/name: 'b' is not the file's name ('a'): a data source is named by its file"),
    ({"index": "a-*", "fields": {}}, "/index: the index patterns the data source is read from, a non-empty list of strings"),
    ({"index": ["a-*"], "fields": {"x": "keyword"}}, '/fields/x: {"type": "keyword"} or another type'),
])
def test_a_malformed_data_source_is_one_line(tmp_path: Path, table: dict[str, Any], message: str) -> None:
    use_datasources(_folder(tmp_path, a=table))
    try:
        with pytest.raises(DetectError) as raised:
            catalog()
        assert str(raised.value).endswith(f"a.json: {message}")
    finally:
        use_datasources(None)


def test_the_test_index_maps_declared_fields_as_written_and_ecs_fields_used() -> None:
    source = load_data_source("windows.sysmon_operational")
    assert source is not None
    declared = source.index_mapping()
    assert declared["dynamic"] == "strict"
    assert declared["properties"]["winlog"]["properties"]["event_id"] == {"type": "keyword"}
    assert list(declared["properties"])[:4] == ["@timestamp", "message", "log", "event"]  # the file's order
    used = source.index_mapping(["process.command_line.text", "process.parent.pid"])["properties"]["process"]["properties"]
    # wildcard and match_only_text as their family: the local Elasticsearch has neither mapper
    assert used["command_line"] == {"type": "keyword", "fields": {"text": {"type": "text"}}}
    assert used["parent"] == {"properties": {"pid": {"type": "long"}}}
    assert used["pid"] == {"type": "long"}


def test_the_package_ships_no_data_source() -> None:
    package = Path(__file__).resolve().parents[2] / "deployer"
    assert not (package / "datasources").exists()
    assert DATASOURCES.is_dir()

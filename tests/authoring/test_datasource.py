"""`detect datasource pull|list|show`: pull reads a real node's field capabilities (OpenSearch and Elasticsearch) and
writes what differs from ECS or adds to it; list and show read the tests' own data sources (tests/data/datasources)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deployer.cluster.node import RunningNode
from deployer.rules.datasource import load_data_source
from tests.conftest import DATASOURCES, EQL_RULE, detect

PREFIX = "detect-pull-"
SYSMON = json.loads((DATASOURCES / "windows.sysmon_operational.json").read_text("utf-8"))


def test_list_names_each_data_source_with_its_patterns() -> None:
    result = detect("datasource", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("windows.sysmon_operational  logs-windows.sysmon_operational-*  (53 field(s) declared over "
                             f"ECS 9.4.0)  {SYSMON['description']}\n")


def test_list_of_a_folder_without_data_sources_says_rules_read_ecs(tmp_path: Path) -> None:
    result = detect("datasource", "list", "--datasources", str(tmp_path / "none"), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "no data sources in none/: rules are checked against ECS 9.4.0 "
                                                     "alone (detect datasource pull writes one)\n")


def test_show_prints_the_declared_fields_with_types_and_origins() -> None:
    result = detect("datasource", "show", "windows.sysmon_operational")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["name"], shown["index"], shown["ecs_version"]) == (
        "windows.sysmon_operational", ["logs-windows.sysmon_operational-*"], "9.4.0")
    assert shown["fields"] == SYSMON["fields"]
    assert shown["fields"]["process.executable"] == {"type": "keyword", "origin": "Image"}


def test_show_of_an_unknown_data_source_is_one_line() -> None:
    result = detect("datasource", "show", "linux.auditd")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: no data source 'linux.auditd' in datasources/ (known: windows.sysmon_operational)\n"


def test_a_broken_data_source_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "datasources").mkdir()
    (tmp_path / "datasources" / "x.json").write_text('{"index": [], "fields": {}}', "utf-8")
    result = detect("datasource", "list", "--datasources", "datasources", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, "error: datasources/x.json: /index: the index patterns the data source is read from, a non-empty list of "
           "strings\n")


@pytest.fixture(params=["opensearch", "elasticsearch"])
def node(request: pytest.FixtureRequest) -> Iterator[tuple[str, RunningNode]]:
    """Two indices as the Windows integration maps Sysmon (the tests' data source), the second with one field of
    another type, and one ECS field mapped as ECS has it (which pull leaves out)."""
    engine = request.param
    running: RunningNode = request.getfixturevalue(f"{engine}_node")
    source = load_data_source("windows.sysmon_operational")
    assert source is not None
    mapping = source.index_mapping(["process.parent.pid"])
    other = json.loads(json.dumps(mapping))
    other["properties"]["winlog"]["properties"]["version"] = {"type": "keyword"}
    with httpx.Client(base_url=running.url, timeout=60) as client:
        for name, mappings in (("a", mapping), ("b", other)):
            answer = client.put(f"/{PREFIX}{name}", json={"settings": {"number_of_replicas": 0}, "mappings": mappings})
            assert answer.status_code == 200, answer.text
        yield engine, running
        client.delete(f"/{PREFIX}*")


def test_pull_writes_what_differs_from_ecs_or_adds_to_it(node: tuple[str, RunningNode], tmp_path: Path) -> None:
    engine, running = node
    table = "opensearch" if engine == "opensearch" else 'kibana]\nurl = "http://127.0.0.1:9"\n[environments.lab.kibana.elasticsearch'
    (tmp_path / "detect.toml").write_text(f'[environments.lab.{table}]\nurl = "{running.url}"\n', "utf-8")
    result = detect("datasource", "pull", "--env", "lab", "--index", f"{PREFIX}*", "lab.sysmon",
                    "--datasources", "datasources", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    written = tmp_path / "datasources" / "lab.sysmon.json"
    pulled = json.loads(written.read_text("utf-8"))
    expected = {name: spec["type"] for name, spec in SYSMON["fields"].items()}
    from deployer.rules.ecs import ecs_field_types

    beyond_ecs = {name: kind for name, kind in expected.items() if ecs_field_types().get(name) != kind}
    # winlog.version: long in one index, keyword in the other; on a tie the first type by name.
    assert {name: spec["type"] for name, spec in pulled["fields"].items()} == {**beyond_ecs, "winlog.version": "keyword"}
    assert len(beyond_ecs) == 22 and "process.parent.pid" not in pulled["fields"]
    assert (pulled["name"], pulled["index"], pulled["ecs_version"]) == ("lab.sysmon", [f"{PREFIX}*"], "9.4.0")
    assert result.stdout == (f"wrote datasources/lab.sysmon.json: 22 field(s) that differ from or add to ECS, of "
                             f"{len(expected) + 1} mapped in 2 index(es) matching {PREFIX}* ({engine})\n"
                             "  note: winlog.version is mapped as keyword in 1, long in 1 index(es): wrote keyword\n")
    # The file is a data source: a rule reading those indices may use its fields (and ECS).
    rule = json.loads(EQL_RULE.read_text("utf-8"))
    del rule["data_source"]
    rule.update(index=[f"{PREFIX}*"], query='process where winlog.event_id == "1" and process.command_line : "*x*"')
    (tmp_path / "rule.json").write_text(json.dumps(rule), "utf-8")
    checked = detect("validate", "rule.json", "--datasources", "datasources", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = detect("datasource", "pull", "--env", "lab", "--index", f"{PREFIX}*", "lab.sysmon",
                    "--datasources", "datasources", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (2, "error: datasources/lab.sysmon.json exists: rerun with --force to "
                                                   "replace it\n")


def test_pull_of_a_pattern_no_index_matches_is_one_line(opensearch_node: RunningNode, tmp_path: Path) -> None:
    (tmp_path / "detect.toml").write_text(f'[environments.lab.opensearch]\nurl = "{opensearch_node.url}"\n', "utf-8")
    result = detect("datasource", "pull", "--env", "lab", "--index", "detect-nothing-here-*", "x",
                    "--datasources", "datasources", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, "error: no index matches detect-nothing-here-* on lab's opensearch cluster: there are no fields to read\n")
    assert not (tmp_path / "datasources").exists()


@pytest.mark.parametrize("answer", [
    {"indices": ["a"], "fields": {"x": {"keyword": {"indices": 5}}}},
    {"indices": ["a"], "fields": {"x": {"keyword": {"indices": None}}, "y": "text", "z": {"long": []}}},
    {"indices": ["a", "b"], "fields": {"x": {"keyword": {"indices": ["a"]}, "long": {"indices": "b"}}}},
])
def test_an_odd_field_caps_answer_is_read_not_crashed(answer: dict[str, object]) -> None:
    from deployer.authoring.datasource import _field_types

    indices, types, _ = _field_types(answer)
    assert indices == answer["indices"] and "x" in types

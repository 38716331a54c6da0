"""OpenSearch Alerting monitors: golden files and the parts the issue names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deployer.dialects.eql_to_dsl import translate_eql
from deployer.errors import UnsupportedByTarget
from deployer.rules.model import Rule
from deployer.targets import opensearch
from tests.conftest import DSL_RULE, EQL_RULE, mutated
from tests.targets.golden import assert_golden


@pytest.mark.parametrize("path", [DSL_RULE, EQL_RULE], ids=["dsl", "eql"])
def test_monitor_matches_golden(path: Path, dsl_document: dict[str, Any], eql_document: dict[str, Any]) -> None:
    document = dsl_document if path == DSL_RULE else eql_document
    assert_golden(f"{path.stem}.opensearch.json", opensearch.compile_rule(Rule.from_document(path, document)))


def test_bucket_monitor_shape(dsl_document: dict[str, Any]) -> None:
    monitor = opensearch.compile_rule(Rule.from_document(DSL_RULE, dsl_document))
    assert monitor["monitor_type"] == "bucket_level_monitor"
    assert monitor["schedule"] == {"period": {"interval": 1, "unit": "HOURS"}}
    search = monitor["inputs"][0]["search"]
    assert search["indices"] == ["logs-windows.sysmon_operational-*"]
    window, query = search["query"]["query"]["bool"]["filter"]
    assert window == {"range": {"@timestamp": {"gte": "{{period_end}}||-70m", "lt": "{{period_end}}||-10m",
                                               "format": "epoch_millis"}}}
    assert query == dsl_document["query"]
    sources = search["query"]["aggregations"]["groups"]["composite"]["sources"]
    assert [next(iter(source)) for source in sources] == dsl_document["group_by"]
    trigger = monitor["triggers"][0]["bucket_level_trigger"]
    assert trigger["severity"] == "2" and trigger["condition"]["parent_bucket_path"] == "groups"
    assert monitor["ui_metadata"]["detect"]["rule_id"] == dsl_document["rule_id"]


def test_eql_rule_runs_as_translated_dsl(eql_document: dict[str, Any]) -> None:
    monitor = opensearch.compile_rule(Rule.from_document(EQL_RULE, eql_document))
    query = monitor["inputs"][0]["search"]["query"]["query"]["bool"]["filter"][1]
    assert query == translate_eql(eql_document["query"])


def test_window_up_to_now_and_exclusions(dsl_document: dict[str, Any]) -> None:
    document = mutated(dsl_document, lambda d: d.update(
        to="now", exclusions=[{"field": "host.name", "values": ["LAB-01"], "reason": "lab"}]))
    search_query = opensearch.compile_rule(Rule.from_document(DSL_RULE, document))["inputs"][0]["search"]["query"]["query"]
    assert search_query["bool"]["filter"][0]["range"]["@timestamp"]["lt"] == "{{period_end}}"
    assert search_query["bool"]["must_not"] == [{"terms": {"host.name": ["LAB-01"]}}]


def test_eql_sequence_is_refused(eql_document: dict[str, Any]) -> None:
    document = mutated(eql_document, lambda d: d.__setitem__(
        "query", "sequence by host.name [file where event.code == \"17\"] [file where event.code == \"18\"]"))
    with pytest.raises(UnsupportedByTarget, match="sequence"):
        opensearch.compile_rule(Rule.from_document(EQL_RULE, document))

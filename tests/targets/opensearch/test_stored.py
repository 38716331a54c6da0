"""The comparable form of monitors against Alerting's own parser: what Alerting stores (common-utils Monitor.parse,
written back with toXContent, as a monitor _search answers it) compares equal to what detect compiled, and any
change a person makes in OpenSearch Dashboards shows as drift."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from deployer.dialects.eql_to_dsl import translate_eql
from deployer.environments import Credentials, TargetSettings, Tls
from deployer.rules.model import Rule, payload_hash
from deployer.targets.opensearch import OpenSearchTarget, compile_rule, desired_rule
from deployer.targets.opensearch.stored import comparable
from tests.conftest import DSL_RULE, EQL_RULE

# EQL whose translations use every clause form the translator emits: term, terms, wildcard, regexp, prefix-like
# wildcards, exists, range, bool with must_not and should.
EQL_QUERIES = (
    'process where process.name : "cmd.exe" and process.pid > 4 and process.pid <= 9000',
    'file where file.name like~ ("*.ps1", "*.vbs") and not file.path : "C:\\\\Windows\\\\*"',
    'process where process.executable regex~ ".*\\\\\\\\rundll32\\\\.exe" and process.parent.name != null',
    'process where process.name in ("a.exe", "b.exe") or process.args == "-enc"',
    'network where destination.port >= 1024 and destination.port < 65536 and not destination.ip == "127.0.0.1"',
)


def _rules() -> list[Rule]:
    from deployer.rules.ruleset import validate_paths

    rules = validate_paths([DSL_RULE, EQL_RULE]).rules
    assert len(rules) == 2
    eql = rules[1]
    variants = []
    for number, query in enumerate(EQL_QUERIES):
        try:
            translate_eql(query)
        except Exception as error:  # the translator's own refusals are tested elsewhere; the set must still be broad
            pytest.fail(f"{query}: {error}")
        variants.append(Rule.from_document(eql.path, {**eql.document, "query": query, "rule_id": f"variant-{number}"}))
    return rules + variants


@pytest.fixture(scope="module")
def stored() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    from tests.support.alerting.contract import parse_monitors

    monitors = [compile_rule(rule) for rule in _rules()]
    results = parse_monitors(monitors)
    assert all(result.ok for result in results), [result.message for result in results]
    return [(monitor, result.reserialized or {}) for monitor, result in zip(monitors, results, strict=True)]


def test_what_alerting_stores_compares_equal_to_what_detect_sent(stored: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    for sent, held in stored:
        assert held != sent  # Alerting really spells it differently: the comparison has work to do
        assert comparable(held) == comparable(sent), sent["name"]
        assert payload_hash(comparable(held)) == sent["ui_metadata"]["detect"]["payload_hash"]


DASHBOARDS_EDITS = {
    "disabled": lambda monitor: monitor.update(enabled=not monitor["enabled"]),
    "interval": lambda monitor: monitor["schedule"]["period"].update(interval=5),
    "index": lambda monitor: monitor["inputs"][0]["search"].update(indices=["logs-*"]),
    "query clause removed": lambda monitor: monitor["inputs"][0]["search"]["query"]["query"]["bool"]["filter"].pop(),
    "severity": lambda monitor: monitor["triggers"][0]["bucket_level_trigger"].update(severity="5"),
    "action added": lambda monitor: monitor["triggers"][0]["bucket_level_trigger"]["actions"].append(
        {"name": "page SOC", "destination_id": "x", "subject_template": {"source": "s"}, "message_template": {"source": "m"}}),
}


@pytest.mark.parametrize("edit", sorted(DASHBOARDS_EDITS))
def test_an_edit_in_dashboards_is_drift(stored: list[tuple[dict[str, Any], dict[str, Any]]], edit: str) -> None:
    _sent, held = stored[0]
    edited = copy.deepcopy(held)
    DASHBOARDS_EDITS[edit](edited)
    [deployed] = _read([edited]).values()
    assert deployed.managed and deployed.drifted


def _read(monitors: list[dict[str, Any]]) -> dict[str, Any]:
    """The target's read of a monitor _search answer holding these stored monitors."""
    answer = {"hits": {"total": {"value": len(monitors)}, "hits": [
        {"_index": ".opendistro-alerting-config", "_id": f"monitor-{number}", "_source": {"monitor": monitor}}
        for number, monitor in enumerate(monitors)]}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    settings = TargetSettings("opensearch", "http://127.0.0.1:9", Credentials(), Tls())
    target = OpenSearchTarget(settings, transport=transport)
    try:
        return target.read_deployed()
    finally:
        target.close()


def test_stored_monitors_read_back_unchanged_and_a_lost_marker_is_still_detects(
        stored: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    deployed = _read([held for _sent, held in stored])
    assert sorted(deployed) == sorted(sent["ui_metadata"]["detect"]["rule_id"] for sent, _held in stored)
    assert not any(item.drifted for item in deployed.values())
    # Dashboards rewrites ui_metadata with its editor state when someone saves the monitor there.
    sent, held = stored[0]
    rewritten = {**held, "ui_metadata": {"schedule": {"frequency": "interval"}, "search": {"searchType": "query"}}}
    [lost] = _read([rewritten]).values()
    assert lost.rule_id == sent["ui_metadata"]["detect"]["rule_id"] and lost.marker_lost and lost.drifted


def test_a_rule_planned_against_its_stored_monitor_is_unchanged(stored: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    from deployer.deploy.plan import PlanOptions, plan_target
    from deployer.targets.base import Action

    rules = _rules()
    deployed = _read([held for _sent, held in stored])
    entries = plan_target("opensearch", [desired_rule(rule) for rule in rules], deployed, PlanOptions())
    assert {entry.action for entry in entries} == {Action.unchanged}, [(e.rule_id, e.reason) for e in entries]
    assert json.dumps([entry.rule_id for entry in entries]) == json.dumps([rule.rule_id for rule in rules])

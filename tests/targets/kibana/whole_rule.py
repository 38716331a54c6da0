"""Test helpers for the whole Kibana rule: a rule document spelling every Kibana field detect holds, the corpus's
eql and query DSL rules, and the comparison that says whether a payload gives back what a source rule had."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from deployer.targets.kibana import KIBANA_DEFAULTS, MANAGED_TAG, SERVER_FIELDS

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus" / "elastic-prebuilt-sample.ndjson"

# Every Kibana field of both rule types, beside the ones the Qakbot rules already spell, at values that are not
# Kibana's defaults.
KIBANA_FIELDS: dict[str, Any] = {
    "max_signals": 250,
    "timestamp_override": "event.ingested",
    "timestamp_override_fallback_disabled": True,
    "investigation_fields": {"field_names": ["host.name", "user.name", "process.executable", "file.name"]},
    "building_block_type": "default",
    "timeline_id": "e70679c2-6cde-4510-9764-4823df18f7db",
    "timeline_title": "Comprehensive Process Timeline",
    "severity_mapping": [{"field": "event.code", "operator": "equals", "value": "17", "severity": "critical"}],
    "risk_score_mapping": [{"field": "event.risk_score", "operator": "equals", "value": ""},
                           {"field": "event.severity", "operator": "equals", "value": "", "risk_score": 80}],
    "rule_name_override": "process.executable",
    "exceptions_list": [{"id": "5b7a4c1e-0000-4000-8000-000000000001", "list_id": "qakbot-lab-hosts",
                         "type": "detection", "namespace_type": "single"}],
    "related_integrations": [{"package": "windows", "version": "^3.0.0"},
                             {"package": "azure", "version": "~1.1.6", "integration": "activitylogs"}],
    "required_fields": [{"name": "event.code", "type": "keyword"}, {"name": "file.name", "type": "keyword"}],
    "meta": {"owner": "soc-team", "ticket": {"id": 4711}},
    "namespace": "lab",
    "output_index": ".alerts-security.alerts-lab",
    "actions": [{"action_type_id": ".slack", "id": "c0a7e2f4-0000-4000-8000-00000000000a", "group": "default",
                 "params": {"message": "Rule {{context.rule.name}} alerted"},
                 "frequency": {"summary": True, "notifyWhen": "onThrottleInterval", "throttle": "1h"}}],
    "throttle": "no_actions",
    "response_actions": [{"action_type_id": ".osquery", "params": {"query": "select * from processes", "timeout": 60}}],
}
EQL_ONLY_FIELDS: dict[str, Any] = {"event_category_override": "event.type", "tiebreaker_field": "event.sequence",
                                   "timestamp_field": "event.created"}
SUPPRESSION = {"duration": {"value": 6, "unit": "h"}, "missing_fields_strategy": "suppress"}


def with_every_field(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (a Qakbot rule) spelling every Kibana field its language has."""
    whole = {**copy.deepcopy(document), **copy.deepcopy(KIBANA_FIELDS)}
    if whole["language"] == "eql":
        whole.update(copy.deepcopy(EQL_ONLY_FIELDS))
    whole["alert_suppression"] = {**whole["alert_suppression"], **copy.deepcopy(SUPPRESSION)}
    return whole


def corpus_rules() -> list[dict[str, Any]]:
    """The sample's eql rules and query rules written in query DSL (an empty query and the DSL as filter)."""
    if not CORPUS.is_file():
        pytest.skip(f"no corpus at {CORPUS}: the shared rule samples are not here")
    rules = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]
    return [rule for rule in rules
            if rule["type"] == "eql" or (rule["type"] == "query" and not str(rule.get("query") or "").strip())]


# What Kibana holds for a field a rule leaves out (its create defaults), beside the filler values of KIBANA_DEFAULTS.
_CREATE_DEFAULTS = {"interval": "5m", "from": "now-6m", "enabled": False}
_SUPPRESSION_DEFAULTS = {"missing_fields_strategy": "suppress"}


def as_kibana_runs_it(rule: dict[str, Any], *, derived_required_fields: bool = False) -> dict[str, Any]:
    """A Kibana rule reduced to what Kibana holds from it, in a form two rules compare equal in exactly when they are
    the same rule: defaults as Kibana fills them, server bookkeeping and Kibana's `ecs` flags gone, and the parts
    that are detect's own (its tag, its meta key and, when `derived_required_fields`, the required fields detect
    listed from a data source because the rule declared none) left out."""
    held: dict[str, Any] = {**KIBANA_DEFAULTS, **_CREATE_DEFAULTS, **copy.deepcopy(rule)}
    for key in SERVER_FIELDS:
        held.pop(key, None)
    held["tags"] = [tag for tag in held["tags"] if tag != MANAGED_TAG]
    held["meta"] = {key: value for key, value in (held.get("meta") or {}).items()
                    if key not in ("detect", "kibana_siem_app_url")}
    held["required_fields"] = [] if derived_required_fields else \
        [{key: value for key, value in item.items() if key != "ecs"} for item in held["required_fields"]]
    if "alert_suppression" in held:
        held["alert_suppression"] = {**_SUPPRESSION_DEFAULTS, **held["alert_suppression"]}
    return held

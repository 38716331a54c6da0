"""OpenSearch Alerting: a Rule becomes a bucket-level monitor, one alert per group of matching events."""

from __future__ import annotations

import copy
from typing import Any

from deployer.rules.model import JSON, Duration, Rule, payload_hash
from deployer.targets.base import Desired
from deployer.targets.opensearch.stored import comparable

# Alerting severities run from 1 (highest) to 5.
SEVERITY = {"critical": "1", "high": "2", "medium": "3", "low": "4"}
_UNITS = {"m": "MINUTES", "h": "HOURS", "d": "DAYS"}
GROUPS_AGGREGATION = "groups"
# Page size of the composite aggregation; Alerting pages through every group, this only bounds one response.
_GROUPS_PAGE = 500


def compile_rule(rule: Rule) -> JSON:
    """The body of a create/update monitor request for `rule`, pure: the same rule gives the same payload."""
    query = _rule_query(rule)
    window = {"gte": f"{{{{period_end}}}}||-{rule.schedule.lookback_start}",
              "lt": _window_end(rule.schedule.lookback_end), "format": "epoch_millis"}
    search_query: JSON = {"bool": {"filter": [{"range": {"@timestamp": window}}, query]}}
    if rule.exclusions:
        search_query["bool"]["must_not"] = [{"terms": {item.field: list(item.values)}} for item in rule.exclusions]
    group_by = rule.group_by or ("host.name",)
    monitor: JSON = {
        "type": "monitor",
        "monitor_type": "bucket_level_monitor",
        "name": rule.name,
        "enabled": rule.enabled,
        "schedule": {"period": {"interval": rule.schedule.interval.amount, "unit": _UNITS[rule.schedule.interval.unit]}},
        "inputs": [{"search": {"indices": list(rule.index), "query": {
            "size": 0,
            "query": search_query,
            "aggregations": {GROUPS_AGGREGATION: {
                # missing_bucket: an event lacking a group field still alerts (Splunk's stats would drop it).
                "composite": {"size": _GROUPS_PAGE, "sources": [
                    {field: {"terms": {"field": field, "missing_bucket": True}}} for field in group_by]},
                "aggregations": {"first_time": {"min": {"field": "@timestamp"}},
                                 "last_time": {"max": {"field": "@timestamp"}}},
            }},
        }}}],
        "triggers": [{"bucket_level_trigger": {
            "id": rule.rule_id,
            "name": rule.name,
            "severity": SEVERITY[rule.severity],
            "condition": {"buckets_path": {"count": "_count"}, "parent_bucket_path": GROUPS_AGGREGATION,
                          "script": {"source": "params.count > 0", "lang": "painless"}},
            "actions": [],
        }}],
        "ui_metadata": {"detect": _marker(rule)},
    }
    monitor["ui_metadata"]["detect"]["payload_hash"] = payload_hash(comparable(monitor))
    return monitor


def _window_end(end: Duration | None) -> str:
    return "{{period_end}}" if end is None else f"{{{{period_end}}}}||-{end}"


def _marker(rule: Rule) -> JSON:
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash,
                    "data_source": rule.data_source, "risk_score": rule.risk_score, "severity": rule.severity, "tags": list(rule.tags)}
    if rule.data_source is None:
        del marker["data_source"]  # its fields are what its index patterns hold
    if rule.risk_message:
        marker["risk_message"] = rule.risk_message
    return marker


def _rule_query(rule: Rule) -> Any:
    if rule.language == "dsl":
        return copy.deepcopy(rule.dsl)
    from deployer.dialects.eql_to_dsl import translate_eql

    return translate_eql(rule.eql, rule.event_category_override or "event.category")


def desired_rule(rule: Rule) -> Desired:
    monitor = compile_rule(rule)
    return Desired(rule, monitor, monitor["ui_metadata"]["detect"]["payload_hash"], comparable(monitor))



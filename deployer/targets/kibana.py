"""Kibana's detection engine (Elastic Security): a Rule becomes a rule of its API (2023-10-31)."""

from __future__ import annotations

import copy
from typing import Any

from deployer.datasource import load_data_source
from deployer.dialects.dsl import scan_dsl
from deployer.dialects.eql import parse_eql
from deployer.model import JSON, Rule

API_VERSION = "2023-10-31"
# Rule fields whose meaning and name are the same in detect and in Kibana: copied as they are.
_SAME_FIELDS = ("name", "description", "risk_score", "severity", "interval", "from", "to", "author", "license",
                "references", "false_positives", "threat", "note", "setup", "max_signals")


def compile_rule(rule: Rule) -> JSON:
    """The body of a create/update request for `rule`, pure: the same rule gives the same payload."""
    payload: JSON = {"rule_id": rule.rule_id, "version": rule.version}
    payload.update({key: copy.deepcopy(rule.document[key]) for key in _SAME_FIELDS if key in rule.document})
    payload.update(enabled=rule.enabled, tags=list(rule.tags), index=list(rule.index))
    exclusion_filters = [_exclusion_filter(exclusion.field, list(exclusion.values)) for exclusion in rule.exclusions]
    if rule.language == "eql":
        payload.update(type="eql", language="eql", query=rule.eql)
        if exclusion_filters:
            payload["filters"] = exclusion_filters
    else:
        # Kibana's query rules take query DSL as filters; the KQL query stays empty (match all).
        payload.update(type="query", language="kuery", query="",
                       filters=[_dsl_filter(copy.deepcopy(rule.dsl), rule.name), *exclusion_filters])
    if rule.group_by:
        payload["investigation_fields"] = {"field_names": list(rule.group_by)}
        # No duration: alerts are suppressed within one run, like the seed's per-run `stats ... by`.
        payload["alert_suppression"] = {"group_by": list(rule.suppress_by), "missing_fields_strategy": "doNotSuppress"}
    required = _required_fields(rule)
    if required:
        payload["required_fields"] = required
    payload["meta"] = {"detect": _marker(rule)}
    return payload


def _marker(rule: Rule) -> JSON:
    """What detect needs to recognise its own rules and see whether they changed, stored in the rule's `meta`."""
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash}
    if rule.risk_message:
        marker["risk_message"] = rule.risk_message
    return marker


def _dsl_filter(query: JSON, name: str) -> JSON:
    return {"meta": {"type": "custom", "alias": name, "negate": False, "disabled": False}, "query": query}


def _exclusion_filter(field: str, values: list[Any]) -> JSON:
    return {"meta": {"type": "custom", "alias": f"exclusion: {field}", "negate": True, "disabled": False},
            "query": {"terms": {field: values}}}


def _required_fields(rule: Rule) -> list[JSON]:
    source = load_data_source(rule.data_source)
    if source is None:
        return []
    uses = parse_eql(rule.eql).uses if rule.language == "eql" else scan_dsl(rule.dsl).uses
    fields = [use.field for use in uses]
    names = dict.fromkeys([*fields, *rule.group_by])  # ordered, unique
    return [{"name": name, "type": source.field_types[name]} for name in names if source.has(name)]

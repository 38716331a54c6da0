"""Kibana's detection engine: a Rule becomes a rule of its API (2023-10-31), and any Kibana rule its comparable form."""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

from deployer.dialects.dsl import scan_dsl
from deployer.dialects.eql import parse_eql
from deployer.rules.fields import rule_fields
from deployer.rules.model import DEFAULT_MAX_SIGNALS, JSON, Exclusion, Rule, payload_hash
from deployer.targets.base import Desired

API_VERSION = "2023-10-31"
# Marks the rules detect manages, so reads find them and --prune never touches anyone else's.
MANAGED_TAG = "Managed: detect"
EXCLUSION_ALIAS = "exclusion: "
# Rule fields whose meaning and name are the same in detect and in Kibana: copied as they are.
SAME_FIELDS = ("name", "description", "risk_score", "severity", "interval", "from", "to", "author", "license",
                "references", "false_positives", "threat", "note", "setup", "max_signals")
# Kibana's EQL rules only (its query rules have no such field).
EQL_FIELDS = ("event_category_override", "tiebreaker_field", "timestamp_field")
# Kibana fields detect holds under Kibana's name, after the query, in this order; None for those the rule leaves out.
KIBANA_FIELDS = ("timestamp_override", "timestamp_override_fallback_disabled", "severity_mapping", "risk_score_mapping",
                 "rule_name_override", "building_block_type", "timeline_id", "timeline_title", "exceptions_list",
                 "related_integrations", "actions", "throttle", "response_actions", "namespace", "output_index")


def compile_rule(rule: Rule) -> JSON:
    """The body of a create/update request for `rule`, pure: the same rule gives the same payload."""
    payload: JSON = {"rule_id": rule.rule_id, "version": rule.version}
    payload.update({key: value for key, value in _same_fields(rule).items() if value is not None})
    payload.update(enabled=rule.enabled, tags=[*rule.tags, MANAGED_TAG], index=list(rule.index))
    exclusion_filters = [_exclusion_filter(exclusion) for exclusion in rule.exclusions]
    if rule.language == "eql":
        payload.update(type="eql", language="eql", query=rule.eql)
        if exclusion_filters:
            payload["filters"] = exclusion_filters
        payload.update({key: getattr(rule, key) for key in EQL_FIELDS if getattr(rule, key) is not None})
    else:
        # Kibana's query rules take query DSL as filters; the KQL query stays empty (match all).
        payload.update(type="query", language="kuery", query="",
                       filters=[_dsl_filter(copy.deepcopy(rule.dsl), rule.name), *exclusion_filters])
    if rule.investigation_fields is not None:
        payload["investigation_fields"] = {"field_names": list(rule.investigation_fields)}
    if rule.group_by:
        payload["alert_suppression"] = _suppression(rule)
    payload.update({key: value for key, value in _kibana_fields(rule).items() if value is not None})
    # The fields the rule declares, else those of its data source that the query and group_by read.
    required = [asdict(item) for item in rule.required_fields] if rule.required_fields is not None else _required_fields(rule)
    if required or rule.required_fields is not None:
        payload["required_fields"] = required
    marker = _marker(rule)
    payload["meta"] = {**copy.deepcopy(rule.meta or {}), "detect": marker}
    marker["payload_hash"] = payload_hash(comparable(payload))
    return payload


def _same_fields(rule: Rule) -> dict[str, Any]:
    """The SAME_FIELDS of `rule`, in that order, as JSON; None for those the rule leaves out."""
    def listed(values: tuple[Any, ...] | None) -> list[Any] | None:
        return None if values is None else copy.deepcopy(list(values))

    schedule = rule.schedule
    values: dict[str, Any] = {
        "name": rule.name, "description": rule.description, "risk_score": rule.risk_score, "severity": rule.severity,
        "interval": str(schedule.interval), "from": schedule.start_text,
        "to": schedule.end_text if schedule.end_written or schedule.lookback_end else None,
        "author": listed(rule.author), "license": rule.license, "references": listed(rule.references),
        "false_positives": listed(rule.false_positives), "threat": listed(rule.threat), "note": rule.note,
        "setup": rule.setup,
        "max_signals": rule.max_signals if rule.max_signals_written or rule.max_signals != DEFAULT_MAX_SIGNALS else None,
    }
    return {key: values[key] for key in SAME_FIELDS}


def _suppression(rule: Rule) -> JSON:
    # Without a duration alerts are suppressed within one run, like the seed's per-run `stats ... by`.
    suppression: JSON = {"group_by": list(rule.suppress_by)}
    if rule.suppression_duration is not None:
        suppression["duration"] = {"value": rule.suppression_duration.amount, "unit": rule.suppression_duration.unit}
    suppression["missing_fields_strategy"] = rule.missing_fields_strategy
    return suppression


def _kibana_fields(rule: Rule) -> dict[str, Any]:
    """The KIBANA_FIELDS of `rule`, in that order, as JSON; None for those the rule leaves out."""
    def objects(items: tuple[Any, ...] | None) -> list[JSON] | None:
        if items is None:
            return None
        return [{key: value for key, value in asdict(item).items() if value is not None} for item in items]

    values: dict[str, Any] = {
        "timestamp_override": rule.timestamp_override,
        "timestamp_override_fallback_disabled": rule.timestamp_override_fallback_disabled,
        "severity_mapping": objects(rule.severity_mapping), "risk_score_mapping": objects(rule.risk_score_mapping),
        "rule_name_override": rule.rule_name_override, "building_block_type": rule.building_block_type,
        "timeline_id": rule.timeline_id, "timeline_title": rule.timeline_title,
        "exceptions_list": objects(rule.exceptions_list), "related_integrations": objects(rule.related_integrations),
        "actions": None if rule.actions is None else copy.deepcopy(list(rule.actions)), "throttle": rule.throttle,
        "response_actions": None if rule.response_actions is None else copy.deepcopy(list(rule.response_actions)),
        "namespace": rule.namespace, "output_index": rule.output_index,
    }
    return {key: values[key] for key in KIBANA_FIELDS}


def _marker(rule: Rule) -> JSON:
    """What detect needs to recognise its own rules, see whether they changed and import them back (fields
    Kibana has no place for), stored in the rule's `meta`."""
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash}
    if rule.data_source is not None:
        marker["data_source"] = rule.data_source
    if rule.risk_message:
        marker["risk_message"] = rule.risk_message
    if rule.group_by and rule.group_by != rule.suppress_by:
        # Kibana suppresses on at most three fields; detect's grouping (OpenSearch's buckets) may name more.
        marker["group_by"] = list(rule.group_by)
    if rule.required_fields is not None:
        marker["declared_required_fields"] = True  # else import leaves out the ones detect derived
    return marker


def _dsl_filter(query: JSON, name: str) -> JSON:
    return {"meta": {"type": "custom", "alias": name, "negate": False, "disabled": False}, "query": query}


def _exclusion_filter(exclusion: Exclusion) -> JSON:
    # The alias is the label analysts see on the filter pill; it carries the reason so the rule reads back whole.
    return {"meta": {"type": "custom", "alias": f"{EXCLUSION_ALIAS}{exclusion.field}: {exclusion.reason}", "negate": True,
                     "disabled": False},
            "query": {"terms": {exclusion.field: list(exclusion.values)}}}


def _required_fields(rule: Rule) -> list[JSON]:
    source = rule_fields(rule)
    if source is None:
        return []
    uses = parse_eql(rule.eql).uses if rule.language == "eql" else scan_dsl(rule.dsl).uses
    fields = [use.field for use in uses]
    names = dict.fromkeys([*fields, *rule.group_by])  # ordered, unique
    return [{"name": name, "type": source.field_types[name]} for name in names if source.has(name)]


# --- what Kibana holds, as comparable to what detect sends ----------------------------------------------

# Kibana's own bookkeeping in every rule it answers with (ResponseFields in its API description), plus the saved
# object resolution fields: never part of what detect deploys.
SERVER_FIELDS = frozenset({"id", "created_at", "created_by", "updated_at", "updated_by", "revision", "immutable",
                           "rule_source", "execution_summary", "outcome", "alias_target_id", "alias_purpose"})
# Values Kibana fills in for fields a create request leaves out (required in its rule responses): a rule holding
# them says nothing more than one without them.
KIBANA_DEFAULTS: dict[str, Any] = {
    "actions": [], "exceptions_list": [], "author": [], "false_positives": [], "references": [], "risk_score_mapping": [],
    "severity_mapping": [], "threat": [], "setup": "", "related_integrations": [], "required_fields": [], "max_signals": 100,
    "to": "now", "filters": [], "output_index": "", "tags": [], "note": "", "response_actions": [],
}


def comparable(rule: JSON) -> JSON:
    """A Kibana rule (a payload detect sends, or one Kibana answers with) reduced to what the rule does: server
    fields and defaults dropped, `ecs` flags of required fields and detect's own payload hash removed. Two rules
    compare equal here exactly when Kibana would run them the same way."""
    reduced: JSON = {key: copy.deepcopy(value) for key, value in rule.items()
                     if key not in SERVER_FIELDS and value is not None and KIBANA_DEFAULTS.get(key, _UNSET) != value}
    if isinstance(reduced.get("required_fields"), list):
        reduced["required_fields"] = [{key: value for key, value in item.items() if key != "ecs"} if isinstance(item, dict) else item
                                      for item in reduced["required_fields"]]
    meta = reduced.get("meta")
    if isinstance(meta, dict):
        meta.pop("kibana_siem_app_url", None)  # a link the UI writes into the rule it saves, not a change of the rule
        marker = meta.get("detect")
        if isinstance(marker, dict):
            marker.pop("payload_hash", None)
        if not meta:
            del reduced["meta"]
    return reduced


_UNSET = object()


def desired_rule(rule: Rule) -> Desired:
    payload = compile_rule(rule)
    return Desired(rule, payload, payload["meta"]["detect"]["payload_hash"], comparable(payload))

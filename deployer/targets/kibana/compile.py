"""Kibana's detection engine: a Rule becomes a rule of its API (2023-10-31), and any Kibana rule its comparable form."""

from __future__ import annotations

import copy
from typing import Any

from deployer.dialects.dsl import scan_dsl
from deployer.dialects.eql import parse_eql
from deployer.rules.fields import rule_fields
from deployer.rules.model import JSON, Exclusion, Rule, payload_hash
from deployer.targets.base import Desired

API_VERSION = "2023-10-31"
# Marks the rules detect manages, so reads find them and --prune never touches anyone else's.
MANAGED_TAG = "Managed: detect"
EXCLUSION_ALIAS = "exclusion: "
# Rule fields whose meaning and name are the same in detect and in Kibana: copied as they are.
SAME_FIELDS = ("name", "description", "risk_score", "severity", "interval", "from", "to", "author", "license",
                "references", "false_positives", "threat", "note", "setup", "max_signals")


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
    marker = _marker(rule)
    payload["meta"] = {"detect": marker}
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
        "setup": rule.setup, "max_signals": rule.max_signals,
    }
    return {key: values[key] for key in SAME_FIELDS}


def _marker(rule: Rule) -> JSON:
    """What detect needs to recognise its own rules, see whether they changed and import them back (fields
    Kibana has no place for), stored in the rule's `meta`."""
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash}
    if rule.data_source is not None:
        marker["data_source"] = rule.data_source
    if rule.risk_message:
        marker["risk_message"] = rule.risk_message
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

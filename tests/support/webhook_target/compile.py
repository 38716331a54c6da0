"""A Rule as the webhook's payload, and any payload (sent or stored) reduced to what it says, for the plan."""

from __future__ import annotations

import copy
from typing import Any

from deployer.rules.model import JSON, Rule, payload_hash
from deployer.targets.base import Desired

# What the receiver adds to every payload it stores: never part of what detect sends.
SERVER_FIELDS = frozenset({"id", "received_at"})
MARKER = "detect"  # the key of detect's marker in a payload: rule_id, version, hashes


def compile_rule(rule: Rule) -> JSON:
    """The body of the PUT for `rule`, pure; its marker holds the hash of its comparable form."""
    payload: JSON = {
        "rule_id": rule.rule_id, "name": rule.name, "severity": rule.severity, "risk_score": rule.risk_score,
        "enabled": rule.enabled, "interval": str(rule.schedule.interval), "index": list(rule.index),
        "language": rule.language, "query": copy.deepcopy(rule.query),
        "exclusions": [{"field": exclusion.field, "values": list(exclusion.values)} for exclusion in rule.exclusions],
        MARKER: {"version": rule.version, "content_hash": rule.content_hash},
    }
    payload[MARKER]["payload_hash"] = payload_hash(comparable(payload))
    return payload


def comparable(payload: Any) -> JSON:
    """The payload without the receiver's fields and without detect's own payload hash."""
    reduced: JSON = {key: copy.deepcopy(value) for key, value in payload.items() if key not in SERVER_FIELDS}
    marker = reduced.get(MARKER)
    if isinstance(marker, dict):
        marker.pop("payload_hash", None)
    return reduced


def desired_rule(rule: Rule) -> Desired:
    payload = compile_rule(rule)
    return Desired(rule, payload, payload[MARKER]["payload_hash"], comparable(payload))

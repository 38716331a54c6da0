"""Reading Kibana rules back into rule documents (`detect import`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from deployer.errors import DetectError, InvalidRules, Problem, UnsupportedByTarget, display_path
from deployer.rules.files import read_bounded
from deployer.rules.model import DEFAULT_MISSING_FIELDS_STRATEGY, JSON, content_hash
from deployer.targets.kibana.compile import (
    EQL_FIELDS,
    EXCLUSION_ALIAS,
    KIBANA_DEFAULTS,
    KIBANA_FIELDS,
    MANAGED_TAG,
    SAME_FIELDS,
    SERVER_FIELDS,
)
from deployer.targets.kibana.kinds import held_kind

# The order fields take in a rule file written by `detect import`, as in the hand-written ones.
_DOCUMENT_ORDER = ("rule_id", "name", "version", "description", "severity", "risk_score", "enabled", "interval", "from",
                   "to", "timestamp_override", "timestamp_override_fallback_disabled", "index", "data_source", "language",
                   "query", "event_category_override", "tiebreaker_field", "timestamp_field", "group_by",
                   "alert_suppression", "risk_message", "investigation_fields", "exclusions", "tags", "author", "license",
                   "references", "false_positives", "threat", "note", "setup", "max_signals", "severity_mapping",
                   "risk_score_mapping", "rule_name_override", "building_block_type", "timeline_id", "timeline_title",
                   "exceptions_list", "related_integrations", "required_fields", "actions", "throttle", "response_actions",
                   "namespace", "output_index", "meta")
# Kibana's export ends with a summary line; exception lists and connectors may ride along. None of them is a rule.
_NOT_RULES = ("exported_count", "exported_rules_count", "exception_list_id", "list_id")
_MAX_EXPORT_BYTES = 200 * 1024 * 1024
# What Kibana answers for a field nobody set: an imported file leaves such a field out rather than spell it empty.
_FILLERS = {key: value for key, value in KIBANA_DEFAULTS.items() if value in ([], "")}
# The fields of Kibana's eql and query rules (EqlRuleCreateProps, QueryRuleCreateProps) that the branches below read;
# any other key is noted as dropped.
_READ = frozenset({"rule_id", "version", "type", "language", "query", "enabled", "index", "filters", "tags", "meta",
                   "investigation_fields", "alert_suppression", "required_fields", "data_view_id", "saved_id",
                   *SAME_FIELDS, *EQL_FIELDS, *KIBANA_FIELDS})
# Kibana's value for missing_fields_strategy when a rule leaves it out (detect's default is the other one).
_KIBANA_MISSING_FIELDS_STRATEGY = "suppress"


def decompile_rule(payload: JSON) -> tuple[JSON, list[str]]:
    """A rule document (without `$schema`) from a Kibana rule as `_export` or `compile_rule` gives it, and notes on
    what was dropped. Raises UnsupportedByTarget (pointer into the Kibana rule; its cause starts with the rule's kind)
    for rules detect cannot express: first for a kind detect does not hold (kinds.py), then for the rest."""
    kind = held_kind(payload)
    try:
        return _decompiled(payload)
    except UnsupportedByTarget as error:
        cause = f"{kind.cause}: {str(error).partition(': ')[0]}"
        raise UnsupportedByTarget(error.pointer, str(error), cause=cause) from None


def _decompiled(payload: JSON) -> tuple[JSON, list[str]]:
    """decompile_rule for a payload of a kind detect holds: an eql rule, or a query rule whose query is its filters."""
    marker = (payload.get("meta") or {}).get("detect") or {}
    document: JSON = {key: copy.deepcopy(payload[key]) for key in ("rule_id", "version", *SAME_FIELDS, *KIBANA_FIELDS)
                      if key in payload and not (key in KIBANA_FIELDS and _FILLERS.get(key, _UNSET) == payload[key])}
    document["enabled"] = bool(payload.get("enabled", False))
    for key in ("data_view_id", "saved_id"):
        if payload.get(key):
            raise UnsupportedByTarget(f"/{key}", f"the rule reads a {key.removesuffix('_id').replace('_', ' ')}: "
                                      "detect rules name their indices and hold their query")
    document["index"] = list(payload.get("index") or [])
    if not document["index"]:
        raise UnsupportedByTarget("/index", "the rule has no index patterns (a data view rule): detect rules name their indices")
    data_source = marker.get("data_source") or _data_source_of(document["index"])
    if data_source:  # else its fields are what its index patterns hold
        document["data_source"] = data_source
    filters = list(payload.get("filters") or [])
    exclusions = [_exclusion_of(item) for item in filters if _is_exclusion(item)]
    rest = [item for item in filters if not _is_exclusion(item)]
    rule_type = payload.get("type")
    if rule_type == "eql":
        document.update(language="eql", query=payload.get("query", ""))
        document.update({key: payload[key] for key in EQL_FIELDS if payload.get(key) is not None})
        if rest:
            raise UnsupportedByTarget("/filters", "an EQL rule with filters other than exclusions: move them into the query")
    elif len(rest) == 1 and _is_dsl_filter(rest[0]):  # a query rule without query text (held_kind)
        document.update(language="dsl", query=copy.deepcopy(rest[0]["query"]))
    else:
        raise UnsupportedByTarget("/filters", "a query rule whose filters are not one query DSL clause plus exclusions")
    if marker.get("risk_message"):
        document["risk_message"] = marker["risk_message"]
    document["exclusions"] = exclusions
    tags = [tag for tag in payload.get("tags") or [] if tag != MANAGED_TAG]
    if tags:
        document["tags"] = tags
    required = [{"name": item["name"], "type": item["type"]} for item in payload.get("required_fields") or []]
    if required and (not marker or marker.get("declared_required_fields")):
        document["required_fields"] = required  # as declared; without the declaration, detect derived them
    meta = {key: copy.deepcopy(value) for key, value in (payload.get("meta") or {}).items() if key not in _NOT_USER_META}
    if meta:
        document["meta"] = meta
    investigation_fields = list((payload.get("investigation_fields") or {}).get("field_names") or [])
    document.update(_grouping(payload, marker))
    if investigation_fields and marker and "group_by" not in marker:
        # Earlier versions of detect wrote group_by into investigation_fields, and no group_by into the marker: a rule
        # they deployed is read that way when its content hash confirms it.
        earlier = {**document, **_grouping(payload, {"group_by": investigation_fields})}
        if content_hash(earlier) == marker.get("content_hash"):
            document, investigation_fields = earlier, []
    if investigation_fields:
        document["investigation_fields"] = {"field_names": investigation_fields}
    notes = [f"dropped {key} (not a field of Kibana's {rule_type} rules detect holds)"
             for key in payload if key not in _READ and key not in SERVER_FIELDS and payload[key] not in (None, [], "")]
    return {key: document[key] for key in _DOCUMENT_ORDER if key in document}, notes


# meta's keys that are not the user's: detect's marker, and the link Kibana's UI writes into each rule it saves.
_NOT_USER_META = frozenset({"detect", "kibana_siem_app_url"})
_UNSET = object()


def _grouping(payload: JSON, marker: JSON) -> JSON:
    """group_by and alert_suppression of the rule document. Kibana's suppression is detect's grouping unless detect's
    marker names a wider one (detect may group on more fields than Kibana suppresses on)."""
    suppression = payload.get("alert_suppression") or {}
    suppress_by = list(suppression.get("group_by") or [])
    group_by = list(marker.get("group_by") or suppress_by)
    if not group_by:
        return {}
    written: JSON = {"group_by": suppress_by}
    if suppression.get("duration"):
        written["duration"] = copy.deepcopy(suppression["duration"])
    strategy = suppression.get("missing_fields_strategy", _KIBANA_MISSING_FIELDS_STRATEGY)
    if strategy != DEFAULT_MISSING_FIELDS_STRATEGY:
        written["missing_fields_strategy"] = strategy
    return {"group_by": group_by} if written == {"group_by": group_by} else {"group_by": group_by, "alert_suppression": written}


def _is_exclusion(item: JSON) -> bool:
    meta = item.get("meta") or {}
    return bool(meta.get("negate")) and str(meta.get("alias") or "").startswith(EXCLUSION_ALIAS) and _is_dsl_filter(item)


def _exclusion_of(item: JSON) -> JSON:
    (field, values), = item["query"]["terms"].items()
    described = str(item["meta"]["alias"]).removeprefix(EXCLUSION_ALIAS)
    reason = described.partition(": ")[2] or "imported from Kibana"
    return {"field": field, "values": list(values), "reason": reason}


def _is_dsl_filter(item: JSON) -> bool:
    meta = item.get("meta") or {}
    query = item.get("query")
    if meta.get("disabled") or not isinstance(query, dict) or len(query) != 1:
        return False
    return not meta.get("negate") or (set(query) == {"terms"} and len(query["terms"]) == 1)


def _data_source_of(index: list[str]) -> str | None:
    """The data source all of whose index patterns the rule reads, for rules written outside detect; None when no
    one data source has them all (the rule's fields are then checked against what its patterns hold)."""
    from deployer.rules.datasource import catalog

    return next((source.name for source in catalog().sources if set(index) <= set(source.index)), None)


def read_export(export: Path) -> list[tuple[int, JSON]]:
    """The rules of a Kibana rules export (its `_export` NDJSON), with their line numbers."""
    shown = display_path(export)
    raw = read_bounded(export, _MAX_EXPORT_BYTES, "a rules export")
    if isinstance(raw, Problem):
        raise DetectError(str(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DetectError(f"{shown}: not UTF-8: invalid byte at offset {error.start}") from None
    rules: list[tuple[int, JSON]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            problems.append(Problem(shown, "", f"not JSON: {getattr(error, 'msg', 'nested too deeply')}", line=number))
            continue
        if not isinstance(item, dict):
            problems.append(Problem(shown, "", f"expected a JSON object, found {type(item).__name__}", line=number))
        elif "rule_id" in item and "type" in item:
            rules.append((number, item))
        elif not any(key in item for key in _NOT_RULES) and item.get("type") != "action":
            problems.append(Problem(shown, "", "not a Kibana rule: it has no rule_id and type", line=number))
    if problems:
        raise InvalidRules(problems, where=f"in {shown}")
    if not rules:
        raise DetectError(f"{shown}: no rules in this export")
    return rules

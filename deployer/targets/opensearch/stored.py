"""A monitor as Alerting stores it, reduced to a form comparable with the monitor detect sends.

Alerting does not keep a monitor's JSON: it parses it (OpenSearch's SearchModule for the query) and writes it back
with every default spelled out — `{"term": {"f": "x"}}` comes back as `{"term": {"f": {"value": "x", "boost": 1.0}}}`,
`gte`/`lt` as `from`/`to` with `include_lower`/`include_upper`, `bool` with `adjust_pure_negative` — and adds its own
bookkeeping (`schema_version`, `last_update_time`, `data_sources`, ...). `comparable` maps both the monitor detect
compiles and the one Alerting answers with to one form, so they are equal exactly when the monitor was not changed.
tests/targets/opensearch/test_stored.py checks that against Alerting's own parser (common-utils Monitor.parse).
"""

from __future__ import annotations

import copy
from typing import Any

from deployer.rules.model import JSON

# Alerting's own fields in a stored monitor, not part of what the monitor does.
SERVER_FIELDS = frozenset({"schema_version", "last_update_time", "enabled_time", "user", "owner", "data_sources",
                           "delete_query_index_in_every_run", "should_create_single_alert_for_findings", "associated_workflows",
                           "workflow_ids", "id", "_id", "version", "_version", "_seq_no", "_primary_term"})
# Clauses whose field object has one value key; a bare value is its short form.
_VALUE_KEY = {"term": "value", "prefix": "value", "wildcard": "value", "regexp": "value", "fuzzy": "value",
              "match": "query", "match_phrase": "query", "match_phrase_prefix": "query", "match_bool_prefix": "query"}
# Defaults OpenSearch writes into each clause (its QueryBuilders' doXContent); equal to them means "not set".
_CLAUSE_DEFAULTS: dict[str, dict[str, Any]] = {
    "term": {"case_insensitive": False},
    "prefix": {"case_insensitive": False},
    "wildcard": {"case_insensitive": False},
    "regexp": {"case_insensitive": False, "flags_value": 255, "flags": "ALL", "max_determinized_states": 10000},
    "match": {"operator": "OR", "prefix_length": 0, "max_expansions": 50, "fuzzy_transpositions": True, "lenient": False,
              "zero_terms_query": "NONE", "auto_generate_synonyms_phrase_query": True},
    "match_phrase": {"slop": 0, "zero_terms_query": "NONE"},
    "match_phrase_prefix": {"slop": 0, "max_expansions": 50, "zero_terms_query": "NONE"},
}
_BOOL_CLAUSES = ("must", "filter", "should", "must_not")


def comparable(monitor: JSON) -> JSON:
    """The monitor without Alerting's bookkeeping, defaults and detect's own payload hash, every query clause in one
    spelling. Pure; the argument is not changed."""
    reduced: JSON = {key: copy.deepcopy(value) for key, value in monitor.items() if key not in SERVER_FIELDS}
    ui = reduced.get("ui_metadata")
    # Dashboards keeps its editor's state in ui_metadata next to detect's marker: display state, not behaviour.
    marker = ui.get("detect") if isinstance(ui, dict) else None
    if isinstance(marker, dict):
        marker = {key: value for key, value in marker.items() if key != "payload_hash"}
        reduced["ui_metadata"] = {"detect": marker}
    else:
        reduced.pop("ui_metadata", None)
    for item in _list(reduced.get("inputs")):
        search = item.get("search") if isinstance(item, dict) else None
        if isinstance(search, dict) and isinstance(search.get("query"), dict):
            search["query"] = _search_source(search["query"])
    for trigger in _list(reduced.get("triggers")):
        bucket = trigger.get("bucket_level_trigger") if isinstance(trigger, dict) else None
        condition = bucket.get("condition") if isinstance(bucket, dict) else None
        if isinstance(condition, dict) and condition.get("gap_policy") == "skip":
            del condition["gap_policy"]
    return reduced


def _search_source(source: JSON) -> JSON:
    reduced = dict(source)
    if isinstance(reduced.get("query"), dict):
        reduced["query"] = query_clause(reduced["query"])
    for key in ("aggregations", "aggs"):
        if isinstance(reduced.get(key), dict):
            reduced["aggregations"] = {name: _aggregation(body) for name, body in reduced.pop(key).items()}
    return reduced


def query_clause(clause: Any) -> Any:
    """One query DSL clause in its canonical spelling (unknown clauses only lose `boost: 1.0`)."""
    if not isinstance(clause, dict) or len(clause) != 1:
        return _without_unit_boost(clause)
    (kind, body), = clause.items()
    if kind == "bool" and isinstance(body, dict):
        return {"bool": _bool(body)}
    if kind in _VALUE_KEY and isinstance(body, dict):
        return {kind: _field_clause(kind, body)}
    if kind == "range" and isinstance(body, dict):
        return {"range": {field: _range(spec) if isinstance(spec, dict) else spec for field, spec in _without_unit_boost(body).items()}}
    if kind in ("terms", "exists", "ids") and isinstance(body, dict):
        return {kind: _without_unit_boost(body)}
    return {kind: _without_unit_boost(body)}


def _bool(body: JSON) -> JSON:
    reduced: JSON = {}
    for key, value in body.items():
        if (key, value) in (("adjust_pure_negative", True), ("boost", 1.0), ("boost", 1)):
            continue
        if key in _BOOL_CLAUSES:
            clauses = value if isinstance(value, list) else [value]
            if clauses:
                reduced[key] = [query_clause(item) for item in clauses]
        elif key == "minimum_should_match":
            reduced[key] = str(value)
        else:
            reduced[key] = value
    return reduced


def _field_clause(kind: str, body: JSON) -> JSON:
    value_key = _VALUE_KEY[kind]
    defaults = _CLAUSE_DEFAULTS.get(kind, {})
    reduced: JSON = {}
    for field, spec in body.items():
        if field == "boost":
            if spec not in (1, 1.0):
                reduced[field] = spec
            continue
        if not isinstance(spec, dict):
            spec = {value_key: spec}
        options: JSON = {}
        for key, value in spec.items():
            key = value_key if kind == "wildcard" and key == "wildcard" else key
            if key == "boost" and value in (1, 1.0):
                continue
            if key in defaults and defaults[key] == value:
                continue
            options[key] = value
        reduced[field] = options
    return reduced


def _range(spec: JSON) -> JSON:
    reduced: JSON = {}
    lower, upper = spec.get("include_lower", True), spec.get("include_upper", True)
    for key, value in spec.items():
        if key in ("include_lower", "include_upper") or (key == "boost" and value in (1, 1.0)):
            continue
        if key == "from":
            if value is not None:
                reduced["gte" if lower else "gt"] = value
        elif key == "to":
            if value is not None:
                reduced["lte" if upper else "lt"] = value
        else:
            reduced[key] = value
    return reduced


def _aggregation(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    reduced: JSON = {}
    for key, value in body.items():
        if key in ("aggregations", "aggs") and isinstance(value, dict):
            reduced["aggregations"] = {name: _aggregation(sub) for name, sub in value.items()}
        elif key == "composite" and isinstance(value, dict):
            reduced[key] = _composite(value)
        else:
            reduced[key] = value
    return reduced


def _composite(body: JSON) -> JSON:
    reduced = dict(body)
    sources = []
    for source in _list(body.get("sources")):
        if not isinstance(source, dict):
            sources.append(source)
            continue
        canonical: JSON = {}
        for name, spec in source.items():
            terms = spec.get("terms") if isinstance(spec, dict) else None
            if isinstance(terms, dict):
                terms = {key: value for key, value in terms.items()
                         if (key, value) not in (("order", "asc"), ("missing_bucket", False), ("missing_order", "default"))}
                spec = {**spec, "terms": terms}
            canonical[name] = spec
        sources.append(canonical)
    reduced["sources"] = sources
    return reduced


def _list(value: Any) -> list[Any]:
    """A list the answer holds, or none: what a server stores is read, never trusted to have its shape."""
    return value if isinstance(value, list) else []


def _without_unit_boost(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_unit_boost(item) for key, item in value.items() if not (key == "boost" and item in (1, 1.0))}
    if isinstance(value, list):
        return [_without_unit_boost(item) for item in value]
    return value

"""Kibana's detection engine (Elastic Security): a Rule becomes a rule of its API (2023-10-31)."""

from __future__ import annotations

import copy
import json
from typing import Any

from deployer.config import TargetSettings
from deployer.datasource import load_data_source
from deployer.dialects.dsl import scan_dsl
from deployer.dialects.eql import parse_eql
from deployer.errors import DetectError, UnsupportedByTarget
from deployer.http import RequestFailed, RetryPolicy, target_api
from deployer.model import JSON, Exclusion, Rule, payload_hash
from deployer.plan import Action, Deployed, Outcome, PlanEntry

API_VERSION = "2023-10-31"
# Marks the rules detect manages, so reads find them and --prune never touches anyone else's.
MANAGED_TAG = "Managed: detect"
EXCLUSION_ALIAS = "exclusion: "
# Rule fields whose meaning and name are the same in detect and in Kibana: copied as they are.
_SAME_FIELDS = ("name", "description", "risk_score", "severity", "interval", "from", "to", "author", "license",
                "references", "false_positives", "threat", "note", "setup", "max_signals")


def compile_rule(rule: Rule) -> JSON:
    """The body of a create/update request for `rule`, pure: the same rule gives the same payload."""
    payload: JSON = {"rule_id": rule.rule_id, "version": rule.version}
    payload.update({key: copy.deepcopy(rule.document[key]) for key in _SAME_FIELDS if key in rule.document})
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
    marker["payload_hash"] = payload_hash(payload)
    return payload


def _marker(rule: Rule) -> JSON:
    """What detect needs to recognise its own rules, see whether they changed and import them back (fields
    Kibana has no place for), stored in the rule's `meta`."""
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash,
                    "data_source": rule.data_source}
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
    source = load_data_source(rule.data_source)
    if source is None:
        return []
    uses = parse_eql(rule.eql).uses if rule.language == "eql" else scan_dsl(rule.dsl).uses
    fields = [use.field for use in uses]
    names = dict.fromkeys([*fields, *rule.group_by])  # ordered, unique
    return [{"name": name, "type": source.field_types[name]} for name in names if source.has(name)]


# --- reading rules back (detect import) ---------------------------------------------------------------

# The order fields take in a rule file written by `detect import`, as in the hand-written ones.
_DOCUMENT_ORDER = ("rule_id", "name", "version", "description", "severity", "risk_score", "enabled", "interval", "from",
                   "to", "index", "data_source", "language", "query", "group_by", "alert_suppression", "risk_message",
                   "exclusions", "tags", "author", "license", "references", "false_positives", "threat", "note", "setup",
                   "max_signals")
# Parts of an exported Kibana rule with no detect form: importing drops them and says so when they are set.
_DROPPED = ("actions", "exceptions_list", "response_actions", "timeline_id", "building_block_type", "throttle")


def decompile_rule(payload: JSON) -> tuple[JSON, list[str]]:
    """A rule document (without `$schema`) from a Kibana rule as `_export` or `compile_rule` gives it, and notes on
    what was dropped. Raises UnsupportedByTarget (pointer into the Kibana rule) for rules detect cannot express."""
    marker = (payload.get("meta") or {}).get("detect") or {}
    document: JSON = {key: copy.deepcopy(payload[key]) for key in ("rule_id", "version", *_SAME_FIELDS) if key in payload}
    document["enabled"] = bool(payload.get("enabled", False))
    document["index"] = list(payload.get("index") or [])
    if not document["index"]:
        raise UnsupportedByTarget("/index", "the rule has no index patterns (a data view rule): detect rules name their indices")
    document["data_source"] = marker.get("data_source") or _data_source_of(document["index"])
    filters = list(payload.get("filters") or [])
    exclusions = [_exclusion_of(item) for item in filters if _is_exclusion(item)]
    rest = [item for item in filters if not _is_exclusion(item)]
    rule_type, language = payload.get("type"), payload.get("language")
    if rule_type == "eql":
        document.update(language="eql", query=payload.get("query", ""))
        if rest:
            raise UnsupportedByTarget("/filters", "an EQL rule with filters other than exclusions: move them into the query")
    elif rule_type == "query" and not str(payload.get("query") or "").strip() and len(rest) == 1 and _is_dsl_filter(rest[0]):
        document.update(language="dsl", query=copy.deepcopy(rest[0]["query"]))
    elif rule_type == "query" and str(payload.get("query") or "").strip():
        raise UnsupportedByTarget("/query", f"a {language or 'kuery'} query rule: detect rules are EQL or query DSL; "
                                  "rewrite it in one of those")
    elif rule_type == "query":
        raise UnsupportedByTarget("/filters", "a query rule whose filters are not one query DSL clause plus exclusions")
    else:
        raise UnsupportedByTarget("/type", f"a {rule_type} rule: detect rules are EQL or query DSL ones")
    group_by = list((payload.get("investigation_fields") or {}).get("field_names") or [])
    suppress_by = list((payload.get("alert_suppression") or {}).get("group_by") or [])
    if group_by or suppress_by:
        document["group_by"] = group_by or suppress_by
        if suppress_by and suppress_by != document["group_by"]:
            document["alert_suppression"] = {"group_by": suppress_by}
    if marker.get("risk_message"):
        document["risk_message"] = marker["risk_message"]
    document["exclusions"] = exclusions
    tags = [tag for tag in payload.get("tags") or [] if tag != MANAGED_TAG]
    if tags:
        document["tags"] = tags
    notes = [f"dropped {key} (detect has no place for it)" for key in _DROPPED if payload.get(key)]
    return {key: document[key] for key in _DOCUMENT_ORDER if key in document}, notes


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


def _data_source_of(index: list[str]) -> str:
    """The data source whose index patterns the rule reads, for rules written outside detect."""
    from deployer.datasource import available_data_sources

    for name in available_data_sources():
        source = load_data_source(name)
        if source is not None and set(index) & set(source.index):
            return name
    raise UnsupportedByTarget("/index", f"no detect data source reads {', '.join(index)}: add a field table under "
                              "deployer/datasources/ first")


# --- reading and applying -------------------------------------------------------------------------

# Above this many writes, rules go through _import in chunks instead of one request each.
IMPORT_THRESHOLD = 20
# Kibana refuses imports over 10 MB (xpack.securitySolution.maxRuleImportPayloadBytes); stay well under.
IMPORT_CHUNK_BYTES = 8 * 1024 * 1024
# Kibana's _find pages no further than its 10,000th rule, so one page of that size reads a whole space: a no-op
# deploy costs one request per space however many rules it holds.
_FIND_WINDOW = 10_000
_PAGE = _FIND_WINDOW


class KibanaTarget:
    """One Kibana space of one environment: read the rules detect manages there, apply a plan to them."""

    def __init__(self, settings: TargetSettings, space: str, *, transport: Any = None, retry: RetryPolicy | None = None) -> None:
        prefix = "" if space == "default" else f"/s/{space}"
        self.label = f"kibana:{space}"
        # httpx sets Content-Type per body (JSON, or multipart for _import)
        self.api = target_api(settings, settings.url + prefix, {"kbn-xsrf": "true", "elastic-api-version": API_VERSION},
                              retry=retry, transport=transport)

    def close(self) -> None:
        self.api.close()

    def read_deployed(self) -> dict[str, Deployed]:
        """Every rule carrying detect's tag in this space, through _find (one request, unless Kibana caps per_page)."""
        deployed: dict[str, Deployed] = {}
        page = 1
        while True:
            response = self.api.request("GET", "/api/detection_engine/rules/_find", params={
                "filter": f'alert.attributes.tags:"{MANAGED_TAG}"', "per_page": _PAGE, "page": page,
                "sort_field": "name", "sort_order": "asc"}).json()
            for item in response.get("data", []):
                marker = (item.get("meta") or {}).get("detect") or {}
                deployed[item["rule_id"]] = Deployed(item["rule_id"], item["id"], int(item.get("version", 1)),
                                                     str(marker.get("content_hash", "")), str(marker.get("payload_hash", "")),
                                                     item.get("name", ""))
            total, per_page = int(response.get("total", 0)), int(response.get("per_page", _PAGE))
            if page * per_page >= total or not response.get("data"):
                return deployed
            if (page + 1) * per_page > _FIND_WINDOW:
                raise DetectError(f"{self.label} holds {total} rules detect manages; Kibana's _find reads at most {_FIND_WINDOW}")
            page += 1

    def apply(self, entries: list[PlanEntry]) -> list[Outcome]:
        writes = [entry for entry in entries if entry.action in (Action.create, Action.update)]
        deletes = [entry for entry in entries if entry.action is Action.delete]
        outcomes = self._import(writes) if len(writes) > IMPORT_THRESHOLD else [self._write(entry) for entry in writes]
        return outcomes + [self._delete(entry) for entry in deletes]

    def _write(self, entry: PlanEntry) -> Outcome:
        assert entry.desired is not None
        payload = entry.desired.payload
        try:
            if entry.action is Action.create:
                response = self.api.request("POST", "/api/detection_engine/rules", json=payload, ok=(200, 409))
                if response.status_code != 409:
                    return Outcome(entry, True, "created")
                # A retried create whose first attempt did land: the rule exists, so replace it.
            self.api.request("PUT", "/api/detection_engine/rules", json=payload)
            return Outcome(entry, True, "updated")
        except RequestFailed as error:
            return Outcome(entry, False, str(error))

    def _delete(self, entry: PlanEntry) -> Outcome:
        try:
            self.api.request("DELETE", "/api/detection_engine/rules", params={"rule_id": entry.rule_id}, ok=(200, 404))
            return Outcome(entry, True, "deleted")
        except RequestFailed as error:
            return Outcome(entry, False, str(error))

    def _import(self, entries: list[PlanEntry]) -> list[Outcome]:
        """Many writes through _import?overwrite=true in chunks; its 200 answer lists per-rule errors."""
        outcomes: list[Outcome] = []
        for chunk in _chunks(entries):
            body = "".join(json.dumps(entry.desired.payload, ensure_ascii=False) + "\n" for entry in chunk if entry.desired)
            try:
                result = self.api.request("POST", "/api/detection_engine/rules/_import", params={"overwrite": "true"},
                                          files={"file": ("rules.ndjson", body.encode("utf-8"), "application/ndjson")}).json()
            except RequestFailed as error:
                outcomes += [Outcome(entry, False, str(error)) for entry in chunk]
                continue
            failed = {str(error.get("rule_id")): str((error.get("error") or {}).get("message", "import failed"))
                      for error in result.get("errors", [])}
            outcomes += [Outcome(entry, entry.rule_id not in failed, failed.get(entry.rule_id, "imported")) for entry in chunk]
        return outcomes


def _chunks(entries: list[PlanEntry]) -> list[list[PlanEntry]]:
    chunks: list[list[PlanEntry]] = [[]]
    size = 0
    for entry in entries:
        entry_size = len(json.dumps(entry.desired.payload if entry.desired else {})) + 1
        if chunks[-1] and size + entry_size > IMPORT_CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return [chunk for chunk in chunks if chunk]

"""Kibana's detection engine (Elastic Security): a Rule becomes a rule of its API (2023-10-31)."""

from __future__ import annotations

import copy
import json
from typing import Any

from deployer.answers import BadAnswer, json_body, need_count, need_list, need_object, need_text, object_or_empty
from deployer.config import TargetSettings
from deployer.datasource import load_data_source
from deployer.dialects.dsl import scan_dsl
from deployer.dialects.eql import parse_eql
from deployer.errors import DetectError, UnsupportedByTarget
from deployer.http import RequestFailed, RetryPolicy, target_api
from deployer.model import JSON, Exclusion, Rule, payload_hash
from deployer.plan import Action, Deployed, Desired, Outcome, PlanEntry

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
    marker["payload_hash"] = payload_hash(comparable(payload))
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


def deployed_rule(item: Any, where: str) -> Deployed:
    """One rule of a Kibana answer, checked for the fields a plan relies on (BadAnswer otherwise)."""
    rule = need_object(item, where, "the rule")
    rule_id = need_text(rule.get("rule_id"), where, "rule_id")
    remote_id = need_text(rule.get("id"), where, f"the id of rule {rule_id}")
    version = need_count(rule.get("version"), where, f"the version of rule {rule_id}", minimum=1)
    marker = object_or_empty(object_or_empty(rule, "meta"), "detect")
    tags = rule.get("tags")
    tags = tags if isinstance(tags, list) else []
    content = comparable(rule)
    return Deployed(rule_id, remote_id, version, str(marker.get("content_hash") or ""), str(marker.get("payload_hash") or ""),
                    str(rule.get("name") or ""), managed=bool(marker) or MANAGED_TAG in tags,
                    observed_hash=payload_hash(content), content=content)


# --- reading and applying -------------------------------------------------------------------------

# Above this many writes, rules go through _import in chunks instead of one request each.
IMPORT_THRESHOLD = 20
# Kibana refuses imports over 10 MB (xpack.securitySolution.maxRuleImportPayloadBytes); stay well under.
IMPORT_CHUNK_BYTES = 8 * 1024 * 1024
# Kibana's _find pages no further than its 10,000th rule, so one page of that size reads a whole space: a no-op
# deploy costs one request per space however many rules it holds.
_FIND_WINDOW = 10_000
_PAGE = _FIND_WINDOW
_RULES = "/api/detection_engine/rules"


def locations(settings: TargetSettings) -> tuple[str, ...]:
    """The Kibana spaces of one target: each is planned and applied on its own."""
    return settings.spaces


def open_target(settings: TargetSettings, location: str | None, **client_options: Any) -> KibanaTarget:
    return KibanaTarget(settings, location or "default", **client_options)


class KibanaTarget:
    """One Kibana space of one environment: read its rules, apply a plan to the ones detect may touch."""

    def __init__(self, settings: TargetSettings, space: str, *, transport: Any = None, retry: RetryPolicy | None = None,
                 **client_options: Any) -> None:
        prefix = "" if space == "default" else f"/s/{space}"
        self.name = "kibana"
        self.label = f"kibana:{space}"
        # httpx sets Content-Type per body (JSON, or multipart for _import)
        self.api = target_api(settings, settings.url + prefix, {"kbn-xsrf": "true", "elastic-api-version": API_VERSION},
                              retry=retry, transport=transport, **client_options)

    def close(self) -> None:
        self.api.close()

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    def _where(self, method: str, path: str) -> str:
        return f"{self.label}: {method} {path}"

    def read_deployed(self) -> dict[str, Deployed]:
        """Every rule of this space (not only detect's: a rule made by hand with the same rule_id must be seen to
        be left alone), through _find: one request, unless Kibana caps per_page."""
        try:
            return self._read_all()
        except RequestFailed as error:
            raise DetectError(f"{self.label}: {error}") from None
        except BadAnswer as error:
            raise BadAnswer(self.api.scrub(str(error))) from None

    def _read_all(self) -> dict[str, Deployed]:
        deployed: dict[str, Deployed] = {}
        page = 1
        path = f"{_RULES}/_find"
        while True:
            where = self._where("GET", path)
            answer = need_object(json_body(self.api.request("GET", path, params={
                "per_page": _PAGE, "page": page, "sort_field": "name", "sort_order": "asc"}), where), where, "the answer")
            items = need_list(answer.get("data"), where, "its data")
            for number, item in enumerate(items):
                rule = deployed_rule(item, f"{where}: data[{(page - 1) * _PAGE + number}]")
                deployed[rule.rule_id] = rule
            total = need_count(answer.get("total"), where, "its total")
            per_page = need_count(answer.get("per_page", _PAGE), where, "its per_page", minimum=1)
            if page * per_page >= total or not items:
                return deployed
            if (page + 1) * per_page > _FIND_WINDOW:
                raise DetectError(f"{self.label} holds {total} rules; Kibana's _find reads at most {_FIND_WINDOW}")
            page += 1

    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]:
        """Kibana checks a rule's fields itself when it runs it: nothing to read before writing."""
        return entries

    def apply(self, entries: list[PlanEntry]) -> list[Outcome]:
        writes = [entry for entry in entries if entry.action in (Action.create, Action.update, Action.adopt)]
        deletes = [entry for entry in entries if entry.action is Action.delete]
        outcomes = self._import(writes) if len(writes) > IMPORT_THRESHOLD else [self._write(entry) for entry in writes]
        return outcomes + [self._delete(entry) for entry in deletes]

    def _write(self, entry: PlanEntry) -> Outcome:
        assert entry.desired is not None
        payload = entry.desired.payload
        try:
            if entry.action is Action.create:
                response = self.api.request("POST", _RULES, json=payload, ok=(200, 409))
                if response.status_code == 409:
                    return self._confirm_existing(entry)
                return self._confirmed(entry, response, "POST", "created")
            response = self.api.request("PUT", _RULES, json=payload)
            return self._confirmed(entry, response, "PUT", "adopted" if entry.action is Action.adopt else "updated")
        except (RequestFailed, BadAnswer) as error:
            return Outcome(entry, False, self.api.scrub(str(error)))

    def _confirmed(self, entry: PlanEntry, response: Any, method: str, done: str) -> Outcome:
        """Applied only when Kibana answers with the rule it now holds, and that rule is the one sent."""
        assert entry.desired is not None
        where = self._where(method, _RULES)
        rule = deployed_rule(json_body(response, where), where)
        if rule.rule_id != entry.rule_id or rule.observed_hash != entry.desired.payload_hash:
            return Outcome(entry, False, f"{where}: HTTP {response.status_code} but the rule in the answer is not the one "
                                         "sent: Kibana did not confirm it; rerun to see what it holds")
        return Outcome(entry, True, done)

    def _confirm_existing(self, entry: PlanEntry) -> Outcome:
        """A create answered 409: a retried create whose first attempt landed, or a rule made since the plan was read.
        Only the first counts as applied; the second is left alone."""
        assert entry.desired is not None
        where = self._where("GET", f"{_RULES}?rule_id={entry.rule_id}")
        rule = deployed_rule(json_body(self.api.request("GET", _RULES, params={"rule_id": entry.rule_id}), where), where)
        if rule.managed and rule.observed_hash == entry.desired.payload_hash:
            return Outcome(entry, True, "created (confirmed after a retried request)")
        return Outcome(entry, False, f"a rule with this rule_id appeared in {self.label} after the plan was made "
                                     f'("{rule.name}", version {rule.version}): left as it is; rerun to plan it')

    def _delete(self, entry: PlanEntry) -> Outcome:
        try:
            self.api.request("DELETE", _RULES, params={"rule_id": entry.rule_id}, ok=(200, 404))
            return Outcome(entry, True, "deleted")
        except RequestFailed as error:
            return Outcome(entry, False, str(error))

    def _import(self, entries: list[PlanEntry]) -> list[Outcome]:
        """Many writes through _import?overwrite=true in chunks. Its HTTP 200 answer counts rules and lists errors,
        some without a rule_id ("(unknown id)" for lines it could not read): when the answer does not account for every
        rule sent, the space is read back and only the rules found as sent count as applied."""
        outcomes: list[Outcome] = []
        path = f"{_RULES}/_import"
        where = self._where("POST", path)
        for chunk in _chunks(entries):
            body = "".join(json.dumps(entry.desired.payload, ensure_ascii=False) + "\n" for entry in chunk if entry.desired)
            try:
                response = self.api.request("POST", path, params={"overwrite": "true"},
                                            files={"file": ("rules.ndjson", body.encode("utf-8"), "application/ndjson")})
                failed, accounted = _import_answer(need_object(json_body(response, where), where, "the answer"),
                                                   {entry.rule_id for entry in chunk}, where)
            except (RequestFailed, BadAnswer) as error:
                outcomes += [Outcome(entry, False, self.api.scrub(str(error))) for entry in chunk]
                continue
            if accounted:
                outcomes += [Outcome(entry, entry.rule_id not in failed, failed.get(entry.rule_id, "imported")) for entry in chunk]
            else:
                outcomes += self._confirm_by_reading(chunk, failed)
        return outcomes

    def _confirm_by_reading(self, chunk: list[PlanEntry], failed: dict[str, str]) -> list[Outcome]:
        try:
            held = self._read_all()
        except (RequestFailed, BadAnswer, DetectError) as error:
            reason = f"Kibana's _import answer does not account for every rule, and reading them back failed: {error}"
            return [Outcome(entry, False, self.api.scrub(reason)) for entry in chunk]
        outcomes = []
        for entry in chunk:
            rule = held.get(entry.rule_id)
            if entry.desired is not None and rule is not None and rule.observed_hash == entry.desired.payload_hash:
                outcomes.append(Outcome(entry, True, "imported (confirmed by reading it back)"))
            else:
                outcomes.append(Outcome(entry, False, failed.get(entry.rule_id, "Kibana's _import answer did not confirm "
                                                                               "it and it is not there as sent")))
        return outcomes


def _import_answer(answer: JSON, sent: set[str], where: str) -> tuple[dict[str, str], bool]:
    """Per rule_id error messages, and whether the answer accounts for every rule sent (each failed by rule_id, the
    rest counted as successes)."""
    failed: dict[str, str] = {}
    unknown = 0
    for number, error in enumerate(need_list(answer.get("errors", []), where, "its errors")):
        item = need_object(error, where, f"errors[{number}]")
        rule_id = item.get("rule_id")
        details = object_or_empty(item, "error")
        message = str(details.get("message") or "import failed")[:500]
        if isinstance(rule_id, str) and rule_id in sent:
            failed[rule_id] = f"Kibana refused it: {message}"
        else:
            unknown += 1
    success_count = answer.get("success_count")
    counted = isinstance(success_count, int) and not isinstance(success_count, bool) and success_count == len(sent) - len(failed)
    return failed, counted and unknown == 0 and answer.get("success") is (not failed)


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


def desired_rule(rule: Rule) -> Desired:
    payload = compile_rule(rule)
    return Desired(rule, payload, payload["meta"]["detect"]["payload_hash"], comparable(payload))

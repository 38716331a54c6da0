"""OpenSearch Alerting: a Rule becomes a bucket-level monitor, one alert per group of matching events."""

from __future__ import annotations

import copy
from typing import Any

from deployer.config import TargetSettings
from deployer.errors import DetectError
from deployer.http import RequestFailed, RetryPolicy, target_api
from deployer.model import JSON, Duration, Rule, payload_hash
from deployer.plan import Action, Deployed, Outcome, PlanEntry

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
    monitor["ui_metadata"]["detect"]["payload_hash"] = payload_hash(monitor)
    return monitor


def _window_end(end: Duration | None) -> str:
    return "{{period_end}}" if end is None else f"{{{{period_end}}}}||-{end}"


def _marker(rule: Rule) -> JSON:
    marker: JSON = {"rule_id": rule.rule_id, "version": rule.version, "content_hash": rule.content_hash,
                    "data_source": rule.data_source, "risk_score": rule.risk_score, "severity": rule.severity, "tags": list(rule.tags)}
    if rule.risk_message:
        marker["risk_message"] = rule.risk_message
    return marker


def _rule_query(rule: Rule) -> Any:
    if rule.language == "dsl":
        return copy.deepcopy(rule.dsl)
    from deployer.dialects.eql_to_dsl import translate_eql

    return translate_eql(rule.eql)


# --- reading and applying -------------------------------------------------------------------------

_MONITORS = "/_plugins/_alerting/monitors"
_PAGE = 500


class OpenSearchTarget:
    """The Alerting monitors of one OpenSearch cluster: detect's are those whose ui_metadata carries its marker."""

    def __init__(self, settings: TargetSettings, *, transport: Any = None, retry: RetryPolicy | None = None) -> None:
        self.label = "opensearch"
        # Alerting's monitor _search drops ui_metadata (where detect's marker lives) unless the caller is Dashboards.
        self.api = target_api(settings, settings.url, {"User-Agent": "OpenSearch-Dashboards detect"},
                              retry=retry, transport=transport)

    def close(self) -> None:
        self.api.close()

    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]:
        """The entries, with each monitor to create or update that cannot run on its indices refused (a field it
        groups by or matches as keyword is text there): one _field_caps request for all of them, before any write."""
        from deployer.targets.opensearch_fields import refuse_unrunnable

        def field_caps(path: str, parameters: dict[str, str]) -> Any:
            response = self.api.request("GET", path, params=parameters)
            try:
                return response.json()
            except ValueError:
                raise DetectError(f"GET {path}: the answer is not JSON") from None

        try:
            return refuse_unrunnable(entries, field_caps)
        except DetectError as error:  # RequestFailed too: one line naming the target, before anything is written
            raise DetectError(f"{self.api.base_url}: reading the field types of the monitors' indices: {error}") from None

    def read_deployed(self) -> dict[str, Deployed]:
        """One search per 500 monitors; ui_metadata is not searchable, so the marker is read client-side."""
        deployed: dict[str, Deployed] = {}
        offset = 0
        while True:
            try:
                response = self.api.request("POST", f"{_MONITORS}/_search", ok=(200, 404), json={
                    "query": {"match_all": {}}, "size": _PAGE, "from": offset, "sort": [{"_id": "asc"}]})
            except RequestFailed as error:
                if error.status == 400 and "no handler found" in str(error):
                    raise DetectError(f"{self.api.base_url} has no Alerting plugin: detect deploys OpenSearch rules as "
                                      "Alerting monitors (install opensearch-alerting there)") from None
                raise
            if response.status_code == 404:  # no monitor was ever created: the config index does not exist yet
                return deployed
            hits = response.json().get("hits", {}).get("hits", [])
            for hit in hits:
                source = hit.get("_source", {})
                monitor = source.get("monitor", source)
                marker = (monitor.get("ui_metadata") or {}).get("detect")
                if marker and marker.get("rule_id"):
                    deployed[marker["rule_id"]] = Deployed(marker["rule_id"], hit["_id"], int(marker.get("version", 0)),
                                                           str(marker.get("content_hash", "")), str(marker.get("payload_hash", "")),
                                                           monitor.get("name", ""))
            if len(hits) < _PAGE:
                return deployed
            offset += _PAGE

    def apply(self, entries: list[PlanEntry]) -> list[Outcome]:
        return [self._apply(entry) for entry in entries if entry.writes]

    def _apply(self, entry: PlanEntry) -> Outcome:
        try:
            if entry.action is Action.delete and entry.deployed:
                self.api.request("DELETE", f"{_MONITORS}/{entry.deployed.remote_id}", ok=(200, 404))
                return Outcome(entry, True, "deleted")
            assert entry.desired is not None
            if entry.action is Action.update and entry.deployed:
                self.api.request("PUT", f"{_MONITORS}/{entry.deployed.remote_id}", json=entry.desired.payload)
                return Outcome(entry, True, "updated")
            self.api.request("POST", _MONITORS, json=entry.desired.payload, ok=(200, 201))
            return Outcome(entry, True, "created")
        except RequestFailed as error:
            return Outcome(entry, False, str(error))

"""The Alerting monitors of one OpenSearch cluster: read them all in one search, apply a plan, confirm each write."""

from __future__ import annotations

import dataclasses
from typing import Any

from deployer.environments import TargetSettings
from deployer.errors import DetectError
from deployer.rules.model import payload_hash
from deployer.targets.answers import BadAnswer, json_body, need_count, need_list, need_object, need_text, object_or_empty
from deployer.targets.base import Action, ApiTarget, Deployed, Outcome, PlanEntry
from deployer.targets.http import RequestFailed, RetryPolicy, target_api
from deployer.targets.opensearch.stored import comparable

_MONITORS = "/_plugins/_alerting/monitors"
# Alerting's config index answers searches up to its result window (10,000): one request reads every monitor.
_PAGE = 10_000


def deployed_monitor(hit: Any, where: str) -> tuple[Deployed | None, list[str]]:
    """A search hit as a Deployed monitor (None when it is not detect's), and the ids of its bucket triggers: detect
    names its trigger after the rule_id, so a monitor whose marker was removed (Dashboards rewrites ui_metadata when
    someone edits the monitor there) is still known as detect's."""
    item = need_object(hit, where, "a hit")
    remote_id = need_text(item.get("_id"), where, "the _id of a hit")
    source = need_object(item.get("_source"), where, f"the _source of monitor {remote_id}")
    monitor = need_object(source.get("monitor", source), where, f"monitor {remote_id}")
    marker = object_or_empty(object_or_empty(monitor, "ui_metadata"), "detect") or None
    triggers = monitor.get("triggers")
    triggers = triggers if isinstance(triggers, list) else []
    trigger_ids = [str(trigger["bucket_level_trigger"].get("id")) for trigger in triggers
                   if isinstance(trigger, dict) and isinstance(trigger.get("bucket_level_trigger"), dict)]
    content = comparable(monitor)
    observed = payload_hash(content)
    if marker is None:
        return None, [trigger_id for trigger_id in trigger_ids if trigger_id]
    rule_id = need_text(marker.get("rule_id"), where, f"the detect rule_id of monitor {remote_id}")
    version = need_count(marker.get("version"), where, f"the detect version of monitor {remote_id}", minimum=1)
    return Deployed(rule_id, remote_id, version, str(marker.get("content_hash") or ""), str(marker.get("payload_hash") or ""),
                    str(monitor.get("name") or ""), observed_hash=observed, content=content), []


def open_target(settings: TargetSettings, location: str | None, **client_options: Any) -> OpenSearchTarget:
    """`url = "local"` is the node `detect cluster up` started."""
    if settings.url == "local":
        from deployer.cluster.state import load_state

        node = load_state("opensearch")
        if node is None:
            raise DetectError("environment uses the local OpenSearch, which is not running: start it with `detect cluster up`")
        settings = dataclasses.replace(settings, url=node.url)
    return OpenSearchTarget(settings, **client_options)


class OpenSearchTarget(ApiTarget):
    """The Alerting monitors of one OpenSearch cluster: detect's are those whose ui_metadata carries its marker."""

    def __init__(self, settings: TargetSettings, *, transport: Any = None, retry: RetryPolicy | None = None,
                 **client_options: Any) -> None:
        self.name = "opensearch"
        self.label = "opensearch"
        # Alerting's monitor _search drops ui_metadata (where detect's marker lives) unless the caller is Dashboards.
        self.api = target_api(settings, settings.url, {"User-Agent": "OpenSearch-Dashboards detect"},
                              retry=retry, transport=transport, **client_options)

    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]:
        """The entries, with each monitor to create or update that cannot run on its indices refused (a field it
        groups by or matches as keyword is text there): one _field_caps request for all of them, before any write."""
        from deployer.targets.opensearch.fields import refuse_unrunnable

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
        """Every monitor in one search; ui_metadata is not searchable, so the marker is read client-side."""
        try:
            return self._read_all()
        except RequestFailed as error:
            if error.status == 400 and "no handler found" in str(error):
                raise DetectError(f"{self.api.base_url} has no Alerting plugin: detect deploys OpenSearch rules as "
                                  "Alerting monitors (install opensearch-alerting there)") from None
            raise DetectError(f"{self.label}: {error}") from None
        except BadAnswer as error:
            raise BadAnswer(self.api.scrub(str(error))) from None

    def _read_all(self) -> dict[str, Deployed]:
        deployed: dict[str, Deployed] = {}
        unmarked: dict[str, str] = {}  # trigger id -> monitor id, for monitors without detect's marker
        path = f"{_MONITORS}/_search"
        where = f"{self.label}: POST {path}"
        offset = 0
        while True:
            response = self.api.request("POST", path, ok=(200, 404), json={
                "query": {"match_all": {}}, "size": _PAGE, "from": offset, "sort": [{"_id": "asc"}]})
            if response.status_code == 404:  # no monitor was ever created: the config index does not exist yet
                break
            answer = need_object(json_body(response, where), where, "the answer")
            hits = need_list(need_object(answer.get("hits"), where, "its hits").get("hits"), where, "its hits.hits")
            for number, hit in enumerate(hits):
                monitor, trigger_ids = deployed_monitor(hit, f"{where}: hits[{offset + number}]")
                if monitor is not None:
                    deployed[monitor.rule_id] = monitor
                for trigger_id in trigger_ids:
                    unmarked[trigger_id] = str(hit["_id"])
            if len(hits) < _PAGE:
                break
            offset += _PAGE
        for rule_id, remote_id in unmarked.items():
            # detect's monitor with its marker gone: managed, and drifted (nothing to compare it with).
            deployed.setdefault(rule_id, Deployed(rule_id, remote_id, 1, "", "", marker_lost=True))
        return deployed

    def apply(self, entries: list[PlanEntry]) -> list[Outcome]:
        return [self._apply(entry) for entry in entries if entry.writes]

    def _apply(self, entry: PlanEntry) -> Outcome:
        try:
            if entry.action is Action.delete and entry.deployed:
                self.api.request("DELETE", f"{_MONITORS}/{entry.deployed.remote_id}", ok=(200, 404))
                return Outcome(entry, True, "deleted")
            assert entry.desired is not None
            if entry.action in (Action.update, Action.adopt) and entry.deployed:
                path = f"{_MONITORS}/{entry.deployed.remote_id}"
                response = self.api.request("PUT", path, json=entry.desired.payload)
                return self._confirmed(entry, response, f"PUT {path}", "updated")
            response = self.api.request("POST", _MONITORS, json=entry.desired.payload, ok=(200, 201))
            return self._confirmed(entry, response, f"POST {_MONITORS}", "created")
        except (RequestFailed, BadAnswer) as error:
            return Outcome(entry, False, self.api.scrub(str(error)))

    def _confirmed(self, entry: PlanEntry, response: Any, request: str, done: str) -> Outcome:
        """Applied only when Alerting answers with the id of the monitor it stored."""
        where = f"{self.label}: {request}"
        answer = need_object(json_body(response, where), where, "the answer")
        monitor_id = need_text(answer.get("_id"), where, "the monitor id in the answer")
        return Outcome(entry, True, f"{done} (monitor {monitor_id})")

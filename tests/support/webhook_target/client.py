"""One channel of a webhook receiver: read every payload it holds, PUT and DELETE the ones detect may touch."""

from __future__ import annotations

from typing import Any

from deployer.errors import DetectError
from deployer.rules.model import payload_hash
from deployer.targets.answers import BadAnswer, json_body, need_count, need_list, need_object, need_text, object_or_empty
from deployer.targets.base import Action, ApiTarget, Deployed, Outcome, PlanEntry
from deployer.targets.http import RequestFailed, RetryPolicy, target_api
from tests.support.webhook_target.compile import MARKER, comparable

DEFAULT_CHANNEL = "detections"


def deployed_payload(item: Any, where: str) -> Deployed:
    payload = need_object(item, where, "a payload")
    rule_id = need_text(payload.get("rule_id"), where, "its rule_id")
    marker = object_or_empty(payload, MARKER)
    content = comparable(payload)
    version = need_count(marker.get("version", 1), where, f"the version of {rule_id}", minimum=1)
    return Deployed(rule_id, str(payload.get("id") or rule_id), version, str(marker.get("content_hash") or ""),
                    str(marker.get("payload_hash") or ""), str(payload.get("name") or ""), managed=bool(marker),
                    observed_hash=payload_hash(content), content=content)


class WebhookTarget(ApiTarget):
    def __init__(self, settings: Any, *, transport: Any = None, retry: RetryPolicy | None = None, **client_options: Any) -> None:
        channel = str(settings.options.get("channel", DEFAULT_CHANNEL))
        self.name = "webhook"
        self.label = f"webhook:{channel}"
        self.api = target_api(settings, f"{settings.url}/channels/{channel}", {}, retry=retry, transport=transport,
                              **client_options)

    def read_deployed(self) -> dict[str, Deployed]:
        where = f"{self.label}: GET /payloads"
        try:
            answer = need_object(json_body(self.api.request("GET", "/payloads"), where), where, "the answer")
        except RequestFailed as error:
            raise DetectError(f"{self.label}: {error}") from None
        items = need_list(answer.get("payloads"), where, "its payloads")
        deployed = [deployed_payload(item, f"{where}: payloads[{number}]") for number, item in enumerate(items)]
        return {payload.rule_id: payload for payload in deployed}

    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]:
        return entries

    def apply(self, entries: list[PlanEntry]) -> list[Outcome]:
        return [self._apply(entry) for entry in entries if entry.writes]

    def _apply(self, entry: PlanEntry) -> Outcome:
        path = f"/payloads/{entry.rule_id}"
        try:
            if entry.action is Action.delete:
                self.api.request("DELETE", path, ok=(200, 404))
                return Outcome(entry, True, "deleted")
            assert entry.desired is not None
            where = f"{self.label}: PUT {path}"
            stored = deployed_payload(json_body(self.api.request("PUT", path, json=entry.desired.payload), where), where)
        except (RequestFailed, BadAnswer) as error:
            return Outcome(entry, False, self.api.scrub(str(error)))
        if stored.observed_hash != entry.desired.payload_hash:
            return Outcome(entry, False, f"{self.label}: the receiver answered with another payload than the one sent")
        return Outcome(entry, True, {Action.create: "created", Action.adopt: "adopted"}.get(entry.action, "updated"))

"""One Kibana space: read every rule it holds, apply a plan to the ones detect may touch, confirm what Kibana did."""

from __future__ import annotations

import json
from typing import Any

from deployer.environments import TargetSettings
from deployer.errors import DetectError
from deployer.rules.model import JSON, payload_hash
from deployer.targets.answers import BadAnswer, json_body, need_count, need_list, need_object, need_text, object_or_empty
from deployer.targets.base import Action, ApiTarget, Deployed, Outcome, PlanEntry
from deployer.targets.http import RequestFailed, RetryPolicy, target_api
from deployer.targets.kibana.compile import API_VERSION, MANAGED_TAG, comparable


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


# Above this many writes, rules go through _import in chunks instead of one request each.
IMPORT_THRESHOLD = 20
# Kibana refuses imports over 10 MB (xpack.securitySolution.maxRuleImportPayloadBytes); stay well under.
IMPORT_CHUNK_BYTES = 8 * 1024 * 1024
# Kibana's _find pages no further than its 10,000th rule, so one page of that size reads a whole space: a no-op
# deploy costs one request per space however many rules it holds.
_FIND_WINDOW = 10_000
_PAGE = _FIND_WINDOW
_RULES = "/api/detection_engine/rules"


def open_target(settings: TargetSettings, location: str | None, **client_options: Any) -> KibanaTarget:
    return KibanaTarget(settings, location or "default", **client_options)


class KibanaTarget(ApiTarget):
    """One Kibana space of one environment: read its rules, apply a plan to the ones detect may touch."""

    def __init__(self, settings: TargetSettings, space: str, *, transport: Any = None, retry: RetryPolicy | None = None,
                 **client_options: Any) -> None:
        prefix = "" if space == "default" else f"/s/{space}"
        self.name = "kibana"
        self.label = f"kibana:{space}"
        # httpx sets Content-Type per body (JSON, or multipart for _import)
        self.api = target_api(settings, settings.url + prefix, {"kbn-xsrf": "true", "elastic-api-version": API_VERSION},
                              retry=retry, transport=transport, **client_options)

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



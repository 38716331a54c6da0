"""Run a compiled bucket-level monitor as of an instant and return the groups that would alert, as Alerting does.

With the Alerting plugin on the cluster, its `_execute` API runs the monitor itself. Without it (Maven
Central does not publish the Alerting plugin zip, so the local throwaway node lacks it), the monitor's
parts still run on the real engine, the way Alerting's bucket-level runner uses them: lang-mustache renders
the search input with `period_end`, the search runs, and the trigger's condition runs as a painless
`bucket_selector` inside the composite aggregation, paging through every group.

Both ways read a group the same way: the values of the bucket's `key` object, by field name, in the order of the
composite sources (Alerting's `bucket_keys` are strings in the key object's own order, so they are not used).
An answer of the wrong shape is a failed run with a one-line reason, never an exception.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deployer.rules.model import JSON
from deployer.targets.http import RequestFailed

if TYPE_CHECKING:
    from deployer.prove.engines import Engine

_SELECTOR = "detect_trigger_condition"
ALERTING = "Alerting _execute"
ON_ENGINE = "monitor input and trigger on the engine (no Alerting plugin)"
# Long enough for the engines' own explanation of a mapping problem, short enough for one line in a report.
_REASON_LIMIT = 600

Group = tuple[Any, ...]


@dataclass(frozen=True)
class MonitorRun:
    method: str  # ALERTING or ON_ENGINE
    triggered: bool
    groups: tuple[Group, ...]
    error: str | None = None


class _Malformed(Exception):
    """An answer that cannot be read; its message is the run's one-line error."""


def one_line(text: Any, limit: int = _REASON_LIMIT) -> str:
    words = " ".join(str(text).split())
    return words if len(words) <= limit else words[: limit - 1] + "…"


def group_fields(monitor: JSON) -> tuple[str, ...]:
    """The monitor's group fields: the names of its composite sources, in their order."""
    search = monitor["inputs"][0]["search"]
    (trigger,) = (item["bucket_level_trigger"] for item in monitor["triggers"])
    sources = search["query"]["aggregations"][trigger["condition"]["parent_bucket_path"]]["composite"]["sources"]
    return tuple(next(iter(source)) for source in sources)


def run_monitor(engine: Engine, monitor: JSON, period_end_ms: int) -> MonitorRun:
    """Run an unsaved monitor as of `period_end_ms`, with Alerting where the cluster has it; nothing is stored on the
    cluster. An engine error is a failed run with a one-line reason."""
    try:
        alerting = "opensearch-alerting" in engine.plugins()
    except RequestFailed as error:
        return MonitorRun("?", False, (), f"could not list the cluster's plugins (_cat/plugins): {engine_error(error)}")
    try:
        if alerting:
            return execute_with_alerting(engine, monitor, period_end_ms)
        return execute_on_engine(engine, monitor, period_end_ms)
    except RequestFailed as error:
        method, failed = (ALERTING, "Alerting _execute failed") if alerting else (ON_ENGINE, "the monitor's search failed")
        return MonitorRun(method, False, (), f"{failed}: {engine_error(error)}")


def engine_error(error: RequestFailed) -> str:
    """One line for a failed request: the status and the engine's root cause, not the exception's text."""
    if error.status is None:
        return one_line(f"no answer: {error}", 200)
    info = error.body.get("error") if isinstance(error.body, dict) else None
    if isinstance(info, dict):
        causes = info.get("root_cause")
        cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else info
        return one_line(f"HTTP {error.status}: {info.get('type', '?')}: {cause.get('reason', '')}")
    return one_line(f"HTTP {error.status}: {info if info is not None else error.body}")


def execute_with_alerting(engine: Engine, monitor: JSON, period_end_ms: int) -> MonitorRun:
    answer = engine.request("POST", "/_plugins/_alerting/monitors/_execute",
                            params={"period_end": f"{period_end_ms}ms", "dryrun": "true"}, body=monitor)
    return read_alerting_answer(answer, monitor)


def read_alerting_answer(answer: Any, monitor: JSON) -> MonitorRun:
    """The groups of an Alerting `_execute` answer for `monitor` (a bucket-level monitor with one trigger)."""
    try:
        return MonitorRun(ALERTING, *_alerting_groups(answer, group_fields(monitor)))
    except _Malformed as malformed:
        return MonitorRun(ALERTING, False, (), str(malformed))


def _alerting_groups(answer: Any, fields: tuple[str, ...]) -> tuple[bool, tuple[Group, ...], str | None]:
    if not isinstance(answer, dict):
        raise _Malformed(f"Alerting _execute answered {type(answer).__name__}, not a JSON object")
    if answer.get("error"):
        raise _Malformed(f"Alerting could not run the monitor: {one_line(answer['error'])}")
    inputs = answer.get("input_results")
    if isinstance(inputs, dict):
        if inputs.get("error"):
            raise _Malformed(f"the monitor's search failed: {one_line(inputs['error'])}")
        results = inputs.get("results", [])
        if not isinstance(results, list):
            raise _Malformed("Alerting _execute answered input_results.results that is not a list")
        for result in results:
            _raise_shard_failures(result, "Alerting _execute")
    triggers = answer.get("trigger_results")
    if not isinstance(triggers, dict) or not triggers:
        raise _Malformed("Alerting _execute answered no trigger_results")
    if len(triggers) != 1:
        raise _Malformed(f"Alerting _execute answered {len(triggers)} trigger results, the monitor has 1 trigger")
    (trigger,) = triggers.values()
    if not isinstance(trigger, dict):
        raise _Malformed("Alerting _execute answered a trigger result that is not an object")
    if trigger.get("error"):
        raise _Malformed(f"the monitor's trigger failed: {one_line(trigger['error'])}")
    # A bucket-level trigger result has no `triggered`: the groups that passed the condition are the alerts.
    buckets = trigger.get("agg_result_buckets")
    if not isinstance(buckets, dict):
        raise _Malformed("Alerting _execute answered a bucket-level trigger result without agg_result_buckets")
    groups = []
    for item in buckets.values():
        content = item.get("agg_alert_content") if isinstance(item, dict) else None
        bucket = content.get("bucket") if isinstance(content, dict) else None
        key = bucket.get("key") if isinstance(bucket, dict) else None
        if not isinstance(key, dict):
            raise _Malformed("Alerting _execute answered a group without agg_alert_content.bucket.key")
        groups.append(_group(key, fields, "Alerting _execute"))
    return bool(groups), tuple(groups), None


def _group(key: dict[str, Any], fields: tuple[str, ...], source: str) -> Group:
    values = []
    for name in fields:
        if name not in key:
            raise _Malformed(f"{source} answered a group whose key lacks {name}")
        value = key[name]
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _Malformed(f"{source} answered a group whose {name} is not a string, number or null")
        values.append(value)
    return tuple(values)


def _raise_shard_failures(result: Any, source: str) -> None:
    """A search that failed on some shards still answers 200 with partial groups: that is a failed run."""
    if not isinstance(result, dict) or "_shards" not in result:
        return
    shards = result["_shards"]
    if not isinstance(shards, dict):
        raise _Malformed(f"{source} answered _shards that is not an object")
    failed = shards.get("failed", 0)
    failures = shards.get("failures")
    if not failed and not failures:
        return
    message = f"the monitor's search failed on {failed} of {shards.get('total', '?')} shard(s)"
    if isinstance(failures, list) and failures:
        first = failures[0] if isinstance(failures[0], dict) else {}
        reason = first.get("reason")
        detail = (f"{reason.get('type', '?')}: {reason.get('reason', '')}" if isinstance(reason, dict)
                  else str(reason or "no reason given"))
        message += f": {first.get('index', '?')}: {one_line(detail)}"
        if len(failures) > 1:
            message += f" (and {len(failures) - 1} more failure(s))"
    raise _Malformed(message)


def execute_on_engine(engine: Engine, monitor: JSON, period_end_ms: int) -> MonitorRun:
    """The monitor's input and bucket trigger evaluated by the engine's own mustache and painless."""
    try:
        groups = _engine_groups(engine, monitor, period_end_ms)
    except _Malformed as malformed:
        return MonitorRun(ON_ENGINE, False, (), str(malformed))
    return MonitorRun(ON_ENGINE, bool(groups), tuple(groups))


def _engine_groups(engine: Engine, monitor: JSON, period_end_ms: int) -> list[Group]:
    search = monitor["inputs"][0]["search"]
    (trigger,) = (item["bucket_level_trigger"] for item in monitor["triggers"])
    condition = trigger["condition"]
    interval = monitor["schedule"]["period"]
    period_start_ms = period_end_ms - interval["interval"] * {"MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}[interval["unit"]]
    rendered = engine.request(
        "POST", "/_render/template",
        body={"source": json.dumps(search["query"]), "params": {"period_end": period_end_ms, "period_start": period_start_ms}})
    query = rendered.get("template_output") if isinstance(rendered, dict) else None
    if not isinstance(query, dict):
        raise _Malformed("the engine's _render/template answered no template_output object")
    groups_aggregation = (query.get("aggregations") or {}).get(condition["parent_bucket_path"])
    if not isinstance(groups_aggregation, dict) or not isinstance(groups_aggregation.get("composite"), dict):
        raise _Malformed("the engine's _render/template answered a search without the monitor's groups aggregation")
    groups_aggregation.setdefault("aggregations", {})[_SELECTOR] = {
        "bucket_selector": {"buckets_path": condition["buckets_path"], "script": copy.deepcopy(condition["script"])}}
    fields = group_fields(monitor)
    groups: list[Group] = []
    while True:
        response = engine.search(",".join(search["indices"]), query)
        _raise_shard_failures(response, "the engine's search")
        aggregations = response.get("aggregations") if isinstance(response, dict) else None
        page = aggregations.get(condition["parent_bucket_path"]) if isinstance(aggregations, dict) else None
        buckets = page.get("buckets") if isinstance(page, dict) else None
        if not isinstance(page, dict) or not isinstance(buckets, list):
            raise _Malformed("the engine's search answered no groups aggregation with buckets")
        for bucket in buckets:
            key = bucket.get("key") if isinstance(bucket, dict) else None
            if not isinstance(key, dict):
                raise _Malformed("the engine's search answered a group without a key object")
            groups.append(_group(key, fields, "the engine's search"))
        after = page.get("after_key")
        if not after or after == groups_aggregation["composite"].get("after"):
            break
        groups_aggregation["composite"]["after"] = after
    return groups

"""Run a compiled bucket-level monitor as of an instant and return the groups that would alert.

With the Alerting plugin on the cluster, its `_execute` API runs the monitor itself. Without it (Maven
Central does not publish the Alerting plugin zip, so the local throwaway node lacks it), the monitor's
parts still run on the real engine, the way Alerting's bucket-level runner uses them: lang-mustache renders
the search input with `period_end`, the search runs, and the trigger's condition runs as a painless
`bucket_selector` inside the composite aggregation, paging through every group.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from deployer.model import JSON

_SELECTOR = "detect_trigger_condition"


@dataclass(frozen=True)
class MonitorRun:
    method: str  # "Alerting _execute" or "monitor input and trigger on the engine (no Alerting plugin)"
    triggered: bool
    groups: tuple[tuple[Any, ...], ...]
    error: str | None = None


def execute_with_alerting(client: Any, monitor: JSON, period_end_ms: int) -> MonitorRun:
    result: JSON = client.transport.perform_request(
        "POST", "/_plugins/_alerting/monitors/_execute", params={"period_end": f"{period_end_ms}ms", "dryrun": "true"},
        body=monitor)
    trigger_results: JSON = result.get("trigger_results") or {}
    trigger: JSON = next(iter(trigger_results.values()), {})
    error = result.get("error") or (result.get("input_results") or {}).get("error") or trigger.get("error")
    buckets = trigger.get("agg_result_buckets") or {}
    groups = tuple(tuple(bucket["bucket_keys"]) for bucket in buckets.values())
    return MonitorRun("Alerting _execute", bool(trigger.get("triggered")), groups, str(error) if error else None)


def execute_on_engine(client: Any, monitor: JSON, period_end_ms: int) -> MonitorRun:
    """The monitor's input and bucket trigger evaluated by the engine's own mustache and painless."""
    search = monitor["inputs"][0]["search"]
    (trigger,) = (item["bucket_level_trigger"] for item in monitor["triggers"])
    condition = trigger["condition"]
    interval = monitor["schedule"]["period"]
    period_start_ms = period_end_ms - interval["interval"] * {"MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}[interval["unit"]]
    rendered = client.transport.perform_request(
        "POST", "/_render/template",
        body={"source": json.dumps(search["query"]), "params": {"period_end": period_end_ms, "period_start": period_start_ms}})
    query: JSON = rendered["template_output"]
    groups_aggregation = query["aggregations"][condition["parent_bucket_path"]]
    groups_aggregation.setdefault("aggregations", {})[_SELECTOR] = {
        "bucket_selector": {"buckets_path": condition["buckets_path"], "script": copy.deepcopy(condition["script"])}}
    groups: list[tuple[Any, ...]] = []
    sources = [next(iter(source)) for source in groups_aggregation["composite"]["sources"]]
    while True:
        response = client.search(index=",".join(search["indices"]), body=query)
        page = response["aggregations"][condition["parent_bucket_path"]]
        groups += [tuple(bucket["key"][name] for name in sources) for bucket in page["buckets"]]
        after = page.get("after_key")
        if not after or after == groups_aggregation["composite"].get("after"):
            break
        groups_aggregation["composite"]["after"] = after
    return MonitorRun("monitor input and trigger on the engine (no Alerting plugin)", bool(groups), tuple(groups))

"""How OpenSearch Alerting runs a rule's monitor, for `detect test`: its search input rendered as of the run's period
end, which fixture events that query selects, then the whole monitor (groups and trigger) twice: on every fixture
event, where it must alert once per expected group, and on the near misses only, where it must stay silent.

The proof's indices stand in for the monitor's index patterns; everything else comes from the monitor a deploy sends.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

from deployer.prove.verdict import GroupVerdict, MatchVerdict, expected_groups, key_of
from deployer.rules.model import JSON
from deployer.targets.opensearch.compile import compile_rule
from deployer.targets.opensearch.monitor_run import group_fields, run_monitor

if TYPE_CHECKING:
    from deployer.prove.case import ProofCase
    from deployer.prove.engines import Engine


def prove_rule(engine: Engine, case: ProofCase) -> None:
    """Record on `case.proof` the events the monitor's query selects and the groups each of its two runs alerts on."""
    rule, proof = case.rule, case.proof
    period_end_ms = int(case.instant.timestamp() * 1000)
    monitor = compile_rule(rule)
    proof.matches = MatchVerdict("query DSL" if rule.language == "dsl" else "EQL translated to query DSL", case.expected,
                                 tuple(engine.matching_ids(case.indices.everything, rendered_query(monitor, period_end_ms))))
    if rule.language == "eql":
        proof.notes.append("OpenSearch has no EQL: the rule ran as its query DSL translation")
    matching_events = [event for event in case.rule_fixtures.events if event.expected]
    fields = group_fields(monitor)
    for label, index, events in (("all fixtures", case.indices.everything, matching_events),
                                 ("nomatch only", case.indices.nomatch_only, [])):
        proof.groups.append(_monitor_verdict(engine, monitor, index, period_end_ms, label, expected_groups(events, fields)))


def rendered_query(monitor: JSON, period_end_ms: int) -> JSON:
    """The query of the monitor's search input as Alerting renders it for a run ending at `period_end_ms`."""
    query = monitor["inputs"][0]["search"]["query"]["query"]
    rendered: JSON = json.loads(json.dumps(query).replace("{{period_end}}", str(period_end_ms)))
    return rendered


def _monitor_verdict(engine: Engine, monitor: JSON, index: str, period_end_ms: int, label: str,
                     wanted: tuple[tuple[str, ...], ...]) -> GroupVerdict:
    runnable = copy.deepcopy(monitor)
    runnable["inputs"][0]["search"]["indices"] = [index]
    try:
        run = run_monitor(engine, runnable, period_end_ms)
    except Exception as failure:  # the monitor step fails on its own; the query verdict still stands
        return GroupVerdict(label, wanted, (), False, f"{type(failure).__name__}: {failure}")
    groups = tuple(sorted(key_of(keys) for keys in run.groups))
    return GroupVerdict(label, wanted, groups, run.triggered, run.error, run.method)

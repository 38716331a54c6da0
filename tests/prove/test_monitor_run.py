"""Reading a monitor run: Alerting's real `_execute` answers (recorded from OpenSearch 2.19.6 with Alerting 2.19.6.0)
and the on-engine run of the same monitor on the real local node must give the same groups, compared the same way
with the groups the fixtures expect; every malformed answer is a failed run with a one-line reason.

The recorded answers live outside the project, in the folder named by $DETECT_ALERTING_CONTRACTS (.ci/run sets it).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.cluster.node import RunningNode
from deployer.prove.clusters import connect
from deployer.prove.engines import Engine, HttpEngine, settings_for_url
from deployer.prove.fixtures import FixtureEvent
from deployer.prove.verdict import GroupVerdict, expected_groups, key_of
from deployer.rules.datasource import load_data_source
from deployer.targets.http import JsonApi, RetryPolicy
from deployer.targets.opensearch.monitor_run import MonitorRun, execute_on_engine, read_alerting_answer, run_monitor

CONTRACTS_ENV = "DETECT_ALERTING_CONTRACTS"
EXECUTE = "alerting-execute-2.19.6.json"
DYNAMIC = "alerting-execute-dynamic-mapping-2.19.6.json"
TRIGGER = "4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11"
PATTERN = "detect-monitor-run-*"

Answer = dict[str, Any]


def _contract(name: str) -> Answer:
    folder = os.environ.get(CONTRACTS_ENV)
    if not folder or not (Path(folder) / name).is_file():
        pytest.skip(f"${CONTRACTS_ENV} does not name the folder of the recorded Alerting answers ({folder!r})")
    recorded: Answer = json.loads((Path(folder) / name).read_text("utf-8"))
    return recorded


@pytest.fixture(scope="module")
def recorded() -> Answer:
    return _contract(EXECUTE)


@pytest.fixture(scope="module")
def monitor(recorded: Answer) -> Answer:
    body: Answer = recorded["request_body"]
    return body


def _group_fields(monitor: Answer) -> tuple[str, ...]:
    sources = monitor["inputs"][0]["search"]["query"]["aggregations"]["groups"]["composite"]["sources"]
    return tuple(next(iter(source)) for source in sources)


def _recorded_events(recorded: Answer) -> list[FixtureEvent]:
    """The recorded run's three matching events, rebuilt from their buckets (each bucket holds one event)."""
    events = []
    for number, bucket in enumerate(recorded["response"]["input_results"]["results"][0]["aggregations"]["groups"]["buckets"]):
        document: dict[str, Any] = {"@timestamp": bucket["first_time"]["value_as_string"]}
        for dotted, value in bucket["key"].items():
            node = document
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        events.append(FixtureEvent("match.ndjson", number + 1, True, document))
    return events


def test_groups_of_the_recorded_answer_are_read_by_field_name(recorded: Answer, monitor: Answer) -> None:
    run = read_alerting_answer(recorded["response"], monitor)
    assert run.error is None
    assert run.triggered
    fields = _group_fields(monitor)
    # The bucket's key object lists the fields in another order than the composite sources; groups follow the sources.
    assert list(recorded["response"]["input_results"]["results"][0]["aggregations"]["groups"]["buckets"][0]["key"]) != list(fields)
    assert sorted(key_of(group) for group in run.groups) == list(expected_groups(_recorded_events(recorded), fields))
    pid = fields.index("process.pid")
    assert sorted(group[pid] for group in run.groups) == [5140, 7732, 8820]


def test_no_group_means_not_triggered(recorded: Answer, monitor: Answer) -> None:
    answer = copy.deepcopy(recorded["response"])
    answer["trigger_results"][TRIGGER]["agg_result_buckets"] = {}
    assert read_alerting_answer(answer, monitor) == MonitorRun("Alerting _execute", False, ())


def test_the_dynamic_mapping_answer_is_a_failed_run_naming_the_index(monitor: Answer) -> None:
    answer = _contract(DYNAMIC)["response"]
    run = read_alerting_answer(answer, monitor)
    assert run.error == (
        "the monitor's search failed on 1 of 2 shard(s): logs-windows.sysmon_operational-dyn: illegal_argument_exception: "
        "Text fields are not optimised for operations that require per-document field data like aggregations and "
        "sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set "
        "fielddata=true on [process.executable] in order to load field data by uninverting the inverted index. Note "
        "that this can use significant memory.")
    verdict = GroupVerdict("all fixtures", (("x",),), tuple(key_of(group) for group in run.groups), run.triggered,
                           run.error, run.method)
    assert not verdict.ok


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        node: Any = answer
        for key in path[:-1]:
            node = node[key] if not isinstance(key, int) else list(node.values())[key]
        if isinstance(path[-1], int):
            node[list(node)[path[-1]]] = value
        else:
            node[path[-1]] = value
    return change


def _drop(path: tuple[str | int, ...]) -> Callable[[Answer], None]:
    def change(answer: Answer) -> None:
        node: Any = answer
        for key in path[:-1]:
            node = node[key] if not isinstance(key, int) else list(node.values())[key]
        del node[path[-1] if not isinstance(path[-1], int) else list(node)[path[-1]]]
    return change


_BUCKET = ("trigger_results", TRIGGER, "agg_result_buckets", 0)
MALFORMED: dict[str, tuple[Callable[[Answer], None], str]] = {
    "answer is not an object": (lambda answer: answer.clear(), "Alerting _execute answered no trigger_results"),
    "monitor error": (_set(("error",), "failed to run\n  at X"), "Alerting could not run the monitor: failed to run at X"),
    "input error": (_set(("input_results", "error"), "no such index"), "the monitor's search failed: no such index"),
    "trigger error": (_set(("trigger_results", TRIGGER, "error"), "script failed"),
                      "the monitor's trigger failed: script failed"),
    "no trigger results": (_drop(("trigger_results",)), "Alerting _execute answered no trigger_results"),
    "trigger results a list": (_set(("trigger_results",), []), "Alerting _execute answered no trigger_results"),
    "two trigger results": (lambda answer: answer["trigger_results"].update(other={}),
                            "Alerting _execute answered 2 trigger results, the monitor has 1 trigger"),
    "trigger result not an object": (_set(("trigger_results", TRIGGER), "x"),
                                     "Alerting _execute answered a trigger result that is not an object"),
    "no agg_result_buckets": (_drop(("trigger_results", TRIGGER, "agg_result_buckets")),
                              "Alerting _execute answered a bucket-level trigger result without agg_result_buckets"),
    "agg_result_buckets null": (_set(("trigger_results", TRIGGER, "agg_result_buckets"), None),
                                "Alerting _execute answered a bucket-level trigger result without agg_result_buckets"),
    "bucket without agg_alert_content": (_set(_BUCKET, {"bucket_keys": ["a"]}),
                                         "Alerting _execute answered a group without agg_alert_content.bucket.key"),
    "bucket without key": (_drop((*_BUCKET, "agg_alert_content", "bucket", "key")),
                           "Alerting _execute answered a group without agg_alert_content.bucket.key"),
    "key is a string": (_set((*_BUCKET, "agg_alert_content", "bucket", "key"), "18#S-1-5-18"),
                        "Alerting _execute answered a group without agg_alert_content.bucket.key"),
    "key lacks a group field": (_drop((*_BUCKET, "agg_alert_content", "bucket", "key", "process.pid")),
                                "Alerting _execute answered a group whose key lacks process.pid"),
    "key value an object": (_set((*_BUCKET, "agg_alert_content", "bucket", "key", "host.name"), {"a": 1}),
                            "Alerting _execute answered a group whose host.name is not a string, number or null"),
    "shards not an object": (lambda answer: answer["input_results"]["results"][0].update(_shards=[1]),
                             "Alerting _execute answered _shards that is not an object"),
    "failures not a list": (lambda answer: answer["input_results"]["results"][0]["_shards"].update(failed=1, failures="x"),
                            "the monitor's search failed on 1 of 1 shard(s)"),
    "results not a list": (_set(("input_results", "results"), {"a": 1}),
                           "Alerting _execute answered input_results.results that is not a list"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_answer_is_a_failed_run_with_one_line(recorded: Answer, monitor: Answer, case: str) -> None:
    change, reason = MALFORMED[case]
    answer = copy.deepcopy(recorded["response"])
    change(answer)
    run = read_alerting_answer(answer, monitor)
    assert run.error == reason
    assert "\n" not in run.error


@pytest.mark.parametrize("answer", ["<html>login</html>", None, [1, 2], 3])
def test_an_answer_that_is_not_an_object_is_a_failed_run(monitor: Answer, answer: Any) -> None:
    run = read_alerting_answer(answer, monitor)
    assert run.error == f"Alerting _execute answered {type(answer).__name__}, not a JSON object"
    assert not run.triggered and run.groups == ()


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                            max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_part_of_the_answer_replaced_gives_a_run_or_one_line(recorded: Answer, monitor: Answer, data: st.DataObject) -> None:
    answer = copy.deepcopy(recorded["response"])
    paths = list(_paths(answer))[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        node: Any = answer
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = data.draw(_JSON_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this place
    run = read_alerting_answer(answer, monitor)
    assert run.error is None or ("\n" not in run.error and "Error" not in run.error), run.error
    assert all(len(group) == len(_group_fields(monitor)) for group in run.groups)


# --- the same monitor on the real local node, without Alerting --------------------------------------------------


@pytest.fixture(scope="module")
def engine(opensearch_node: RunningNode) -> Iterator[Engine]:
    engine = connect("opensearch", settings_for_url(opensearch_node.url))
    yield engine
    engine.delete_indices([PATTERN])
    engine.close()


def _index(engine: Engine, index: str, mappings: dict[str, Any] | None, events: list[FixtureEvent]) -> None:
    engine.delete_indices([index])
    body: dict[str, Any] = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}}
    if mappings is not None:
        body["mappings"] = mappings
    engine.request("PUT", f"/{index}", body=body)
    engine.bulk_index([(index, event) for event in events])
    engine.refresh([index])


def _sysmon_mapping() -> dict[str, Any]:
    source = load_data_source("windows.sysmon_operational")
    assert source is not None
    return source.index_mapping()


def _on(monitor: Answer, indices: list[str]) -> Answer:
    runnable = copy.deepcopy(monitor)
    runnable["inputs"][0]["search"]["indices"] = indices
    return runnable


def test_alerting_and_the_engine_give_the_same_groups(engine: Engine, recorded: Answer, monitor: Answer) -> None:
    events = _recorded_events(recorded)
    _index(engine, "detect-monitor-run-keyword", _sysmon_mapping(), events)
    on_engine = execute_on_engine(engine, _on(monitor, ["detect-monitor-run-keyword"]), recorded["period_end_ms"])
    from_alerting = read_alerting_answer(recorded["response"], monitor)
    assert on_engine.error is None and on_engine.triggered
    wanted = expected_groups(events, _group_fields(monitor))
    assert sorted(key_of(group) for group in on_engine.groups) == list(wanted)
    assert sorted(key_of(group) for group in from_alerting.groups) == list(wanted)
    # Not only as text: the values themselves agree, numbers as numbers (bucket_keys would have "8820").
    assert sorted(on_engine.groups, key=repr) == sorted(from_alerting.groups, key=repr)


def test_a_text_mapped_index_fails_the_engine_run_with_its_name(engine: Engine, recorded: Answer,
                                                                  monitor: Answer) -> None:
    events = _recorded_events(recorded)
    _index(engine, "detect-monitor-run-keyword", _sysmon_mapping(), events)
    _index(engine, "detect-monitor-run-dynamic", None, events)  # dynamic mapping: text + .keyword, as Logstash writes
    run = run_monitor(engine, _on(monitor, [PATTERN]), recorded["period_end_ms"])
    assert run.error is not None
    assert run.error.startswith("the monitor's search failed on 1 of 2 shard(s): detect-monitor-run-dynamic: "
                                "illegal_argument_exception: Text fields are not optimised"), run.error
    assert "\n" not in run.error


def test_an_engine_error_is_a_failed_run_with_one_line(engine: Engine, recorded: Answer, monitor: Answer) -> None:
    _index(engine, "detect-monitor-run-dynamic", None, _recorded_events(recorded))
    run = run_monitor(engine, _on(monitor, ["detect-monitor-run-dynamic"]), recorded["period_end_ms"])
    assert run.error is not None and run.error.startswith("the monitor's search failed: HTTP 400: "), run.error
    assert "TransportError" not in run.error and "\n" not in run.error


def test_group_keys_compare_as_json_text_whatever_side_gave_them() -> None:
    engine_side = key_of((8820, True, None, "a"))  # the composite aggregation gives numbers and booleans as such
    fixture_side = expected_groups([FixtureEvent("match.ndjson", 1, True, {"p": "8820", "b": "true", "s": "a"})],
                                   ("p", "b", "n", "s"))
    assert fixture_side == (engine_side,) == (("8820", "true", "null", "a"),)


def test_a_cluster_gone_mid_proof_is_a_failed_run_with_a_short_line(monitor: Answer) -> None:
    # Its plugins as read when the cluster still answered (no Alerting); nothing answers there now.
    gone = HttpEngine("opensearch", JsonApi("http://127.0.0.1:9", headers={}, retry=RetryPolicy(attempts=1), timeout=5),
                      "2.19.6", plugins=frozenset())
    run = run_monitor(gone, _on(monitor, [PATTERN]), 0)
    assert run.error is not None and run.error.startswith("the monitor's search failed: no answer: "), run.error
    assert len(run.error) < 250 and "\n" not in run.error

"""Our Alerting monitors against Alerting's own parser (common-utils' Monitor.parse), like the Kibana OpenAPI contract.

Every case below is answered by one JVM (the session-scoped `answers` fixture): the golden monitors, the
monitors compiled from the tests' rules (tests/data/detections/), and broken monitors that prove the check can fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deployer.rules.model import Rule
from deployer.targets.opensearch import GROUPS_AGGREGATION, SEVERITY, compile_rule
from tests.conftest import DETECTIONS
from tests.support.alerting.contract import ParseResult, ignored_fields, parse_monitors
from tests.targets.golden import GOLDEN

GOLDEN_MONITORS = sorted(GOLDEN.glob("*.opensearch.json"))
RULES = sorted(DETECTIONS.glob("*.json"))
BASE = GOLDEN / "windows_app_layer_protocol_qakbot_namedpipe.opensearch.json"

Monitor = dict[str, Any]


def _golden(path: Path) -> Callable[[], Monitor]:
    return lambda: json.loads(path.read_text("utf-8"))


def _compiled(path: Path) -> Callable[[], Monitor]:
    return lambda: compile_rule(Rule.from_document(path, json.loads(path.read_text("utf-8"))))


def _trigger(monitor: Monitor) -> Monitor:
    trigger: Monitor = monitor["triggers"][0]["bucket_level_trigger"]
    return trigger


def _search(monitor: Monitor) -> Monitor:
    search: Monitor = monitor["inputs"][0]["search"]
    return search


def _broken(change: Callable[[Monitor], Any]) -> Callable[[], Monitor]:
    def build() -> Monitor:
        monitor: Monitor = json.loads(BASE.read_text("utf-8"))
        change(monitor)
        return monitor

    return build


VALID: dict[str, Callable[[], Monitor]] = {
    **{f"golden/{path.name}": _golden(path) for path in GOLDEN_MONITORS},
    **{f"compiled/{path.name}": _compiled(path) for path in RULES},
}

# name -> (broken monitor, a part of Alerting's error message that names the reason)
INVALID: dict[str, tuple[Callable[[], Monitor], str]] = {
    "trigger without condition": (_broken(lambda m: _trigger(m).pop("condition")),
                                  "UninitializedPropertyAccessException: lateinit property bucketSelector"),
    "trigger without severity": (_broken(lambda m: _trigger(m).pop("severity")),
                                 "UninitializedPropertyAccessException: lateinit property severity"),
    "trigger without name": (_broken(lambda m: _trigger(m).pop("name")), "lateinit property name"),
    "condition without parent_bucket_path": (_broken(lambda m: _trigger(m)["condition"].pop("parent_bucket_path")),
                                             "Missing required field [parent_bucket_path]"),
    "condition without script": (_broken(lambda m: _trigger(m)["condition"].pop("script")), "Missing required field [script]"),
    "schedule unit SECONDS": (_broken(lambda m: m["schedule"]["period"].update(unit="SECONDS")),
                              "Seconds is not supported expected [Minutes, Hours, Days]"),
    "schedule interval 0": (_broken(lambda m: m["schedule"]["period"].update(interval=0)), "Interval is not allowed to be 0 or negative"),
    "no schedule": (_broken(lambda m: m.pop("schedule")), "Monitor schedule is null"),
    "no name": (_broken(lambda m: m.pop("name")), "Monitor name is null"),
    "monitor_type bogus": (_broken(lambda m: m.update(monitor_type="bogus-monitor")),
                           "IllegalStateException: Monitor type should follow pattern [a-zA-Z0-9_]{5,25}"),
    "query_level_trigger in a bucket-level monitor": (
        _broken(lambda m: m.update(triggers=[{"query_level_trigger": {
            "name": "t", "severity": "1", "condition": {"script": {"source": "true", "lang": "painless"}}, "actions": []}}])),
        "Incompatible trigger"),
    "unknown query clause": (_broken(lambda m: _search(m)["query"]["query"]["bool"]["filter"].append({"regex": {"file.name": "x"}})),
                             "unknown query [regex]"),
    "unknown composite option": (_broken(lambda m: _search(m)["query"]["aggregations"][GROUPS_AGGREGATION]["composite"].update(siz=5)),
                                 "[composite] unknown field [siz]"),
    "range with an unknown option": (_broken(lambda m: _search(m)["query"]["query"]["bool"]["filter"][0]["range"]["@timestamp"].update(after="x")),
                                     "[range] query does not support [after]"),
    "two search inputs": (_broken(lambda m: m["inputs"].append(copy.deepcopy(m["inputs"][0]))), "Monitors can only have 1 search input"),
}

# Keys Alerting's parsers skip without a word: parsing succeeds, ignored_fields must name them.
SILENTLY_IGNORED: dict[str, tuple[Callable[[], Monitor], list[str]]] = {
    "typo in trigger key": (_broken(lambda m: _trigger(m).update(severty="1")),
                            ["/triggers/0/bucket_level_trigger/severty"]),
    "typo in monitor key": (_broken(lambda m: m.update(ui_metdata=m.pop("ui_metadata"))), ["/ui_metdata"]),
    "unknown search input key": (_broken(lambda m: _search(m).update(size=0)), ["/inputs/0/search/size"]),
}


@pytest.fixture(scope="session")
def answers() -> dict[str, tuple[Monitor, ParseResult]]:
    """Every case of this module, answered by Alerting's parser in a single JVM."""
    cases: dict[str, Monitor] = {name: build() for name, build in VALID.items()}
    cases.update({name: build() for name, (build, _) in INVALID.items()})
    cases.update({name: build() for name, (build, _) in SILENTLY_IGNORED.items()})
    cases["monitor_type of the right shape"] = _broken(lambda m: m.update(monitor_type="bogus_monitor"))()
    results = parse_monitors(list(cases.values()))
    assert len(results) == len(cases)
    return {name: (monitor, result) for (name, monitor), result in zip(cases.items(), results, strict=True)}


def test_cases_cover_the_repository() -> None:
    assert len(GOLDEN_MONITORS) >= 2 and len(RULES) >= 2


@pytest.mark.parametrize("name", list(VALID))
def test_alerting_parses_our_monitor(name: str, answers: dict[str, tuple[Monitor, ParseResult]]) -> None:
    sent, result = answers[name]
    assert result.ok, f"Alerting rejects {name}: {result.message}"
    assert result.deprecations == ()
    assert ignored_fields(sent, result.reserialized) == [], "Alerting silently dropped these keys"


@pytest.mark.parametrize("name", list(VALID))
def test_alerting_keeps_what_matters(name: str, answers: dict[str, tuple[Monitor, ParseResult]]) -> None:
    sent, result = answers[name]
    assert result.ok and result.reserialized is not None, result.message
    kept = result.reserialized
    assert kept["monitor_type"] == "bucket_level_monitor"
    assert kept["name"] == sent["name"] and kept["enabled"] is sent["enabled"]
    assert kept["schedule"] == {"period": {"interval": 1, "unit": "HOURS"}} == sent["schedule"]
    assert kept["ui_metadata"] == sent["ui_metadata"]

    [search_input] = kept["inputs"]
    search, sent_search = search_input["search"], _search(sent)
    assert search["indices"] == sent_search["indices"]
    request = search["query"]
    assert request["size"] == 0
    window = request["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    sent_window = sent_search["query"]["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert sent_window["gte"] == "{{period_end}}||-70m" and sent_window["lt"] == "{{period_end}}||-10m"
    # Alerting renders {{period_end}} into the re-serialized request at run time: the template must survive.
    assert window == {"from": "{{period_end}}||-70m", "to": "{{period_end}}||-10m", "include_lower": True,
                      "include_upper": False, "format": "epoch_millis", "boost": 1.0}

    groups = request["aggregations"][GROUPS_AGGREGATION]
    sent_groups = sent_search["query"]["aggregations"][GROUPS_AGGREGATION]
    assert groups["composite"]["size"] == sent_groups["composite"]["size"]
    sources = [(name, spec["terms"]["field"], spec["terms"]["missing_bucket"])
               for source in groups["composite"]["sources"] for name, spec in source.items()]
    sent_sources = [(name, spec["terms"]["field"], spec["terms"]["missing_bucket"])
                    for source in sent_groups["composite"]["sources"] for name, spec in source.items()]
    assert sources == sent_sources and all(missing for _, _, missing in sources)
    assert groups["aggregations"] == {"first_time": {"min": {"field": "@timestamp"}}, "last_time": {"max": {"field": "@timestamp"}}}

    [trigger] = kept["triggers"]
    body = trigger["bucket_level_trigger"]
    sent_body = _trigger(sent)
    assert body["id"] == sent_body["id"] and body["name"] == sent_body["name"]
    assert body["severity"] == sent_body["severity"] == SEVERITY[sent["ui_metadata"]["detect"]["severity"]]
    condition = body["condition"]
    assert condition["parent_bucket_path"] == GROUPS_AGGREGATION
    assert condition["buckets_path"] == {"count": "_count"}
    assert condition["script"] == {"source": "params.count > 0", "lang": "painless"}
    assert body["actions"] == []


@pytest.mark.parametrize("name", list(INVALID))
def test_alerting_rejects_broken_monitor(name: str, answers: dict[str, tuple[Monitor, ParseResult]]) -> None:
    _, result = answers[name]
    expected = INVALID[name][1]
    assert not result.ok, f"Alerting accepted the broken monitor {name!r}"
    assert expected in result.message, result.message


@pytest.mark.parametrize("name", list(SILENTLY_IGNORED))
def test_ignored_keys_are_named(name: str, answers: dict[str, tuple[Monitor, ParseResult]]) -> None:
    sent, result = answers[name]
    assert result.ok, result.message
    assert ignored_fields(sent, result.reserialized) == SILENTLY_IGNORED[name][1]


def test_parser_only_checks_the_shape_of_monitor_type(answers: dict[str, tuple[Monitor, ParseResult]]) -> None:
    """Since 2.x Alerting takes any `monitor_type` matching [a-zA-Z0-9_]{5,25} (extension monitor types) and skips the
    trigger-type check for them: the contract alone does not catch a wrong type of the right shape, the shape test does."""
    _, result = answers["monitor_type of the right shape"]
    assert result.ok and result.reserialized is not None, result.message
    assert result.reserialized["monitor_type"] == "bogus_monitor"

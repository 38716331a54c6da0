"""Checks beyond the schema (deployer/rules/semantics.py) that production would otherwise meet first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.node import RunningNode
from deployer.rules.ruleset import validate_paths
from deployer.targets import target_kind
from tests.conftest import REPO, mutated


def test_placeholders_left_by_detect_new_are_refused_one_line_per_field(
        dsl_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    def leave_placeholders(document: dict[str, Any]) -> None:
        document.update(name="TODO: name", description="  todo: describe it", false_positives=["admins", "TODO: list"])

    validation = validate_paths([write_rule(mutated(dsl_document, leave_placeholders))])
    assert [str(problem) for problem in validation.problems] == [
        f"rules/rule.json: {pointer}: still the placeholder {text!r}: write the rule's own {key} here "
        "(text starting with 'TODO:' is left by detect new for a person to write)"
        for pointer, text, key in [("/name", "TODO: name", "name"), ("/description", "todo: describe it", "description"),
                                   ("/false_positives/1", "TODO: list", "false_positives")]]
    assert validation.rules == []


def test_a_todo_inside_the_text_is_not_a_placeholder(dsl_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    document = mutated(dsl_document, lambda d: d.update(description="Named pipes; see the TODO: list of the seed."))
    assert validate_paths([write_rule(document)]).problems == []


def test_an_eql_newline_in_a_path_is_refused(eql_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    document = mutated(eql_document, lambda d: d.update(query='process where process.executable : "*\\notepad.exe"'))
    assert [str(problem) for problem in validate_paths([write_rule(document)]).problems] == [
        "rules/rule.json: /query: string \"*\\notepad.exe\" compared with process.executable holds a newline (EQL reads "
        "'\\n' as an escape): write '\\\\' for a backslash, \"*\\\\notepad.exe\", or use a raw string, \"\"\"*\\notepad.exe\"\"\""]


def test_a_regexp_lucene_cannot_determinize_is_refused(dsl_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    def blow_up(document: dict[str, Any]) -> None:
        document["query"]["bool"]["filter"][3]["regexp"]["file.name"]["value"] = "(a|b)*a(a|b){20}"
        document["query"]["bool"]["filter"][2]["bool"]["should"][0]["wildcard"]["process.executable"]["value"] = \
            "*a?????????????"

    problems = validate_paths([write_rule(mutated(dsl_document, blow_up))]).problems
    assert [str(problem) for problem in problems] == [
        "rules/rule.json: /query/bool/filter/2/bool/should/0/wildcard/process.executable/value: wildcard "
        "'*a?????????????' is refused by the engines on every run, as too complex for Lucene: determinizing its "
        "automaton needs more than 10000 effort (max_determinized_states)",
        "rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp '(a|b)*a(a|b){20}' is refused by the "
        "engines on every run, as too complex for Lucene: determinizing its automaton needs more than 10000 effort "
        "(max_determinized_states)"]


def test_an_eql_regex_lucene_cannot_determinize_is_refused(eql_document: dict[str, Any],
                                                          write_rule: Callable[..., Path]) -> None:
    document = mutated(eql_document, lambda d: d.update(query='file where file.name regex "(a|b)*a(a|b){20}"'))
    assert [str(problem) for problem in validate_paths([write_rule(document)]).problems] == [
        "rules/rule.json: /query: regexp '(a|b)*a(a|b){20}' is refused by the engines on every run, as too complex "
        "for Lucene: determinizing its automaton needs more than 10000 effort (max_determinized_states)"]


def test_a_regexp_longer_than_the_engines_allow_is_refused_as_the_engine_refuses_it(
        dsl_document: dict[str, Any], write_rule: Callable[..., Path], opensearch_node: RunningNode) -> None:
    import json
    import urllib.error
    import urllib.request

    def engine_accepts(pattern: str) -> bool:
        body = json.dumps({"query": {"regexp": {"file.name": {"value": pattern}}}}).encode()
        request = urllib.request.Request(f"{opensearch_node.url}/detect-regex-length/_search", body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60):
                return True
        except urllib.error.HTTPError:
            return False

    create = urllib.request.Request(f"{opensearch_node.url}/detect-regex-length", json.dumps(
        {"mappings": {"properties": {"file": {"properties": {"name": {"type": "keyword"}}}}}}).encode(), method="PUT",
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(create, timeout=60).close()
    try:
        for length, refused in ((1000, False), (1001, True)):
            pattern = "a" * length
            document = mutated(dsl_document, lambda d, p=pattern: d["query"]["bool"]["filter"][3]["regexp"]["file.name"]
                               .__setitem__("value", p))
            problems = [str(problem) for problem in validate_paths([write_rule(document)]).problems]
            assert engine_accepts(pattern) is not refused
            assert problems == ([f"rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp 'aaaaaaaaaaaaaaaaaaaaaaa"
                                 f"aaaaaaaaaaaaaaaaa'... is {length} characters long: the engines refuse regexps longer "
                                 "than 1000 (index.max_regex_length) on every run"] if refused else [])
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{opensearch_node.url}/detect-regex-length", method="DELETE"),
                               timeout=60).close()


def _problems(document: dict[str, Any], write_rule: Callable[..., Path]) -> list[str]:
    return [str(problem) for problem in validate_paths([write_rule(document)]).problems]


def test_fields_named_outside_the_query_must_be_the_rules_fields(eql_document: dict[str, Any],
                                                                 write_rule: Callable[..., Path]) -> None:
    def name_unknown_fields(document: dict[str, Any]) -> None:
        document.update(
            investigation_fields={"field_names": ["host.name", "winlog.event_data.Imagee"]},
            severity_mapping=[{"field": "event.severity_name", "operator": "equals", "value": "x", "severity": "low"}],
            risk_score_mapping=[{"field": "event.risk_score", "operator": "equals", "value": ""},
                                {"field": "winlog.risk", "operator": "equals", "value": ""}],
            rule_name_override="rule.nam", tiebreaker_field="event.sequenc", timestamp_field="event.creatd",
            required_fields=[{"name": "file.name", "type": "keyword"}, {"name": "file.nam", "type": "keyword"}])

    not_in = "is not in data source windows.sysmon_operational"
    assert _problems(mutated(eql_document, name_unknown_fields), write_rule) == [
        f"rules/rule.json: {pointer}: field {field!r} {not_in}" for pointer, field in [
            ("/investigation_fields/field_names/1", "winlog.event_data.Imagee"), ("/rule_name_override", "rule.nam"),
            ("/tiebreaker_field", "event.sequenc"), ("/timestamp_field", "event.creatd"),
            ("/severity_mapping/0/field", "event.severity_name"), ("/risk_score_mapping/1/field", "winlog.risk"),
            ("/required_fields/1/name", "file.nam")]]


def test_the_fields_kibanas_own_rules_name_are_accepted(eql_document: dict[str, Any],
                                                        write_rule: Callable[..., Path]) -> None:
    """What Elastic's prebuilt rules spell (ECS fields, Kibana's date field for the window) validates."""
    def name_known_fields(document: dict[str, Any]) -> None:
        document.update(
            timestamp_override="event.ingested", investigation_fields={"field_names": ["host.name", "process.pid"]},
            severity_mapping=[{"field": "event.code", "operator": "equals", "value": "17", "severity": "critical"}],
            risk_score_mapping=[{"field": "event.risk_score", "operator": "equals", "value": ""}],
            rule_name_override="process.executable", event_category_override="event.type",
            tiebreaker_field="event.sequence", timestamp_field="event.created",
            required_fields=[{"name": "file.name", "type": "keyword"}, {"name": "process.pid", "type": "long"},
                             {"name": "process.command_line.text", "type": "match_only_text"}])

    assert _problems(mutated(eql_document, name_known_fields), write_rule) == []


def test_the_window_is_on_a_date_field(eql_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    assert _problems(mutated(eql_document, lambda d: d.update(timestamp_override="event.code")), write_rule) == [
        "rules/rule.json: /timestamp_override: timestamp_override 'event.code' is a keyword field in data source "
        "windows.sysmon_operational: Kibana searches the rule's window on it, which needs a date or date_nanos field"]
    # A rule without a data source is checked against ECS (no data source reads its index pattern).
    for field, expected in (("process.start", []), ("process.name", [
            "rules/rule.json: /timestamp_override: timestamp_override 'process.name' is a keyword field in ECS 9.4.0: "
            "Kibana searches the rule's window on it, which needs a date or date_nanos field"])):
        without_data_source = mutated(eql_document, lambda d, f=field: (d.pop("data_source"), d.update(
            index=["logs-endpoint.events.process-*"], timestamp_override=f)))
        assert [problem for problem in _problems(without_data_source, write_rule) if "/timestamp_override" in problem] \
            == expected


def test_events_are_not_ordered_by_a_text_field(eql_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    assert _problems(mutated(eql_document, lambda d: d.update(tiebreaker_field="message")), write_rule) == [
        "rules/rule.json: /tiebreaker_field: tiebreaker_field 'message' is a text field in data source "
        "windows.sysmon_operational: Elasticsearch sorts events on it, which it cannot do on a text field"]


def test_declared_required_fields_have_the_type_the_fields_give(eql_document: dict[str, Any],
                                                                write_rule: Callable[..., Path]) -> None:
    declared = [{"name": "process.pid", "type": "keyword"}, {"name": "process.command_line", "type": "wildcard"}]
    assert _problems(mutated(eql_document, lambda d: d.update(required_fields=declared)), write_rule) == [
        "rules/rule.json: /required_fields/0/type: required field 'process.pid' is declared keyword, but it is a long "
        "field in data source windows.sysmon_operational"]
    # The data source's own type wins over ECS's: where it maps process.executable as keyword, ECS's wildcard is off.
    ecs_type = [{"name": "process.executable", "type": "wildcard"}]
    assert _problems(mutated(eql_document, lambda d: d.update(required_fields=ecs_type)), write_rule) == [
        "rules/rule.json: /required_fields/0/type: required field 'process.executable' is declared wildcard, but it "
        "is a keyword field in data source windows.sysmon_operational"]


def test_an_event_category_override_is_the_field_the_query_tests(eql_document: dict[str, Any],
                                                                 write_rule: Callable[..., Path]) -> None:
    """`file where` tests the override instead of event.category: the override must be a field, event.category
    need not be named."""
    assert _problems(mutated(eql_document, lambda d: d.update(event_category_override="winlog.category")),
                     write_rule) == ["rules/rule.json: /event_category_override: field 'winlog.category' is not in data "
                                     "source windows.sysmon_operational"]


def test_elastics_rules_meet_no_problem_outside_their_query_that_kibana_would_not(in_tmp: Path) -> None:
    """Elastic's prebuilt EQL rules as `detect import` writes them: 26 of the sample's 30 set timestamp_override, many
    name investigation fields. None is refused for a field outside its query unless its query names fields the
    rule's fields lack too (the integration fields ECS does not have): the new checks add no false problem."""
    corpus = REPO.parent / "shared" / "corpus" / "elastic-prebuilt-sample.ndjson"
    if not corpus.is_file():
        pytest.skip(f"the rule corpus is not here ({corpus}): it sits beside the repository in CI")
    rules = [rule for rule in map(json.loads, corpus.read_text("utf-8").splitlines()) if rule["type"] == "eql"]
    (in_tmp / "rules").mkdir()
    paths = []
    for number, rule in enumerate(rules):
        document, _ = target_kind("kibana").decompile_rule(rule)
        paths.append(in_tmp / "rules" / f"{number}.json")
        paths[-1].write_text(json.dumps(document), "utf-8")
    problems = validate_paths(paths).problems
    with_query_problems = {problem.file for problem in problems if problem.pointer.startswith("/query")}
    assert {problem.file for problem in problems} == with_query_problems
    assert sum("timestamp_override" in rule for rule in rules) >= 20  # the checks have something to check

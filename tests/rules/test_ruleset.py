"""The table of bad rules: each gets exactly the one-line problem a user should read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deployer.rules.ruleset import validate_paths
from tests.conftest import DETECTIONS, REPO, mutated


def test_the_repository_rules_are_valid() -> None:
    validation = validate_paths([DETECTIONS])
    assert validation.problems == []
    assert sorted(rule.language for rule in validation.rules) == ["dsl", "eql"]


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.pop(key)


def _regexp(value: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["query"]["bool"]["filter"][3]["regexp"]["file.name"]["value"] = value
    return change


def _wildcard(value: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["query"]["bool"]["filter"][2]["bool"]["should"][0]["wildcard"]["process.executable"]["value"] = value
    return change


BAD_DSL_RULES = [
    ("wrong type", _set("risk_score", "49"), "rules/rule.json: /risk_score: expected integer, got string"),
    ("unknown field", _set("risk_scroe", 49), "rules/rule.json: /risk_scroe: unknown field 'risk_scroe' (a typo?)"),
    ("missing version", _drop("version"), "rules/rule.json: /version: required field is missing"),
    ("version zero", _set("version", 0), "rules/rule.json: /version: 0 is less than the minimum of 1"),
    ("severity off its band", _set("severity", "medium"),
     "rules/rule.json: /severity: risk_score 49 is high in Kibana's bands, not medium (22-47)"),
    ("bad interval", _set("interval", "1 hour"),
     "rules/rule.json: /interval: \"1 hour\" does not have the expected form (a number and m, h or d, e.g. 1h)"),
    ("window ends before it starts", _set("to", "now-80m"),
     "rules/rule.json: /to: the window ends (now-80m) before it starts (now-70m)"),
    ("window shorter than interval", _set("from", "now-30m"),
     "rules/rule.json: /from: the window (20m) is shorter than the interval (1h): events between runs would never be examined"),
    ("unknown data source", _set("data_source", "linux.auditd"),
     "rules/rule.json: /data_source: unknown data source 'linux.auditd' (known: windows.sysmon_operational)"),
    ("PCRE caret in regexp", _regexp("^\\\\\\{[0-9a-fA-F]{8}.*"),
     "rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp '^\\\\\\\\\\\\{[0-9a-fA-F]{8}.*': "
     "'^' is a literal character in Lucene: its regexps always match the whole value, remove it (at character 1)"),
    ("PCRE non-capturing group", _regexp("(?:\\\\)\\{.*"),
     "rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp '(?:\\\\\\\\)\\\\{.*': "
     "'(?' groups and flags are PCRE-only: Lucene reads '?' as a literal character (at character 1)"),
    ("PCRE digit shorthand", _regexp("\\\\\\{\\d{8}.*"),
     "rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp '\\\\\\\\\\\\{\\\\d{8}.*': '\\d' is a PCRE "
     "shorthand that older engines read as the letter 'd'; write an explicit class such as [0-9] (at character 5)"),
    ("unbalanced regexp", _regexp("(\\\\\\{.*"),
     "rules/rule.json: /query/bool/filter/3/regexp/file.name/value: regexp '(\\\\\\\\\\\\{.*' is not valid Lucene "
     "syntax: expected ')' at character 8"),
    ("single backslash in wildcard", _wildcard("*\\calc.exe"),
     "rules/rule.json: /query/bool/filter/2/bool/should/0/wildcard/process.executable/value: wildcard '*\\\\calc.exe': "
     "a single '\\' escapes the next character in a wildcard pattern; write '\\\\' for a backslash "
     "(in JSON: \"\\\\\\\\\") (at character 2)"),
    ("field not in data source", lambda d: d["query"]["bool"]["filter"].__setitem__(0, {"terms": {"EventCode": ["17"]}}),
     "rules/rule.json: /query/bool/filter/0/terms/EventCode: field 'EventCode' is not in data source windows.sysmon_operational"),
    ("raw sysmon field", lambda d: d["query"]["bool"]["filter"][3].__setitem__(
        "regexp", {"winlog.event_data.PipeName": {"value": ".*"}}),
     "rules/rule.json: /query/bool/filter/3/regexp/winlog.event_data.PipeName/value: field 'winlog.event_data.PipeName' is not "
     "in data source windows.sysmon_operational"),
    ("regexp on a text field", lambda d: d["query"]["bool"]["filter"][3].__setitem__(
        "regexp", {"message": {"value": ".*pipe.*"}}),
     "rules/rule.json: /query/bool/filter/3/regexp/message/value: regexp on 'message', a text field, tests analysed "
     "terms rather than the value; use a keyword field"),
    ("unsupported clause", lambda d: d["query"]["bool"]["filter"].__setitem__(0, {"query_string": {"query": "x"}}),
     "rules/rule.json: /query/bool/filter/0/query_string: unsupported clause 'query_string'; detect supports bool, "
     "terms, exists, term, match, match_phrase, wildcard, regexp, prefix, range"),
    ("terms has no case_insensitive", lambda d: d["query"]["bool"]["filter"][0]["terms"].__setitem__(
        "case_insensitive", True),
     "rules/rule.json: /query/bool/filter/0/terms: terms takes one field with a non-empty list of values "
     "(it has no case_insensitive option: use term or wildcard for that)"),
    ("placeholder outside group_by", _set("risk_message", "pipe {{file.name}} by {{process.name}}"),
     "rules/rule.json: /risk_message: placeholder {{process.name}} is not in group_by, so one alert has no single value for it"),
    ("placeholder unknown", _set("risk_message", "{{Image}} made a pipe"),
     "rules/rule.json: /risk_message: placeholder {{Image}} names no field of data source windows.sysmon_operational"),
    ("group_by unknown field", lambda d: d["group_by"].__setitem__(5, "SecurityID"),
     "rules/rule.json: /group_by/5: field 'SecurityID' is not in data source windows.sysmon_operational"),
    ("more than three group fields without suppression", _drop("alert_suppression"),
     "rules/rule.json: /group_by: Kibana suppresses alerts on at most 3 fields: add alert_suppression.group_by naming "
     "the ones that identify a group"),
    ("suppression outside group_by", _set("alert_suppression", {"group_by": ["user.domain"]}),
     "rules/rule.json: /alert_suppression/group_by/0: 'user.domain' is not one of group_by"),
    ("exclusion on unknown field", _set("exclusions", [{"field": "Computer", "values": ["x"], "reason": "lab"}]),
     "rules/rule.json: /exclusions/0/field: field 'Computer' is not in data source windows.sysmon_operational: this "
     "exclusion would never match"),
    ("exclusion on a text field", _set("exclusions", [{"field": "message", "values": ["x"], "reason": "lab"}]),
     "rules/rule.json: /exclusions/0/field: field 'message' is a text field in data source windows.sysmon_operational: "
     "an exclusion compares whole values, which a text field does not keep; use a keyword field"),
    ("exclusion of a word on a number field", _set("exclusions", [{"field": "process.pid", "values": [4, "four"], "reason": "lab"}]),
     "rules/rule.json: /exclusions/0/values/1: 'four' is not a whole number, but 'process.pid' is a long field"),
    ("exclusion without reason", _set("exclusions", [{"field": "host.name", "values": ["x"]}]),
     "rules/rule.json: /exclusions/0/reason: required field is missing"),
    ("dsl query as a string", _set("query", "event.code:17"), "rules/rule.json: /query: expected object, got string"),
]


@pytest.mark.parametrize(("case", "change", "expected"), BAD_DSL_RULES, ids=[case for case, _, _ in BAD_DSL_RULES])
def test_bad_dsl_rule_gets_one_clear_line(
    case: str, change: Callable[[dict[str, Any]], None], expected: str,
    dsl_document: dict[str, Any], write_rule: Callable[..., Path],
) -> None:
    path = write_rule(mutated(dsl_document, change))
    validation = validate_paths([path])
    assert [str(problem) for problem in validation.problems] == [expected]
    assert validation.rules == []


def _eql(text: str) -> Callable[[dict[str, Any]], None]:
    return _set("query", text)


BAD_EQL_RULES = [
    ("unparsable EQL", _eql('file where process.name == "a" and and'),
     "rules/rule.json: /query: EQL does not parse at line 1 column 36: Invalid use of keyword"),
    ("EQL unknown field", _eql('file where ProcessName : "*calc.exe"'),
     "rules/rule.json: /query: field 'ProcessName' is not in data source windows.sysmon_operational"),
    ("EQL PCRE regex", _eql('file where file.name regex "^\\\\\\\\.*"'),
     "rules/rule.json: /query: regexp '^\\\\\\\\.*': '^' is a literal character in Lucene: its regexps always "
     "match the whole value, remove it (at character 1)"),
    ("EQL language with an object query", _set("query", {"match_all": {}}),
     "rules/rule.json: /query: expected string, got object"),
]


@pytest.mark.parametrize(("case", "change", "expected"), BAD_EQL_RULES, ids=[case for case, _, _ in BAD_EQL_RULES])
def test_bad_eql_rule_gets_one_clear_line(
    case: str, change: Callable[[dict[str, Any]], None], expected: str,
    eql_document: dict[str, Any], write_rule: Callable[..., Path],
) -> None:
    path = write_rule(mutated(eql_document, change))
    assert [str(problem) for problem in validate_paths([path]).problems] == [expected]


def test_truncated_file(write_rule: Callable[..., Path]) -> None:
    path = write_rule('{"rule_id": "a", "version": 1')
    assert [str(p) for p in validate_paths([path]).problems] == [
        "rules/rule.json: /: invalid JSON at line 1 column 30: Expecting ',' delimiter"]


def test_a_rule_must_be_an_object(write_rule: Callable[..., Path]) -> None:
    path = write_rule("[1, 2]")
    assert [str(p) for p in validate_paths([path]).problems] == ["rules/rule.json: /: expected object, got array"]


def test_duplicate_rule_id_names_both_files(dsl_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    write_rule(dsl_document, "a")
    path = write_rule(dsl_document, "b")
    validation = validate_paths([path.parent])
    assert [str(p) for p in validation.problems] == [
        "rules/b.json: /rule_id: rule_id '4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11' is also used by rules/a.json"]
    assert [rule.path.name for rule in validation.rules] == ["a.json"]


def test_every_problem_of_a_file_is_reported_not_only_the_first(dsl_document: dict[str, Any],
                                                                 write_rule: Callable[..., Path]) -> None:
    document = mutated(dsl_document, lambda d: d.update(risk_score="x", severity="severe", colour="red"))
    pointers = [p.pointer for p in validate_paths([write_rule(document)]).problems]
    assert pointers == ["/colour", "/risk_score", "/severity"]


def test_valid_and_invalid_files_are_separated(dsl_document: dict[str, Any], eql_document: dict[str, Any],
                                              write_rule: Callable[..., Path]) -> None:
    write_rule(dsl_document, "good")
    bad = write_rule(mutated(eql_document, _set("version", "2")), "bad")
    validation = validate_paths([bad.parent])
    assert [rule.path.name for rule in validation.rules] == ["good.json"]
    assert [p.file for p in validation.problems] == ["rules/bad.json"]
    assert validation.files == 2


def test_schema_file_is_usable_by_editors() -> None:
    schema = json.loads((REPO / "deployer" / "schema" / "rule.schema.json").read_text())
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    for path in DETECTIONS.glob("*.json"):
        document = json.loads(path.read_text())
        assert (path.parent / document["$schema"]).resolve().is_file()

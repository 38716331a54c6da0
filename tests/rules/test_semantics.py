"""Checks beyond the schema (deployer/rules/semantics.py) that production would otherwise meet first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from deployer.cluster.node import RunningNode
from deployer.rules.ruleset import validate_paths
from tests.conftest import mutated


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

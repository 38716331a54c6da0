"""EQL as Elasticsearch parses it (deployer/dialects/eql_es.py): what ES accepts beyond the `eql` library, and what
it refuses that the library lets through."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deployer.dialects.eql import EqlSyntax, checked_uses, parse_eql
from deployer.dialects.eql_to_dsl import translate_eql
from deployer.errors import UnsupportedByTarget
from deployer.rules.ruleset import validate_paths
from tests.conftest import REPO, mutated

CORPUS = REPO.parent / "shared" / "corpus" / "elastic-prebuilt-sample.ndjson"


def _categories(text: str) -> list[str]:
    return [subquery.query.event_type for subquery in parse_eql(text).tree.first.queries]


def test_with_runs_repeats_the_clause_as_elasticsearch_does() -> None:
    text = "sequence by host.id with maxspan=1m [process where true] with runs=3 [file where true]"
    assert _categories(text) == ["process", "process", "process", "file"]
    assert parse_eql(text).event_category == "sequence"


def test_with_runs_1_is_the_clause_once() -> None:
    once = "sequence with maxspan=1m [process where true] by process.pid with runs=1 [file where true] by process.pid"
    assert _categories(once) == ["process", "file"]
    assert parse_eql(once).tree == parse_eql(once.replace(" with runs=1", "")).tree


def test_runs_text_inside_strings_and_comments_is_left_alone() -> None:
    text = 'process where process.name == "with runs=1" /* with runs=1 */'
    assert [use.field for use in parse_eql(text).uses] == ["process.name"]
    assert parse_eql(text).tree.first.query.right.value == "with runs=1"


@pytest.mark.parametrize("runs", ["0", "101"])
def test_runs_outside_1_to_100_are_refused_where_they_stand(runs: str) -> None:
    with pytest.raises(EqlSyntax) as raised:
        parse_eql(f"sequence with maxspan=1m\n  [process where true] with runs={runs}\n  [file where true]")
    assert str(raised.value) == (f"EQL does not parse at line 2 column 34: with runs={runs}: Elasticsearch "
                                 "takes runs between 1 and 100")


def test_samples_parse_with_their_fields() -> None:
    parsed = parse_eql('sample by host.id [process where process.name == "a"] [file where true]')
    assert parsed.event_category == "sample"
    assert [use.field for use in parsed.uses] == ["process.name", "host.id", "host.id"]
    assert parse_eql("sample by host.id [process where true] [file where true] | head 5").event_category == "piped"


@pytest.mark.parametrize(("text", "reason"), [
    ("sample by host.id [process where true]", "Only one item in the sample"),
    ("sample by host.id [process where true] ![file where true]", "Negative subquery not permitted in sample"),
    ("sequence by host.id [process where true] ![file where true]", "Negative subquery used without maxspan"),
])
def test_what_samples_and_missing_events_may_not_do_is_refused(text: str, reason: str) -> None:
    with pytest.raises(EqlSyntax, match=reason):
        parse_eql(text)


def test_missing_events_parse_in_a_timespan_constrained_sequence() -> None:
    parsed = parse_eql('sequence by host.id, user.name with maxspan=5s\n [authentication where event.code : "4624"]\n'
                       ' ![authentication where event.code : "4647"]')
    assert [subquery.data["is_negated"] for subquery in parsed.tree.first.queries] == [False, True]
    assert parsed.es.refusals == ()


def test_a_sequence_of_missing_events_only_is_refused() -> None:
    assert parse_eql("sequence with maxspan=1m ![process where true] ![file where true]").es.refusals == (
        "a sequence needs at least one event that is not missing (![...])",)


@pytest.mark.parametrize(("text", "refusal"), [
    ("join [process where true] [file where true]", "join is Endgame EQL: Elasticsearch refuses it; write a sequence"),
    ("process where descendant of [process where true]",
     "`descendant of [...]` (lineage) is Endgame EQL: Elasticsearch refuses it"),
    ("process where true | filter true", "pipe `| filter`: Elasticsearch supports only | head and | tail"),
    ("process where true | unique process.name", "pipe `| unique`: Elasticsearch supports only | head and | tail"),
    ('process where match(process.name, "a.*")', "function match() is Endgame EQL: Elasticsearch has no such function"),
    ('process where arrayContains(process.args, "a")',
     "function arrayContains() is Endgame EQL: Elasticsearch has no such function"),
])
def test_endgame_eql_that_elasticsearch_refuses_is_named(text: str, refusal: str) -> None:
    assert parse_eql(text).es.refusals == (refusal,)


@pytest.mark.parametrize("text", [
    'process where process.name regex "a.*" and startswith~(process.name, "a") | head 3 | tail 1',
    "sequence by host.id with maxspan=1m [process where true] [file where true] until [process where true]",
])
def test_what_elasticsearch_runs_is_not_refused(text: str) -> None:
    assert parse_eql(text).es.refusals == ()


@pytest.mark.parametrize("text", [
    'process where process.executable : "*\\calc.exe"',  # the lexer takes only \b \t \n \f \r \" \' \\ and \u{...}
    'process where process.name : "\\d+"',
])
def test_an_escape_elasticsearch_does_not_know_is_refused_as_its_lexer_refuses_it(text: str) -> None:
    with pytest.raises(EqlSyntax, match="is no EQL escape"):
        parse_eql(text)


@dataclass
class _Fields:
    field_types: Mapping[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.field_types


def test_an_optional_field_the_source_lacks_is_no_missing_field() -> None:
    parsed = parse_eql('process where ?process.pe.original_file_name == "a" and ?process.name == "b" and x.y == "c"')
    assert parsed.es.optional_fields == {"process.pe.original_file_name", "process.name"}
    uses, refused = checked_uses(parsed, _Fields({"process.name": "keyword"}))
    assert [use.field for use in uses] == ["process.name", "x.y"]
    assert refused == []


_TYPES = {"event.code": "keyword", "process.pid": "long", "trusted": "boolean", "source.ip": "ip"}


@pytest.mark.parametrize(("condition", "finding"), [
    ("event.code in (17, 18)", "'event.code in (17, 18)': event.code is a keyword field and 17 is a number; "
     "Elasticsearch refuses the query on every run (a verification error: the values of in must be of the field's "
     "type): write the values as strings, in double quotes"),
    ('event.code not in ("17", 18)', "'event.code not in (\"17\", 18)': event.code is a keyword field and 18 is a number"),
    ("event.code in~ (1.5)", "'event.code in~ (1.5)': event.code is a keyword field and 1.5 is a decimal"),
    ('process.pid in ("4", 8)', "'process.pid in (\"4\", 8)': process.pid is a long field and \"4\" is a string"),
    ('trusted in (true, "false")', "'trusted in (true, \"false\")': trusted is a boolean field and \"false\" is a string"),
])
def test_in_values_of_another_type_than_the_field_are_refused(condition: str, finding: str) -> None:
    _, refused = checked_uses(parse_eql(f"any where {condition}"), _Fields(_TYPES))
    assert len(refused) == 1
    assert refused[0].startswith(finding)


@pytest.mark.parametrize("condition", [
    'event.code in ("17", "18", null)', "process.pid in (4, 8.5)", "event.code == 17", "process.pid == 4",
    'source.ip in ("10.0.0.1")', "unknown.field in (1)", "trusted in (true)",
])
def test_in_values_elasticsearch_takes_or_cannot_be_judged_here_pass(condition: str) -> None:
    assert checked_uses(parse_eql(f"any where {condition}"), _Fields(_TYPES))[1] == []


def test_validation_refuses_numbers_in_a_keyword_in(eql_document: dict[str, Any],
                                                    write_rule: Callable[..., Path]) -> None:
    document = mutated(eql_document, lambda d: d.update(query=d["query"].replace('("17", "18")', "(17, 18)")))
    problems = [str(problem) for problem in validate_paths([write_rule(document)]).problems]
    assert problems == [
        "rules/rule.json: /query: 'event.code in (17, 18)': event.code is a keyword field and 17 is a number; "
        "Elasticsearch refuses the query on every run (a verification error: the values of in must be of the "
        "field's type): write the values as strings, in double quotes"]


def test_validation_takes_an_optional_field_the_source_lacks(eql_document: dict[str, Any],
                                                             write_rule: Callable[..., Path]) -> None:
    optional = mutated(eql_document, lambda d: d.update(query=d["query"] + " and ?no.such_field == null"))
    assert validate_paths([write_rule(optional)]).problems == []
    required = mutated(eql_document, lambda d: d.update(query=d["query"] + " and no.such_field == null"))
    problems = [str(problem) for problem in validate_paths([write_rule(required)]).problems]
    assert len(problems) == 1
    assert "/query: field 'no.such_field' is not in " in problems[0]


@pytest.mark.parametrize(("text", "reason"), [
    ("sample by host.id [process where true] [file where true]", "sample queries correlate several events"),
    ("sequence with maxspan=1m [process where true] with runs=2", "sequence queries correlate several events"),
    ("sequence with maxspan=1m [process where true] ![file where true]", "sequence queries correlate several events"),
])
def test_the_translation_to_query_dsl_refuses_multi_event_queries(text: str, reason: str) -> None:
    with pytest.raises(UnsupportedByTarget, match=reason):
        translate_eql(text)


@pytest.mark.skipif(not CORPUS.exists(), reason=f"the shared corpus is not here ({CORPUS})")
def test_every_eql_rule_of_the_elastic_sample_parses() -> None:
    queries = [rule["query"] for rule in map(json.loads, CORPUS.read_text("utf-8").splitlines())
               if rule.get("type") == "eql"]
    assert len(queries) == 30
    refused = {}
    for query in queries:
        try:
            refused[query] = parse_eql(query).es.refusals
        except EqlSyntax as error:
            refused[query] = (str(error),)
    assert {query: reasons for query, reasons in refused.items() if reasons} == {}

from __future__ import annotations

import json

import pytest

from deployer.dialects.eql import EqlSyntax, parse_eql
from tests.conftest import EQL_RULE


def test_rule_query_parses_with_elasticsearch_syntax() -> None:
    parsed = parse_eql(json.loads(EQL_RULE.read_text())["query"])
    assert parsed.event_category == "file"
    assert {use.field for use in parsed.uses} == {
        "event.code", "winlog.event_data.EventType", "process.executable", "file.name"}
    regexps = [use.value for use in parsed.uses if use.kind == "regexp"]
    assert regexps == ["\\\\\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{8}.*"]


def test_parse_is_done_once_per_query_text() -> None:
    text = 'process where process.name : "x.exe"'
    assert parse_eql(text) is parse_eql(text)


@pytest.mark.parametrize(("text", "message"), [
    ("file where", "EQL does not parse at line 1 column"),
    ('file where a == "x" and and', "Invalid use of keyword"),
    ("file where a ==", "EQL does not parse at line 1 column"),
])
def test_syntax_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(EqlSyntax, match=message):
        parse_eql(text)


def test_sequences_and_pipes_are_recognised() -> None:
    assert parse_eql("sequence by host.name [file where true] [process where true]").event_category == "sequence"
    assert parse_eql("file where true | head 5").event_category == "piped"

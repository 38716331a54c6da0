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


@pytest.mark.parametrize(("text", "written", "what", "doubled"), [
    ('process where process.executable : "*\\notepad.exe"', "*\\notepad.exe", "compared with process.executable holds "
     "a newline (EQL reads '\\n'", "*\\\\notepad.exe"),
    ('process where process.executable == "C:\\\\Windows\\rundll32.exe"', "C:\\\\Windows\\rundll32.exe",
     "compared with process.executable holds a carriage return (EQL reads '\\r'", "C:\\\\Windows\\\\rundll32.exe"),
    ('process where process.name in ("cmd.exe", "\\tasks.exe")', "\\tasks.exe",
     "that reads as a path holds a tab (EQL reads '\\t'", "\\\\tasks.exe"),
    ('file where wildcard(file.path, "*\\\\temp\\bad.dll")', "*\\\\temp\\bad.dll",
     "compared with file.path holds a backspace (EQL reads '\\b'", "*\\\\temp\\\\bad.dll"),
])
def test_control_characters_made_by_escapes_in_paths_are_flagged(text: str, written: str, what: str, doubled: str) -> None:
    raw = written.replace("\\\\", "\\")
    assert parse_eql(text).escape_findings == (
        f'string "{written}" {what} as an escape): write \'\\\\\' for a backslash, "{doubled}", or use a raw string, '
        f'"""{raw}"""',)


@pytest.mark.parametrize("text", [
    'process where process.executable : """C:\\new\\calc.exe"""',  # a raw string: the backslashes are literal
    'process where process.executable : "C:\\\\new\\\\calc.exe"',
    'process where message : "line one\\nline two"',  # not a path: a newline may be meant
])
def test_escapes_that_mean_what_they_say_are_not_flagged(text: str) -> None:
    assert parse_eql(text).escape_findings == ()


def test_a_backslash_that_starts_no_escape_gets_a_hint() -> None:
    with pytest.raises(EqlSyntax) as raised:
        parse_eql('process where process.executable : "*\\calc.exe"')
    assert str(raised.value) == (
        "EQL does not parse at line 1 column 36: Invalid syntax ('\\c' is no EQL escape: write '\\\\' for a backslash, "
        "\"*\\\\calc.exe\", or use a raw string, \"\"\"*\\calc.exe\"\"\")")

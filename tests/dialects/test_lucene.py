"""The Lucene dialect: the seed's PCRE and our Lucene regexp agree on pipe names, and PCRE habits are caught."""

from __future__ import annotations

import json
import re

import pytest

from deployer.dialects.lucene import (
    AnyChar,
    Char,
    CharClass,
    Concat,
    Operator,
    Repeat,
    check_regexp,
    check_wildcard,
    to_python_regex,
)
from tests.conftest import DSL_RULE

# The seed's SPL: regex PipeName="^\\\{[0-9a-fA-F]{8}-...{8}" — PCRE, searched, anchored only at the start.
SEED_PCRE = re.compile(r"^\\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{8}")

PIPE_NAMES = [
    "\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",      # a real GUID pipe: 12 hex digits at the end
    "\\{4a7e2f1b-9c3d-4e5f-8a1b-2c3d4e5f6a7b}",      # lower case
    "\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F}",          # the seed's 8-hex last group, then the brace
    "\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F",           # nothing after the eighth hex digit
    "\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}\\x",   # anything may follow
    "{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",        # brace without the backslash
    "\\\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",    # two backslashes
    "\\4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B",        # backslash without the brace
    "\\{4A7E2F1-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",       # 7 hex digits in the first group
    "\\{4A7E2F1B-9C3-4E5F-8A1B-2C3D4E5F6A7B}",       # 3 hex digits in the second group
    "\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5}",           # 7 hex digits in the last group
    "\\{4G7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",      # G is not hex
    "\\{4A7E2F1B_9C3D_4E5F_8A1B_2C3D4E5F6A7B}",      # underscores instead of dashes
    "\\{ 4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",     # a space
    "x\\{4A7E2F1B-9C3D-4E5F-8A1B-2C3D4E5F6A7B}",     # something before: the seed anchors at the start
    "\\PSHost.133456789.1234.DefaultAppDomain.powershell",
    "\\MsFteWds",
    "\\srvsvc",
    "\\lsass",
    "",
]


def _rule_regexp() -> str:
    rule = json.loads(DSL_RULE.read_text())
    value: str = rule["query"]["bool"]["filter"][3]["regexp"]["file.name"]["value"]
    return value


def test_rule_regexp_is_clean_lucene() -> None:
    checked = check_regexp(_rule_regexp())
    assert checked.error is None and checked.findings == ()


@pytest.mark.parametrize("pipe", PIPE_NAMES)
def test_rule_regexp_means_what_the_seed_means(pipe: str) -> None:
    lucene_language = re.compile(to_python_regex(check_regexp(_rule_regexp()).tree))  # type: ignore[arg-type]
    assert bool(lucene_language.fullmatch(pipe)) == bool(SEED_PCRE.search(pipe))


def test_the_seed_pcre_written_as_is_never_matches_in_lucene() -> None:
    """What public converters emit: Lucene anchors it and reads '^' as a literal, so it matches nothing real."""
    pcre_text = SEED_PCRE.pattern
    checked = check_regexp(pcre_text)
    assert checked.error is None
    assert any("'^' is a literal" in finding.message for finding in checked.findings)
    as_lucene = re.compile(to_python_regex(checked.tree))  # type: ignore[arg-type]
    assert not any(as_lucene.fullmatch(pipe) for pipe in PIPE_NAMES)


def test_parser_builds_lucene_tree() -> None:
    checked = check_regexp("a[0-9]{2,}.")
    assert checked.tree == Concat((Char(ord("a")), Repeat(CharClass(((48, 57),), False), 2, None), AnyChar()))
    assert check_regexp("~a").tree == Operator("complement", (Char(ord("a")),))


@pytest.mark.parametrize(("pattern", "error"), [
    ("(a", "expected ')' at character 3"),
    ("[a-", "unexpected end of pattern"),
    ("a{2", "expected '}' at character 4"),
    ("a{x}", "integer expected at character 3"),
    ("a)", "unexpected ')' at character 2"),
    ('"abc', "unterminated '\"' quote at character 1"),
    ("[z-a]", "invalid range z-a"),
    ("\\q", "'\\q' at character 1 is not a Lucene escape: Lucene 9 refuses a backslash before a letter other than d, D, s, S, w, W"),
    ("a\\nb", "'\\n' at character 2 is not a Lucene escape: Lucene 9 refuses a backslash before a letter other than d, D, s, S, w, W"),
])
def test_syntax_errors(pattern: str, error: str) -> None:
    assert check_regexp(pattern).error == error


@pytest.mark.parametrize(("pattern", "fragment"), [
    ("^abc", "'^' is a literal character"),
    ("abc$", "'$' is a literal character"),
    ("(?:ab)c", "'(?' groups and flags are PCRE-only"),
    ("(?i)abc", "'(?' groups and flags are PCRE-only"),
    ("\\w+", "'\\w' is a PCRE shorthand"),
    ("\\1", "'\\1' is a PCRE back-reference"),
    ("a#b", "empty-language operator"),
    ("mail@host", "any-string operator"),
    ("a&b", "intersection operator"),
    ("*.exe", "'*' repeats nothing here"),
    ("<1-5>", "numeric-interval operator"),
])
def test_pcre_habits_are_reported(pattern: str, fragment: str) -> None:
    findings = check_regexp(pattern).findings
    assert len(findings) == 1 and fragment in findings[0].message


@pytest.mark.parametrize("pattern", ["\\^abc\\$", "a\\#b", "[^a-z]+", '"a.b"c', "\\(\\?:x\\)", "a{2}b{1,3}c{0,}"])
def test_escaped_and_lucene_forms_are_clean(pattern: str) -> None:
    checked = check_regexp(pattern)
    assert checked.error is None and checked.findings == ()


def test_case_insensitive_does_not_fold_ranges() -> None:
    from deployer.dialects.lucene import folding_findings

    assert folding_findings(check_regexp("[0-9a-f]{8}").tree) != []  # type: ignore[arg-type]
    assert folding_findings(check_regexp("[0-9a-fA-F]{8}").tree) == []  # type: ignore[arg-type]
    assert folding_findings(check_regexp("abc").tree) == []  # type: ignore[arg-type]


def test_wildcard_single_backslash_is_flagged_double_is_not() -> None:
    assert [f.position for f in check_wildcard("*\\calc.exe")] == [1]
    assert check_wildcard("*\\\\calc.exe") == []
    assert check_wildcard("a\\*b") == []

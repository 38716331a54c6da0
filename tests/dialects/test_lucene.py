"""The Lucene dialect: the seed's PCRE and our Lucene regexp agree on pipe names, and PCRE habits are caught.

Checked against real Lucene 9.12 (the library OpenSearch 2.19 evaluates regexps with) too. The property at the end:
the Qakbot PipeName regexp detect deploys means what the Splunk seed's PCRE means, on any pipe name.

The seed runs `regex PipeName="^\\\\\\{[0-9a-fA-F]{8}-...-[0-9a-fA-F]{8}"`: PCRE *searched* in the value,
anchored at the start by `^` only, so anything may follow the eighth hex digit of the last group (a real
GUID has twelve, then `}`). A Lucene regexp always matches the whole value, so the deployed form is
`\\\\\\{...{8}.*`. Three readings are compared on generated names: the seed with Python `re.search`
(PCRE and `re` agree on this pattern: literals, ASCII classes, counted repeats, `^` without multiline),
detect's own reading of the deployed Lucene regexp (its parse tree as a Python `re`, with `fullmatch`), and,
in the second test, real Lucene.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.dialects.lucene import (
    AnyChar,
    Char,
    CharClass,
    Concat,
    Operator,
    Repeat,
    check_regexp,
    check_wildcard,
    folding_findings,
    to_python_regex,
)
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths
from deployer.targets import kibana, opensearch
from tests.conftest import DSL_RULE, EQL_RULE

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


@pytest.mark.parametrize(("pattern", "error", "first_finding"), [
    ("", "unexpected end of pattern", None),
    ("[\\D]", "'\\D' inside [...]: write the class out, e.g. [^0-9]", "'\\D' is a PCRE shorthand"),
    ("[a-\\d]", "'\\d' at character 4 is not a Lucene escape: Lucene 9 refuses a backslash before a letter other than d, D, s, S, w, W", None),
    ("[\\\\-S]", "invalid range \\-S", None),  # Lucene reads a backslash, a dash and S; detect a range, as PCRE does
    ("[\\\\-]", "expected ']' at character 6", None),
    ("<\u0661-\u0665>", "'<\u0661-\u0665>' is not a numeric interval <n-m>; write '\\<' for the character", None),
    ("<1-99999999999>", "number 99999999999 at character 1 is larger than Lucene reads (2147483647)", "'<n-m>' is Lucene's"),
    ("(" * 200 + "a" + ")" * 200, "groups or operators nest too deeply", None),
    ("a&" * 1200 + "a", "groups or operators nest too deeply", "'&' is Lucene's intersection operator"),
])
def test_refuses_some_patterns_lucene_accepts(pattern: str, error: str, first_finding: str | None) -> None:
    """What Lucene 9.12 builds (tests/dialects/test_lucene_regexp.py) but a rule never means, or nests too deeply."""
    checked = check_regexp(pattern)
    assert checked.error == error
    assert checked.findings[0].message.startswith(first_finding) if first_finding else checked.findings == ()


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
    assert folding_findings(check_regexp("[0-9a-f]{8}").tree) != []  # type: ignore[arg-type]
    assert folding_findings(check_regexp("[0-9a-fA-F]{8}").tree) == []  # type: ignore[arg-type]
    assert folding_findings(check_regexp("abc").tree) == []  # type: ignore[arg-type]



def test_a_range_holding_a_letter_whose_other_case_is_two_letters_is_checked_not_crashed() -> None:
    # ß swaps to "SS": it has no one-character fold to miss; à (after it) still does. This raised TypeError once.
    assert [finding.message for finding in folding_findings(check_regexp("[ß-à]").tree)] == [  # type: ignore[arg-type]
        "case_insensitive does not fold the range ß-à: list both cases, e.g. [a-fA-F]"]
    assert folding_findings(check_regexp("[ßẞ]").tree) == []  # type: ignore[arg-type]


def test_wildcard_single_backslash_is_flagged_double_is_not() -> None:
    assert [f.position for f in check_wildcard("*\\calc.exe")] == [1]
    assert check_wildcard("*\\\\calc.exe") == []
    assert check_wildcard("a\\*b") == []


# --- against real Lucene

BINARIES = ["calc.exe", "notepad.exe", "rdpclip.exe", "explorer.exe", "wermgr.exe", "ping.exe", "OneDriveSetup.exe",
            "dxdiag.exe", "mobsync.exe", "msra.exe", "xwizard.exe"]
EXECUTABLES = [
    "C:\\Windows\\System32\\calc.exe", "C:\\WINDOWS\\SYSTEM32\\CALC.EXE", "C:\\Windows\\Explorer.EXE",
    "C:\\Users\\bob\\AppData\\Local\\Microsoft\\OneDrive\\OneDriveSetup.exe", "C:\\Windows\\System32\\xcalc.exe",
    "C:\\Windows\\System32\\notcalc.exe", "calc.exe", "C:\\Windows\\System32\\calc.exe.bak",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "C:\\Windows\\System32\\PING.EXE",
    "D:\\tools\\msra.exe", "C:\\Windows\\System32\\mobsync.exe ",
]


def _rule() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DSL_RULE.read_text())
    return loaded


def test_rule_regexp_matches_what_the_seed_pcre_matches_in_real_lucene(lucene: Any) -> None:
    pattern = _rule()["query"]["bool"]["filter"][3]["regexp"]["file.name"]["value"]
    assert lucene.regexp_matches(pattern, PIPE_NAMES) == [bool(SEED_PCRE.search(pipe)) for pipe in PIPE_NAMES]


def test_seed_pcre_copied_verbatim_matches_nothing_in_real_lucene(lucene: Any) -> None:
    assert not any(lucene.regexp_matches(SEED_PCRE.pattern, PIPE_NAMES))


def test_rule_wildcards_end_with_a_binary_case_insensitively_in_real_lucene(lucene: Any) -> None:
    should = _rule()["query"]["bool"]["filter"][2]["bool"]["should"]
    patterns = [clause["wildcard"]["process.executable"]["value"] for clause in should]
    matched = [any(row) for row in zip(*(lucene.wildcard_matches(p, EXECUTABLES, case_insensitive=True) for p in patterns),
                                        strict=True)]
    expected = [any(path.lower().endswith("\\" + binary.lower()) for binary in BINARIES) for path in EXECUTABLES]
    assert matched == expected


def test_single_backslash_wildcard_really_matches_the_wrong_files(lucene: Any) -> None:
    assert check_wildcard("*\\calc.exe")  # what validation reports...
    assert lucene.wildcard_matches("*\\calc.exe", ["C:\\Windows\\xcalc.exe"]) == [True]  # ...is what Lucene does
    assert lucene.wildcard_matches("*\\\\calc.exe", ["C:\\Windows\\xcalc.exe"]) == [False]


PATTERNS = [
    "abc", "a.c", "a*", "a+b?", "[a-c]{2,3}", "[^0-9]+", "a|bc|", "(ab)*c", '"a.b"', "\\^x", "\\.\\{", "a{2,}",
    "\\\\\\{[0-9a-fA-F]{8}.*", "^abc", "abc$", "(?:ab)c", "(?i)x", "\\d{3}", "*abc", "{3}", "x{0}", "a{1,2}b",
    "(a", "[a-", "a{2", "a{x}", "a)", '"abc', "a{,3}", "\\q", "a\\nb", "[z-a]", "()", "a\\1", "[a\\]]b", "\\w+\\s",
]
SAMPLES = ["", "a", "b", "c", "ab", "abc", "aab", "aaa", "^abc", "abc$", "?:abc", "?ix", "x", "123", "1234", "*abc",
           "{3}", "a.b", "axc", "bc", "^x", ".{", "\\{12345678-aa", "\\{1234567g", "a1", "a]b", "aab", "a_1 ", "ab c"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_parser_accepts_refuses_and_means_what_lucene_does(lucene: Any, pattern: str) -> None:
    checked = check_regexp(pattern)
    lucene_error = lucene.regexp_error(pattern)
    assert (checked.error is None) == (lucene_error is None), (checked.error, lucene_error)
    if checked.tree is not None:
        ours = re.compile(to_python_regex(checked.tree))
        assert [bool(ours.fullmatch(sample)) for sample in SAMPLES] == lucene.regexp_matches(pattern, SAMPLES)


# --- the deployed PipeName regexp, on generated names

# Deterministic and bounded: the same examples on every run and machine, no example database in the tree.
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

HEX = "0123456789abcdefABCDEF"
NOT_HEX = st.sampled_from("gGzZxX-_ {}\\\n\u00e9\u0660")  # includes an Arabic-Indic zero: a digit, but not [0-9]


def _regexps(payload: Any) -> list[tuple[str, bool]]:
    """Every (regexp value, case_insensitive) in a compiled payload."""
    found: list[tuple[str, bool]] = []
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "regexp":
                    ((_, spec),) = value.items()
                    found.append((spec["value"], bool(spec.get("case_insensitive", False))) if isinstance(spec, dict) else (spec, False))
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _compiled_pipe_regexp() -> str:
    """The PipeName regexp as deployed: Kibana's DSL rule, OpenSearch's monitors from the DSL and the EQL rule."""
    validation = validate_paths([DSL_RULE, EQL_RULE])
    assert validation.ok, validation.problems
    payloads: list[JSON] = [kibana.compile_rule(rule) for rule in validation.rules if rule.language == "dsl"]
    payloads += [opensearch.compile_rule(rule) for rule in validation.rules]
    found = {regexp for payload in payloads for regexp in _regexps(payload)}
    assert len(payloads) == 3 and len(found) == 1, found  # one regexp, the same everywhere, case-sensitive
    ((pattern, case_insensitive),) = found
    assert not case_insensitive
    return pattern


@functools.cache
def deployed_regexp() -> str:
    return _compiled_pipe_regexp()


@functools.cache
def detect_reading() -> re.Pattern[str]:
    """detect's parse of the deployed regexp, as a Python pattern for `fullmatch`."""
    checked = check_regexp(deployed_regexp())
    assert checked.tree is not None and checked.findings == (), checked
    return re.compile(to_python_regex(checked.tree))


DEFECTS = ("prefix", "group length", "not hex", "separator")


@st.composite
def guid_like_pipe_names(draw: st.DrawFn) -> str:
    """`\\{` + 8-4-4-4-(8|12) hex groups (either case) + any suffix; most with one defect: near misses."""
    defect = draw(st.sampled_from([None, None, None, *DEFECTS]))
    lengths = [8, 4, 4, 4, draw(st.sampled_from([8, 12]))]
    prefix, separators = "\\{", ["-"] * 4
    if defect == "prefix":
        prefix = draw(st.sampled_from(["{", "\\", "\\\\{", "", "x\\{", "\\{ ", "/{", "\\[", "\\(", "\n\\{"]))
    elif defect == "group length":
        index = draw(st.integers(0, 4))
        lengths[index] = draw(st.sampled_from([0, lengths[index] - 1, lengths[index] + 1]))
    elif defect == "separator":
        separators[draw(st.integers(0, 3))] = draw(st.sampled_from(["_", "", "--", "\u2010", " "]))
    groups = [draw(st.text(st.sampled_from(HEX), min_size=length, max_size=length)) for length in lengths]
    if defect == "not hex":
        index = draw(st.integers(0, 4))
        position = draw(st.integers(0, lengths[index] - 1))
        groups[index] = groups[index][:position] + draw(NOT_HEX) + groups[index][position + 1:]
    suffix = draw(st.one_of(st.sampled_from(["", "}", "}\\x", "\n", "}\n", "\\"]), st.text(max_size=12)))
    return prefix + groups[0] + "".join(separator + group for separator, group in zip(separators, groups[1:], strict=True)) + suffix


GENERATED_PIPE_NAMES = st.one_of(guid_like_pipe_names(), st.text(max_size=60), st.text(max_size=50).map(lambda tail: "\\{" + tail))


def seed_matches(pipe: str) -> bool:
    return SEED_PCRE.search(pipe) is not None


@PROPERTY
@given(GENERATED_PIPE_NAMES)
def test_detect_reads_the_deployed_regexp_as_the_seed_reads_its_pcre(pipe: str) -> None:
    assert (detect_reading().fullmatch(pipe) is not None) == seed_matches(pipe)


def test_the_generated_names_are_near_misses_on_both_sides() -> None:
    """Guard against a vacuous property: the strategy must produce matches and non-matches alike."""
    seen: set[bool] = set()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(guid_like_pipe_names())
    def collect(pipe: str) -> None:
        seen.add(seed_matches(pipe))

    collect()
    assert seen == {True, False}


@PROPERTY
@given(st.lists(GENERATED_PIPE_NAMES, min_size=1, max_size=25))
def test_real_lucene_reads_the_deployed_regexp_as_the_seed_reads_its_pcre(lucene: Any, pipes: list[str]) -> None:
    assert lucene.regexp_matches(deployed_regexp(), pipes) == [seed_matches(pipe) for pipe in pipes]

"""The Lucene dialect checked against real Lucene 9.12 (the library OpenSearch 2.19 evaluates regexps with)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from deployer.dialects.lucene import check_regexp, check_wildcard, to_python_regex
from tests.conftest import DSL_RULE
from tests.dialects.test_lucene import PIPE_NAMES, SEED_PCRE

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
    if pattern == "[z-a]":
        # Lucene accepts a reversed range as an empty class; detect refuses it as the mistake it always is.
        assert checked.error is not None
        return
    assert (checked.error is None) == (lucene_error is None), (checked.error, lucene_error)
    if checked.tree is not None:
        ours = re.compile(to_python_regex(checked.tree))
        assert [bool(ours.fullmatch(sample)) for sample in SAMPLES] == lucene.regexp_matches(pattern, SAMPLES)

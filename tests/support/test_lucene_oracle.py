"""The Lucene oracle answers as Lucene does, and fails loudly when it cannot answer.

The facts below are Lucene 9.12's (OpenSearch 2.19): the dialect table doubles as the record of what
`regexp` and `wildcard` patterns mean there, which the rule dialect checker relies on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lucene import (
    DEFAULT_VERSION,
    LuceneOracle,
    LuceneOracleError,
    LucenePatternError,
    get_oracle,
    regexp_case,
    wildcard_case,
)


@pytest.fixture(scope="module")
def oracle() -> LuceneOracle:
    return get_oracle()


def test_runs_the_pinned_lucene(oracle: LuceneOracle) -> None:
    assert oracle.lucene_version == DEFAULT_VERSION == "9.12.3"
    assert oracle.jar.name == "lucene-core-9.12.3.jar"


# ---------------------------------------------------------------- known Lucene facts

# (pattern, value, matches): regexp, default flags (ALL), case sensitive.
REGEXP_FACTS = [
    # the whole term must match: patterns are anchored at both ends
    ("ab.*", "abc", True),
    ("ab.*", "xabc", False),
    ("ab", "abc", False),
    ("b", "abc", False),
    (".*b.*", "abc", True),
    # repetition
    ("[0-9]{3}", "123", True),
    ("[0-9]{3}", "12", False),
    ("[0-9]{3}", "1234", False),
    ("a{2,}", "a", False),
    ("a{2,}", "aaaa", True),
    ("a{2,4}", "aaaaa", False),
    ("a+", "", False),
    ("a*", "", True),
    ("a?b", "b", True),
    # alternation, grouping, classes
    ("a|b", "b", True),
    ("a|b", "ab", False),
    ("(ab)+", "abab", True),
    ("[^a]", "b", True),
    ("[^a]", "a", False),
    ("[a-c]", "B", False),
    # '.' is one code point, also outside the BMP
    ("a.b", "a\U0001f600b", True),
    ("a..b", "a\U0001f600b", False),
    # optional operators under ALL
    ("a@", "anything", True),
    ("~a", "b", True),
    ("~a", "a", False),
    ("a.*&.*b", "axb", True),
    ("<1-5>", "3", True),
    ("<1-5>", "6", False),
    ('"a.b"', "a.b", True),
    ('"a.b"', "axb", False),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), REGEXP_FACTS)
def test_regexp_facts(oracle: LuceneOracle, pattern: str, value: str, expected: bool) -> None:
    assert oracle.regexp_matches(pattern, [value]) == [expected]


def test_regexp_case_insensitive_folds_ascii_letters_only(oracle: LuceneOracle) -> None:
    assert oracle.regexp_matches("abc", ["ABC", "aBc", "abd"], case_insensitive=True) == [True, True, False]
    assert oracle.regexp_matches("abc", ["ABC"]) == [False]
    # Lucene 9's ASCII_CASE_INSENSITIVE folds single characters, not ranges, and no letters beyond ASCII
    assert oracle.regexp_matches("[a-c]", ["B"], case_insensitive=True) == [False]
    assert oracle.regexp_matches("\u00e9", ["\u00c9"], case_insensitive=True) == [False]


@pytest.mark.parametrize(("pattern", "message"), [
    ("(ab", "expected ')' at position 3"),
    ("(", "unexpected end-of-string"),
    ("[a-", "unexpected end-of-string"),
    ("a{3,1}", "invalid repetition range(out of order): 3..1"),
    ("a{,3}", "integer expected at position 2"),
    ("a)", "end-of-string expected at position 1"),
    ("<name>", "'name' not found"),
])
def test_regexp_errors(oracle: LuceneOracle, pattern: str, message: str) -> None:
    assert oracle.regexp_error(pattern) == message
    with pytest.raises(LucenePatternError) as raised:
        oracle.regexp_matches(pattern, ["x"])
    assert raised.value.message == message
    assert raised.value.error_type == "IllegalArgumentException"


def test_valid_regexp_has_no_error(oracle: LuceneOracle) -> None:
    assert oracle.regexp_error("a.*b") is None


def test_too_complex_regexp_is_a_rejection(oracle: LuceneOracle) -> None:
    assert oracle.regexp_error(".*a.{0,12}") is None
    outcome = oracle.run([regexp_case(".*a.{0,13}", ["a"])])[0]
    assert outcome.matches is None
    assert outcome.error_type == "TooComplexToDeterminizeException"
    assert outcome.error == "Determinizing .*a.{0,13} would require more than 10000 effort."
    assert oracle.run([regexp_case(".*a.{0,13}", ["xab"], max_determinized_states=100_000)])[0].matches == (True,)


WILDCARD_FACTS = [
    ("a*", "abc", True),
    ("a*", "xa", False),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("a?c", "a\U0001f600c", True),
    ("a\\*", "a*", True),
    ("a\\*", "ab", False),
    ("a\\", "a\\", True),  # a trailing backslash is taken literally
    ("[ab]", "[ab]", True),  # no classes in wildcard
    ("[ab]", "a", False),
    ("ab", "AB", False),
    ("", "", False),  # an empty wildcard matches nothing, not even the empty term
]


@pytest.mark.parametrize(("pattern", "value", "expected"), WILDCARD_FACTS)
def test_wildcard_facts(oracle: LuceneOracle, pattern: str, value: str, expected: bool) -> None:
    assert oracle.wildcard_matches(pattern, [value]) == [expected]


def test_wildcard_case_insensitive_keeps_escaped_characters_exact(oracle: LuceneOracle) -> None:
    assert oracle.wildcard_matches("ab*", ["ABC", "aBx", "xab"], case_insensitive=True) == [True, True, False]
    # "\c" is an escaped 'c': exactly 'c', even when case-insensitive
    assert oracle.wildcard_matches("\\calc", ["calc", "CALC", "cALC"], case_insensitive=True) == [True, False, True]


# ---------------------------------------------------------------- the dialect questions

WINDOWS = ["C:\\Windows\\calc.exe", "C:\\Windows\\xcalc.exe", "C:\\WINDOWS\\CALC.EXE", "calc.exe"]

# (pattern, {value: matches} or the error message): regexp, flags ALL, Lucene 9.12.
DIALECT = [
    ("^abc", {"abc": False, "^abc": True}),  # ^ is a literal
    ("abc$", {"abc": False, "abc$": True}),  # $ is a literal
    ("(?:ab)c", {"abc": False, "?:abc": True}),  # no non-capturing groups: '?' after '(' is literal
    ("(?i)abc", {"abc": False, "ABC": False, "?iabc": True}),  # no inline flags
    ("\\d{3}", {"123": True, "ddd": False}),
    ("\\w", {"a": True, "_": True, "1": True, "-": False}),
    ("\\s", {" ": True, "\t": True, "s": False}),
    ("\\D\\W\\S", {"a- ": False, "a-a": True}),
    ("[\\d]", {"1": True, "d": False}),
    ("\\q", "invalid character class \\113"),  # backslash + other ASCII letter: error (113 = 'q')
    ("\\n", "invalid character class \\110"),
    ("\\.", {".": True, "a": False}),  # backslash + non-letter: that character
    ("a#b", {"ab": False, "a#b": False}),  # '#' is the empty language
    ("a@", {"a": True, "ab": True, "b": False}),  # '@' is any string
    ("a&b", {"a&b": False, "ab": False}),  # '&' is intersection
    ("~a", {"a": False, "b": True, "": True}),  # '~' is complement
    ("<1-5>", {"3": True, "6": False, "<1-5>": False}),  # numeric interval
    ("<01-10>", {"1": False, "05": True, "10": True}),
    ("a{2,}", {"a": False, "aa": True, "aaaa": True}),
    ("a{,3}", "integer expected at position 2"),
    ("[^a]", {"a": False, "b": True, "^": True}),
    ("a.*?", {"a": True, "abc": True, "a?": True}),  # no lazy quantifiers: '?' makes '.*' optional
    ("\\\\\\{[0-9a-fA-F]{8}.*", {"\\{12345678-1234}": True, "{12345678-1234}": False}),
    ("(", "unexpected end-of-string"),
    ("[a-", "unexpected end-of-string"),
    ("{3}", {"{3}": True, "": False}),  # a leading '{' is a literal
    ("*a", {"*a": True, "a": False}),  # so are leading '*', '+', '?' and '|'
    ("|a", {"|a": True, "a": False}),
    ('a"b', "expected '\"' at position 3"),  # '"' opens a literal string
]


@pytest.mark.parametrize(("pattern", "answer"), DIALECT)
def test_dialect(oracle: LuceneOracle, pattern: str, answer: dict[str, bool] | str) -> None:
    if isinstance(answer, str):
        assert oracle.regexp_error(pattern) == answer
    else:
        assert dict(zip(answer, oracle.regexp_matches(pattern, answer), strict=True)) == answer


@pytest.mark.parametrize(("pattern", "case_insensitive", "expected"), [
    # "\c" is an escaped 'c': the backslash is gone and any path ending in "calc.exe" matches
    ("*\\calc.exe", False, [True, True, False, True]),
    ("*\\\\calc.exe", False, [True, False, False, False]),
    ("*\\calc.exe", True, [True, True, False, True]),
    ("*\\\\calc.exe", True, [True, False, True, False]),
])
def test_dialect_wildcard_backslashes(oracle: LuceneOracle, pattern: str, case_insensitive: bool, expected: list[bool]) -> None:
    assert oracle.wildcard_matches(pattern, WINDOWS, case_insensitive=case_insensitive) == expected


# ---------------------------------------------------------------- fidelity and transport

def test_compiled_automaton_agrees_with_a_real_index(oracle: LuceneOracle) -> None:
    """The fast path (the query's compiled automaton) answers as searching a real index does."""
    values = ["", "a", "ab", "abc", "ABC", "xabc", "123", "a\U0001f600b", "\u00e9", "C:\\Windows\\calc.exe", "a\\b", '"q"', "{x}"]
    patterns = ["ab.*", ".*", "a.b", "[0-9]+", "~(a.*)", "<100-200>", "abc", "\\\\.*", '"q"|\\{x\\}', ".*\\\\calc\\.exe", "#", "@"]
    cases = []
    for ci in (False, True):
        cases += [regexp_case(p, values, case_insensitive=ci) for p in patterns]
        cases += [wildcard_case(p, values, case_insensitive=ci) for p in ["a*", "*", "?", "a?b", "*\\\\calc.exe", "A*", "\\{x\\}", ""]]
    fast = oracle.run(cases)
    slow = oracle.run([regexp_case(c.pattern, c.values, case_insensitive=c.case_insensitive, via="index") if c.kind == "regexp"
                       else wildcard_case(c.pattern, c.values, case_insensitive=c.case_insensitive, via="index") for c in cases])
    for f, s in zip(fast, slow, strict=True):
        assert f.matches is not None
        assert f.matches == s.matches, f.case
    assert any(any(f.matches or ()) for f in fast) and not all(all(f.matches or ()) for f in fast)


AWKWARD = ["", "a\\b", "\\", 'q"uote', "{brace}", "[x]", "tab\there", "new\nline", "\u00fc\u00df", "\U0001f600", "\u0000nul", "</script>", '{"k": ["v"]}']


def test_awkward_text_survives_the_round_trip(oracle: LuceneOracle) -> None:
    def escaped(text: str) -> str:
        return "".join("\\" + ch if ch in "*?\\" else ch for ch in text)

    cases = [wildcard_case(escaped(v), [v, v + "x", "x" + v]) for v in AWKWARD if v]
    cases += [regexp_case('"' + v + '"', [v, v + "x"]) for v in AWKWARD if '"' not in v]
    for outcome in oracle.run(cases):
        assert outcome.matches is not None, outcome
        assert outcome.matches[0] is True and not any(outcome.matches[1:]), outcome.case


def test_a_batch_runs_in_one_jvm_in_order(oracle: LuceneOracle) -> None:
    oracle.regexp_error("a")
    pid = oracle.pid
    assert pid is not None
    cases = [regexp_case(f"x{i}|y", [f"x{i}", f"x{i + 1}", "y"]) for i in range(300)]
    outcomes = oracle.run(cases)
    assert [o.case for o in outcomes] == cases
    assert all(o.matches == (True, False, True) for o in outcomes)
    assert oracle.pid == pid


# ---------------------------------------------------------------- failing loudly

@pytest.fixture
def failing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A PATH whose mvn always fails: nothing may be fetched."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text("#!/bin/sh\necho '[ERROR] no network in this test' >&2\nexit 3\n")
    mvn.chmod(mvn.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield bin_dir


def test_a_failed_fetch_raises(tmp_path: Path, failing_tools: Path) -> None:
    fresh = LuceneOracle(cache_dir=tmp_path / "cache")
    with pytest.raises(LuceneOracleError, match=r"(?s)fetching lucene-core 9\.12\.3 with Maven failed \(exit 3\).*no network"):
        fresh.regexp_matches("a", ["a"])


def test_a_second_use_fetches_and_compiles_nothing(oracle: LuceneOracle, failing_tools: Path) -> None:
    before = oracle.classes.stat().st_mtime_ns, oracle.jar.stat().st_mtime_ns
    again = LuceneOracle(cache_dir=oracle.folder.parent)
    again.prepare()
    assert (again.jar, again.classes) == (oracle.jar, oracle.classes)
    assert (again.classes.stat().st_mtime_ns, again.jar.stat().st_mtime_ns) == before


def test_a_missing_jdk_raises(tmp_path: Path) -> None:
    with pytest.raises(LuceneOracleError, match="is not a JDK"):
        LuceneOracle(java_home=tmp_path)


def test_a_malformed_request_raises(oracle: LuceneOracle) -> None:
    bad = regexp_case("a", ["a"], via="nowhere")  # type: ignore[arg-type]
    with pytest.raises(LuceneOracleError, match="unknown via: nowhere"):
        oracle.run([bad])
    assert oracle.regexp_matches("a", ["a"]) == [True]  # the JVM is still serving


def test_a_dead_jvm_raises_then_restarts() -> None:
    with LuceneOracle() as own:
        assert own.regexp_matches("a", ["a"]) == [True]
        assert own._proc is not None
        own._proc.kill()
        own._proc.wait()
        with pytest.raises(LuceneOracleError, match="exited"):
            own.regexp_matches("a", ["a"])
        assert own.regexp_matches("a", ["a"]) == [True]


@pytest.mark.skipif(not os.environ.get("DETECT_LUCENE10"), reason="set DETECT_LUCENE10=10.x.y to check Lucene 10 (needs a JDK 21+)")
def test_lucene10() -> None:
    version = os.environ["DETECT_LUCENE10"]
    with LuceneOracle(version) as ten:
        assert ten.lucene_version == version
        assert ten.regexp_matches("~a", ["a", "b"]) == [False, True]  # Elasticsearch 9 keeps '~' in ALL
        assert ten.regexp_matches("\u00e9", ["\u00c9"], case_insensitive=True) == [True]  # folds beyond ASCII
        assert ten.wildcard_matches("*\\\\calc.exe", WINDOWS, case_insensitive=True) == [True, False, True, False]
        assert ten.regexp_matches("ab.*", ["abc", "xabc"], via="index") == [True, False]

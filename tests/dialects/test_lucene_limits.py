"""detect refuses the regexps and wildcards Lucene refuses as too complex, and only those: compared with real
Lucene 9.12 (OpenSearch 2.19's) on generated patterns, at the engines' default limit (10000)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.dialects.lucene import check_regexp
from deployer.dialects.lucene_limits import too_complex, wildcard_too_complex
from tests.support.lucene import Outcome, regexp_case, wildcard_case

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def refused_for_size(outcome: Outcome) -> bool:
    return outcome.too_complex or outcome.automaton_too_large


def _group(text: str) -> str:
    return f"({text})"


ATOMS = st.sampled_from(["a", "b", "c", "A", ".", "[ab]", "[^a]", "[a-c]", "\u00e9", "\\d", "\\W", '"ab"', "@", "#", "()",
                         "<1-20>", "<0-9>", "<007-042>"])


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    count = st.integers(0, 25)
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map(lambda pair: _group("|".join(pair))),
        st.tuples(children, st.sampled_from("*+?")).map(lambda pair: _group(pair[0]) + pair[1]),
        st.tuples(children, count).map(lambda pair: f"{_group(pair[0])}{{{pair[1]}}}"),
        st.tuples(children, count, count).map(lambda t: f"{_group(t[0])}{{{min(t[1], t[2])},{max(t[1], t[2])}}}"),
        st.tuples(children, count).map(lambda pair: f"{_group(pair[0])}{{{pair[1]},}}"),
        st.tuples(children, children).map(lambda pair: f"{_group(pair[0])}&{_group(pair[1])}"),
        children.map(lambda child: "~" + _group(child)),
    )


# Shapes that blow up: a repeated choice, then a fixed-length tail (`(a|b)*a(a|b){20}`, `.*a.{13}`).
BLOW_UP = st.tuples(ATOMS, ATOMS, ATOMS, st.integers(3, 24)).map(
    lambda t: f"({t[0]}|{t[1]})*{t[2]}({t[0]}|{t[1]}){{{t[3]}}}")
REGEXPS = st.one_of(st.recursive(ATOMS, _compound, max_leaves=8), BLOW_UP,
                    st.tuples(st.recursive(ATOMS, _compound, max_leaves=4), BLOW_UP).map("".join))
_WILDCARD_PIECES = st.lists(st.sampled_from(["a", "b", "A", "*", "?", "??", "????", "\\\\", "\\*", "x"]), max_size=14).map("".join)
# `*a?????????????` is `.*a.{13}`: the same blow-up.
WILDCARDS = st.one_of(_WILDCARD_PIECES, st.tuples(_WILDCARD_PIECES, st.sampled_from("aA?"), st.integers(8, 16), _WILDCARD_PIECES)
                      .map(lambda t: f"{t[0]}*{t[1]}{'?' * t[2]}{t[3]}"))


@PROPERTY
@given(pattern=REGEXPS, case_insensitive=st.booleans())
def test_detect_refuses_a_regexp_exactly_when_lucene_does(lucene: Any, pattern: str, case_insensitive: bool) -> None:
    (outcome,) = lucene.run([regexp_case(pattern, case_insensitive=case_insensitive)])
    if outcome.error is not None and not refused_for_size(outcome):
        assert check_regexp(pattern).error is not None, (pattern, outcome.error)  # a syntax error, which detect reports
        return
    assert (too_complex(pattern, case_insensitive) is not None) == refused_for_size(outcome), (pattern, outcome)


@settings(PROPERTY, max_examples=100)
@given(pattern=WILDCARDS, case_insensitive=st.booleans())
def test_detect_refuses_a_wildcard_exactly_when_lucene_does(lucene: Any, pattern: str, case_insensitive: bool) -> None:
    (outcome,) = lucene.run([wildcard_case(pattern, case_insensitive=case_insensitive)])
    assert outcome.error is None or refused_for_size(outcome), outcome
    assert (wildcard_too_complex(pattern, case_insensitive) is not None) == refused_for_size(outcome), (pattern, outcome)


@pytest.mark.parametrize(("pattern", "case_insensitive", "refused"), [
    ("(a|b)*a(a|b){20}", False, True),  # the issue's: 2^21 states
    ("(a|b)*a(a|b){12}", False, False),  # the largest of that shape within the limit
    ("(a|b)*a(a|b){13}", False, True),
    (".*a.{13}", True, True),
    ("a{10000}", False, False),  # a single string: never determinized
    ("a{10001}", False, True),  # (states - 1) x count above the limit: refused before building
    ("a{2000}", True, True),  # folded, no single string: too deep for Lucene's finiteness walk
    ("((a{100}){100})", False, True),
    ("(~(\\W)){9,}(c|\u00e9)*\\W(c|\u00e9){12}", True, True),  # within the limit until its UTF-8 form is determinized
    ("\\\\\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{8}.*", False, False),
])
def test_known_regexps_against_real_lucene(lucene: Any, pattern: str, case_insensitive: bool, refused: bool) -> None:
    (outcome,) = lucene.run([regexp_case(pattern, case_insensitive=case_insensitive)])
    assert refused_for_size(outcome) is refused
    assert (too_complex(pattern, case_insensitive) is not None) is refused


@pytest.mark.parametrize(("pattern", "refused"), [
    ("*a?????????????", True), ("*a????????????", False), ("?" * 1001, True), ("*\\\\calc.exe", False)])
def test_known_wildcards_against_real_lucene(lucene: Any, pattern: str, refused: bool) -> None:
    assert lucene.wildcard_error(pattern) is not None if refused else lucene.wildcard_error(pattern) is None
    assert (wildcard_too_complex(pattern) is not None) is refused


def test_the_oracle_tells_too_complex_from_a_syntax_error(lucene: Any) -> None:
    assert lucene.regexp_too_complex("(a|b)*a(a|b){20}")
    assert not lucene.regexp_too_complex("(a|b)*a(a|b){2}")
    assert lucene.regexp_error("(ab") is not None and not lucene.regexp_too_complex("(ab")

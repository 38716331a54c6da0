"""Lucene's RegExp parser: the tree Lucene builds, how the text was read, and the same verdicts as real Lucene 9.12."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.dialects.lucene_regexp import Exp, RegExpError, RegExpTooDeep, Token, parse_regexp
from tests.dialects.test_lucene import PATTERNS


def test_the_tree_is_the_one_lucene_builds() -> None:
    # makeConcatenation merges neighbouring characters into one string; a class is a union of its items.
    assert parse_regexp("ab[0-9x]").exp == Exp("concatenation", Exp("string", text="ab"),
                                               Exp("union", Exp("char_range", low=48, high=57), Exp("char", code=120)))
    assert parse_regexp("[^a]").exp == Exp("intersection", Exp("anychar"), Exp("complement", Exp("char", code=97)))
    # Lucene 9 builds `&` from left to right.
    a, b, c = (Exp("char", code=ord(letter)) for letter in "abc")
    assert parse_regexp("a&b&c").exp == Exp("intersection", Exp("intersection", a, b), c)
    assert parse_regexp("x{2,}y?").exp == Exp("concatenation", Exp("repeat_min", Exp("char", code=120), low=2),
                                              Exp("optional", Exp("char", code=121)))
    assert parse_regexp("").exp == Exp("string")


def test_the_tokens_say_how_the_text_was_read() -> None:
    assert parse_regexp("a\\d&~(\\1)[\\w$]").tokens == (
        Token(0, "char", False), Token(1, "predefined", False), Token(3, "intersection", False),
        Token(4, "complement", False), Token(5, "group", False), Token(6, "char", False),
        Token(10, "predefined", True), Token(12, "char", True))
    assert [token.kind for token in parse_regexp('#@"x$"<1-5>.').tokens] == ["empty", "anystring", "interval"]


@pytest.mark.parametrize(("pattern", "error"), [
    ("(a", RegExpError("group_close", 2)),
    ("a)", RegExpError("trailing", 1)),
    ("[a-", RegExpError("end", 3)),
    ("a{2", RegExpError("repeat_close", 3)),
    ("a{3,2}", RegExpError("repeat_order", 6, 3, 2)),
    ("a{99999999999}", RegExpError("integer", 2)),
    ("[z-a]", RegExpError("range_order", 4, ord("z"), ord("a"))),
    ("x\\q", RegExpError("escape", 1)),
    ('"ab', RegExpError("quote", 0)),
    ("<1-5", RegExpError("interval_close", 4)),
])
def test_refusals_say_why_and_where(pattern: str, error: RegExpError) -> None:
    parsed = parse_regexp(pattern)
    assert parsed.exp is None and parsed.error == error


def test_the_tokens_read_before_a_refusal_are_kept() -> None:
    assert parse_regexp("~a(").tokens == (Token(0, "complement", False), Token(1, "char", False), Token(2, "group", False))


def test_nesting_beyond_the_stack_is_its_own_refusal() -> None:
    with pytest.raises(RegExpTooDeep) as raised:
        parse_regexp("~(" * 3000 + "a" + ")" * 3000)
    assert raised.value.tokens[:2] == (Token(0, "complement", False), Token(1, "group", False))


def test_an_escaped_backslash_before_a_dash_starts_a_range_only_when_asked() -> None:
    backslash, dash, a = Exp("char", code=92), Exp("char", code=45), Exp("char", code=97)
    assert parse_regexp("[\\\\-a]").exp == Exp("union", Exp("union", backslash, dash), a)
    assert parse_regexp("[\\\\-a]", backslash_ranges=True).exp == Exp("char_range", low=92, high=97)
    assert parse_regexp("[\\\\-S]").error is None
    assert parse_regexp("[\\\\-S]", backslash_ranges=True).error == RegExpError("range_order", 5, 92, ord("S"))


# Where detect's checks (deployer.dialects.lucene) refuse more than Lucene, the parser itself does not.
LENIENT = ["", "[\\D]", "[a-\\q]", "[a-\\d]", "[\\\\-S]", "[\\\\-]", "\u00e9\\\u00e9", "<\u0661-\u0665>"]


@pytest.mark.parametrize("pattern", PATTERNS + LENIENT)
def test_the_parser_accepts_and_refuses_what_lucene_does(lucene: Any, pattern: str) -> None:
    parsed = parse_regexp(pattern)
    assert (parsed.error is None) == (lucene.regexp_error(pattern) is None), (parsed.error, lucene.regexp_error(pattern))


def test_an_escaped_backslash_before_a_dash_is_what_lucene_reads(lucene: Any) -> None:
    # A backslash, a dash and 'a'; as a range \-a it would also match '_' (between them).
    assert lucene.regexp_matches("[\\\\-a]", ["\\", "-", "a", "_", "b"]) == [True, True, True, False, False]

"""Lucene 9.12's RegExp parser (flags ALL, the query DSL's default), the one reading of regexps detect has.

`parse_regexp` builds the tree `org.apache.lucene.util.automaton.RegExp` builds, which
deployer.dialects.lucene_limits turns into automata to tell whether the engines can run the query, and it
records how it read the text (`Token`s: literal characters, predefined classes, operators), from which
deployer.dialects.lucene explains what a pattern means in Lucene and which PCRE habits it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

PREDEFINED = {"d": "[0-9]", "D": "[^0-9]", "s": "[ \t\n\r]", "S": "[^\\s]", "w": "[a-zA-Z_0-9]", "W": "[^\\w]"}
"""RegExp.matchPredefinedCharacterClass: what `\\d`, `\\s`, `\\w` and their complements stand for."""


@dataclass(frozen=True)
class Exp:
    """A node of Lucene's RegExp tree (RegExp.Kind and its fields)."""

    kind: str
    exp1: Exp | None = None
    exp2: Exp | None = None
    text: str = ""
    code: int = 0
    low: int = 0
    high: int = 0
    bracket: bool = field(default=False, compare=False)
    """Written as a bracket class `[...]`; Lucene keeps no such mark and nothing that builds automata reads it."""


TokenKind = Literal["char", "predefined", "group", "intersection", "complement", "empty", "anystring", "interval"]


class Token(NamedTuple):
    """How the parser read one piece of the pattern, in reading order.

    kind: "char" (a literal character; escaped when the text at `position` is a backslash), "predefined"
    (`\\d` ..., at the backslash), "group" (`(`), "intersection" (`&`), "complement" (`~`), "empty" (`#`),
    "anystring" (`@`), "interval" (`<`, once its `>` is found, before its numbers are read).
    """

    position: int
    kind: TokenKind
    in_class: bool


Reason = Literal["end", "trailing", "repeat_close", "repeat_order", "integer", "class_close", "range_order", "escape",
                 "quote", "group_close", "interval_close", "interval"]
_LUCENE_MESSAGES: dict[Reason, str] = {
    "end": "unexpected end-of-string", "trailing": "end-of-string expected", "repeat_close": "expected '}'",
    "repeat_order": "invalid repetition range(out of order)", "integer": "integer expected", "class_close": "expected ']'",
    "range_order": "invalid range", "escape": "invalid character class", "quote": "expected '\"'",
    "group_close": "expected ')'", "interval_close": "expected '>'", "interval": "interval syntax error",
}


@dataclass(frozen=True)
class RegExpError:
    """Why Lucene refuses the pattern, where (a character offset), and the numbers involved if any."""

    reason: Reason
    position: int
    low: int = 0
    high: int = 0

    def __str__(self) -> str:
        return f"{_LUCENE_MESSAGES[self.reason]} at position {self.position}"


class _Refused(Exception):
    def __init__(self, reason: Reason, position: int, low: int = 0, high: int = 0) -> None:
        super().__init__(reason)
        self.error = RegExpError(reason, position, low, high)


class RegExpTooDeep(Exception):
    """The pattern nests deeper than Python's stack allows (Lucene's parser overflows its stack later, near 2,000)."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        super().__init__("groups or operators nest too deeply")
        self.tokens = tokens


@dataclass(frozen=True)
class ParsedRegExp:
    exp: Exp | None
    """Lucene's tree; None when Lucene refuses the pattern."""
    tokens: tuple[Token, ...]
    """What was read, up to the error if there is one."""
    error: RegExpError | None


_parsed: dict[tuple[str, bool], ParsedRegExp] = {}
_PARSED_KEPT = 4096


def parse_regexp(pattern: str, backslash_ranges: bool = False) -> ParsedRegExp:
    """Parse as Lucene 9.12 does; raises RegExpTooDeep (with the tokens read so far) when nesting exhausts the stack.

    Lucene reads `[\\\\-z]` as a backslash, a dash and z; with `backslash_ranges` the escaped backslash starts a
    range, `\\\\-z`, as in PCRE. That is how detect's checks have always read it (deployer.dialects.lucene), and
    keeping their verdicts is worth the difference; nothing else changes with it.

    The last parses are kept: validation asks for the same pattern's parse twice (its findings, then its automaton).
    They are kept here rather than by functools.lru_cache, whose wrapper would count towards the depth at which a
    deeply nested pattern gives up."""
    key = (pattern, backslash_ranges)
    kept = _parsed.get(key)
    if kept is not None:
        return kept
    parser = _Parser(pattern, backslash_ranges)
    try:
        # The empty pattern is the empty string (RegExp's constructor); anything else is a union.
        exp = parser.union() if pattern else Exp("string")
        if parser.more():
            raise _Refused("trailing", parser.pos)
        parsed = ParsedRegExp(exp, tuple(parser.tokens), None)
    except _Refused as refused:
        parsed = ParsedRegExp(None, tuple(parser.tokens), refused.error)
    except RecursionError:
        raise RegExpTooDeep(tuple(parser.tokens)) from None
    if len(_parsed) >= _PARSED_KEPT:
        del _parsed[next(iter(_parsed))]
    _parsed[key] = parsed
    return parsed


_STRINGY = ("char", "string")


def _text_of(exp: Exp) -> str:
    return exp.text if exp.kind == "string" else chr(exp.code)


def _concatenation(first: Exp, second: Exp) -> Exp:
    """RegExp.makeConcatenation: neighbouring characters and strings merge into one string."""
    if first.kind in _STRINGY and second.kind in _STRINGY:
        return Exp("string", text=_text_of(first) + _text_of(second))
    if first.kind == "concatenation" and first.exp2 is not None and first.exp2.kind in _STRINGY and second.kind in _STRINGY:
        return Exp("concatenation", first.exp1, Exp("string", text=_text_of(first.exp2) + _text_of(second)))
    if first.kind in _STRINGY and second.kind == "concatenation" and second.exp1 is not None \
            and second.exp1.kind in _STRINGY:
        return Exp("concatenation", Exp("string", text=_text_of(first) + _text_of(second.exp1)), second.exp2)
    return Exp("concatenation", first, second)


class _Parser:
    """RegExp's recursive-descent parser, one method per grammar rule as in Lucene."""

    def __init__(self, text: str, backslash_ranges: bool) -> None:
        self.text = text
        self.backslash_ranges = backslash_ranges
        self.pos = 0
        self.tokens: list[Token] = []
        self.in_class = False

    def more(self) -> bool:
        return self.pos < len(self.text)

    def peek(self, chars: str) -> bool:
        return self.more() and self.text[self.pos] in chars

    def match(self, char: str) -> bool:
        if self.more() and self.text[self.pos] == char:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        if not self.more():
            raise _Refused("end", self.pos)
        self.pos += 1
        return self.text[self.pos - 1]

    def read(self, kind: TokenKind, position: int) -> None:
        self.tokens.append(Token(position, kind, self.in_class))

    def union(self) -> Exp:
        exp = self.intersection()
        while self.match("|"):
            exp = Exp("union", exp, self.intersection())
        return exp

    def intersection(self) -> Exp:
        operands = [self.concatenation()]
        self.intersected(operands)
        exp = operands[0]
        for operand in operands[1:]:
            exp = Exp("intersection", exp, operand)  # left to right, as Lucene 9 builds it
        return exp

    def intersected(self, operands: list[Exp]) -> None:
        """The operands after each `&`. Recursive, one call per `&`, where Lucene 9 loops: detect has always given
        up on about a thousand `&` as nesting too deeply, and a faithful loop would change that verdict."""
        if self.peek("&"):
            self.read("intersection", self.pos)
            self.pos += 1
            operands.append(self.concatenation())
            self.intersected(operands)

    def concatenation(self) -> Exp:
        exp = self.repeat()
        while self.more() and not self.peek(")|&"):
            exp = _concatenation(exp, self.repeat())
        return exp

    def repeat(self) -> Exp:
        exp = self.complement()
        while self.peek("?*+{"):
            if self.match("?"):
                exp = Exp("optional", exp)
            elif self.match("*"):
                exp = Exp("repeat", exp)
            elif self.match("+"):
                exp = Exp("repeat_min", exp, low=1)
            else:
                self.pos += 1
                low = self.integer()
                high: int | None = low
                if self.match(","):
                    high = self.integer() if self.peek("0123456789") else None
                if not self.match("}"):
                    raise _Refused("repeat_close", self.pos)
                if high is not None and low > high:
                    raise _Refused("repeat_order", self.pos, low, high)
                exp = Exp("repeat_min", exp, low=low) if high is None else Exp("repeat_range", exp, low=low, high=high)
        return exp

    def integer(self) -> int:
        """Integer.parseInt of the digits here: none, or more than an int holds, is an error."""
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        if start == self.pos or self.pos - start > 10 or int(self.text[start:self.pos]) > 2**31 - 1:
            raise _Refused("integer", start)
        return int(self.text[start:self.pos])

    def complement(self) -> Exp:
        if self.peek("~"):
            self.read("complement", self.pos)
            self.pos += 1
            return Exp("complement", self.complement())
        return self.char_class_exp()

    def char_class_exp(self) -> Exp:
        if not self.match("["):
            return self.simple()
        self.in_class = True
        negate = self.match("^")
        exp = self.char_class()
        while self.more() and not self.peek("]"):
            exp = Exp("union", exp, self.char_class())
        if negate:
            exp = Exp("intersection", Exp("anychar"), Exp("complement", exp))
        if not self.match("]"):
            raise _Refused("class_close", self.pos)
        self.in_class = False
        return replace(exp, bracket=True)

    def char_class(self) -> Exp:
        predefined = self.predefined()
        if predefined is not None and not (self.backslash_ranges and predefined.kind == "char" and self.peek("-")):
            return predefined
        code = self.char() if predefined is None else predefined.code
        if self.match("-"):
            high = self.char()
            if code > high:
                raise _Refused("range_order", self.pos, code, high)
            return Exp("char_range", low=code, high=high)
        return Exp("char", code=code)

    def predefined(self) -> Exp | None:
        """RegExp.matchPredefinedCharacterClass. Lucene consumes the backslash even when it returns null; the
        next character is then neither a backslash nor a letter, so leaving it to `char` reads the same."""
        if self.text[self.pos:self.pos + 1] != "\\" or self.pos + 1 == len(self.text):
            return None
        escaped = self.text[self.pos + 1]
        if escaped in "dDwWsS":
            self.read("predefined", self.pos)
            self.pos += 2
            return Exp("pre_class", text=escaped)
        if escaped == "\\":
            self.tokens.append(Token(self.pos, "char", self.in_class))  # as deep as `char` goes: see there
            self.pos += 2
            return Exp("char", code=ord(escaped))
        if escaped.isascii() and escaped.isalpha():
            raise _Refused("escape", self.pos)
        return None

    def simple(self) -> Exp:
        start = self.pos
        if self.match("."):
            return Exp("anychar")
        if self.peek("#"):
            self.read("empty", self.pos)
            self.pos += 1
            return Exp("empty")
        if self.peek("@"):
            self.read("anystring", self.pos)
            self.pos += 1
            return Exp("anystring")
        if self.match('"'):
            end = self.text.find('"', self.pos)
            if end < 0:
                raise _Refused("quote", start)
            literal, self.pos = self.text[self.pos:end], end + 1
            return Exp("string", text=literal)
        if self.peek("("):
            self.read("group", self.pos)
            self.pos += 1
            if self.match(")"):
                return Exp("string", text="")
            exp = self.union()
            if not self.match(")"):
                raise _Refused("group_close", self.pos)
            return exp
        if self.match("<"):
            end = self.text.find(">", self.pos)
            if end < 0:
                raise _Refused("interval_close", len(self.text))
            self.read("interval", start)
            body, self.pos = self.text[self.pos:end], end + 1
            low_text, dash, high_text = body.partition("-")
            if not dash or not low_text.isdigit() or not high_text.isdigit():
                raise _Refused("interval", self.pos)
            try:
                low, high = sorted((int(low_text), int(high_text)))
            except ValueError:  # digits int() does not read, such as superscripts
                raise _Refused("interval", self.pos) from None
            return Exp("interval", low=low, high=high, code=len(low_text) if len(low_text) == len(high_text) else 0)
        predefined = self.predefined()
        if predefined is not None:
            return predefined
        return Exp("char", code=self.char())

    def char(self) -> int:
        """RegExp.parseCharExp: an optional backslash, then the character."""
        start = self.pos
        if self.match("\\"):
            code = ord(self.next())
            self.read("char", start)
        else:
            code = ord(self.next())
            # One call shallower than `read`: where a deeply nested pattern exhausts the stack (RegExpTooDeep) stays
            # where detect's checks have always found it, for every kind of innermost operand.
            self.tokens.append(Token(start, "char", self.in_class))
        return code

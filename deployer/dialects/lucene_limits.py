"""Whether the engines can build a regexp or wildcard query: Lucene 9's RegExp parser and toAutomatonInternal,
WildcardQuery.toAutomaton and CompiledAutomaton's refusing steps, ported over deployer.dialects.lucene_automaton.

`(a|b)*a(a|b){20}` passes Lucene's parser but not its work limit: every run of a rule holding it fails with
"Determinizing ... would require more than 10000 effort". too_complex and wildcard_too_complex say so at
validation, and agree with real Lucene on generated patterns (tests/dialects/test_lucene_limits.py).

The verdict follows Lucene 9.12 (OpenSearch 2.19); Lucene 10 (Elasticsearch 9) builds without the
intermediate minimizations, so it accepts a few patterns that Lucene 9 refuses (an intersection that empties a
blow-up), never measured the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from deployer.dialects.lucene_automaton import (
    DEFAULT_DETERMINIZE_WORK_LIMIT,
    MAX_CODE_POINT,
    Automaton,
    TooComplex,
    build,
    complement,
    concatenate,
    determinize,
    intersection,
    make_any_string,
    make_char_range,
    make_empty,
    make_string,
    minimize,
    optional,
    repeat,
    repeat_min,
    repeat_range,
    union,
)
from deployer.dialects.lucene_utf8 import utf32_to_utf8

# --- RegExp ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Exp:
    """A node of Lucene's RegExp tree (RegExp.Kind and its fields)."""

    kind: str
    exp1: _Exp | None = None
    exp2: _Exp | None = None
    text: str = ""
    code: int = 0
    low: int = 0
    high: int = 0


_STRINGY = ("char", "string")


def _text_of(exp: _Exp) -> str:
    return exp.text if exp.kind == "string" else chr(exp.code)


def _concatenation(first: _Exp, second: _Exp) -> _Exp:
    """RegExp.makeConcatenation: neighbouring characters and strings merge into one string."""
    if first.kind in _STRINGY and second.kind in _STRINGY:
        return _Exp("string", text=_text_of(first) + _text_of(second))
    if first.kind == "concatenation" and first.exp2 is not None and first.exp2.kind in _STRINGY and second.kind in _STRINGY:
        return _Exp("concatenation", first.exp1, _Exp("string", text=_text_of(first.exp2) + _text_of(second)))
    if first.kind in _STRINGY and second.kind == "concatenation" and second.exp1 is not None \
            and second.exp1.kind in _STRINGY:
        return _Exp("concatenation", _Exp("string", text=_text_of(first) + _text_of(second.exp1)), second.exp2)
    return _Exp("concatenation", first, second)


class _RegExpParser:
    """RegExp's parser with the flags ALL (the query DSL's default), building the same tree Lucene builds."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

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
            raise ValueError("unexpected end-of-string")
        self.pos += 1
        return self.text[self.pos - 1]

    def parse(self) -> _Exp:
        if not self.text:
            return _Exp("string", text="")
        exp = self.union()
        if self.more():
            raise ValueError(f"end-of-string expected at position {self.pos}")
        return exp

    def union(self) -> _Exp:
        exp = self.intersection()
        while self.match("|"):
            exp = _Exp("union", exp, self.intersection())
        return exp

    def intersection(self) -> _Exp:
        exp = self.concatenation()
        while self.match("&"):
            exp = _Exp("intersection", exp, self.concatenation())
        return exp

    def concatenation(self) -> _Exp:
        exp = self.repeat()
        while self.more() and not self.peek(")|&"):
            exp = _concatenation(exp, self.repeat())
        return exp

    def repeat(self) -> _Exp:
        exp = self.complement()
        while self.peek("?*+{"):
            if self.match("?"):
                exp = _Exp("optional", exp)
            elif self.match("*"):
                exp = _Exp("repeat", exp)
            elif self.match("+"):
                exp = _Exp("repeat_min", exp, low=1)
            else:
                self.pos += 1
                low = self.integer()
                high: int | None = low
                if self.match(","):
                    high = self.integer() if self.peek("0123456789") else None
                if not self.match("}"):
                    raise ValueError(f"expected '}}' at position {self.pos}")
                if high is not None and low > high:
                    raise ValueError(f"invalid repetition range(out of order): {low}..{high}")
                exp = _Exp("repeat_min", exp, low=low) if high is None else _Exp("repeat_range", exp, low=low, high=high)
        return exp

    def integer(self) -> int:
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        if start == self.pos or self.pos - start > 10 or int(self.text[start:self.pos]) > 2**31 - 1:
            raise ValueError(f"integer expected at position {start}")
        return int(self.text[start:self.pos])

    def complement(self) -> _Exp:
        if self.match("~"):
            return _Exp("complement", self.complement())
        return self.char_class_exp()

    def char_class_exp(self) -> _Exp:
        if not self.match("["):
            return self.simple()
        negate = self.match("^")
        exp = self.char_class()
        while self.more() and not self.peek("]"):
            exp = _Exp("union", exp, self.char_class())
        if negate:
            exp = _Exp("intersection", _Exp("anychar"), _Exp("complement", exp))
        if not self.match("]"):
            raise ValueError(f"expected ']' at position {self.pos}")
        return exp

    def char_class(self) -> _Exp:
        predefined = self.predefined()
        if predefined is not None:
            return predefined
        code = self.char()
        if self.match("-"):
            high = self.char()
            if code > high:
                raise ValueError("invalid range")
            return _Exp("char_range", low=code, high=high)
        return _Exp("char", code=code)

    def predefined(self) -> _Exp | None:
        if self.match("\\"):
            if self.peek("dDwWsS"):
                return _Exp("pre_class", text=self.next())
            if self.peek("\\"):
                return _Exp("char", code=ord(self.next()))
            if self.more() and self.text[self.pos].isascii() and self.text[self.pos].isalpha():
                raise ValueError(f"invalid character class \\{self.next()}")
        return None

    def simple(self) -> _Exp:
        if self.match("."):
            return _Exp("anychar")
        if self.match("#"):
            return _Exp("empty")
        if self.match("@"):
            return _Exp("anystring")
        if self.match('"'):
            end = self.text.find('"', self.pos)
            if end < 0:
                raise ValueError(f"expected '\"' at position {len(self.text)}")
            literal, self.pos = self.text[self.pos:end], end + 1
            return _Exp("string", text=literal)
        if self.match("("):
            if self.match(")"):
                return _Exp("string", text="")
            exp = self.union()
            if not self.match(")"):
                raise ValueError(f"expected ')' at position {self.pos}")
            return exp
        if self.match("<"):
            end = self.text.find(">", self.pos)
            if end < 0:
                raise ValueError(f"expected '>' at position {len(self.text)}")
            body, self.pos = self.text[self.pos:end], end + 1
            low_text, dash, high_text = body.partition("-")
            if not dash or not low_text.isdigit() or not high_text.isdigit():
                raise ValueError("interval syntax error")
            low, high = sorted((int(low_text), int(high_text)))
            return _Exp("interval", low=low, high=high, code=len(low_text) if len(low_text) == len(high_text) else 0)
        predefined = self.predefined()
        if predefined is not None:
            return predefined
        return _Exp("char", code=self.char())

    def char(self) -> int:
        self.match("\\")
        return ord(self.next())


_PREDEFINED = {"d": "[0-9]", "D": "[^0-9]", "s": "[ \t\n\r]", "S": "[^\\s]", "w": "[a-zA-Z_0-9]", "W": "[^\\w]"}


def _leaves(exp: _Exp, kind: str, out: list[Automaton], build: _Builder) -> None:
    """RegExp.findLeaves: nested unions (or concatenations) become one list, whatever the grouping."""
    if exp.kind == kind and exp.exp1 is not None and exp.exp2 is not None:
        _leaves(exp.exp1, kind, out, build)
        _leaves(exp.exp2, kind, out, build)
    else:
        out.append(build.automaton(exp))


class _Builder:
    """RegExp.toAutomatonInternal with a work limit and ASCII case folding on or off."""

    def __init__(self, limit: int, case_insensitive: bool) -> None:
        self.limit = limit
        self.case_insensitive = case_insensitive

    def automaton(self, exp: _Exp) -> Automaton:
        kind, limit = exp.kind, self.limit
        if kind in ("union", "concatenation"):
            parts: list[Automaton] = []
            _leaves(exp, kind, parts, self)
            return minimize(union(parts) if kind == "union" else concatenate(parts), limit)
        if kind == "pre_class":
            return _Builder(limit, False).automaton(_RegExpParser(_PREDEFINED[exp.text]).parse())
        if kind in ("intersection", "optional", "repeat", "repeat_min", "repeat_range", "complement"):
            assert exp.exp1 is not None
            inner = self.automaton(exp.exp1)
            if kind == "intersection":
                assert exp.exp2 is not None
                return minimize(intersection(inner, self.automaton(exp.exp2)), limit)
            if kind == "optional":
                return minimize(optional(inner), limit)
            if kind == "repeat":
                return minimize(repeat(inner), limit)
            if kind == "complement":
                return minimize(complement(inner, limit), limit)
            count = exp.low if kind == "repeat_min" else exp.high
            if (inner.states - 1) * count > limit:
                raise TooComplex(f"repeating a {inner.states}-state automaton {count} times makes more than the "
                                 f"{limit} states allowed (max_determinized_states)")
            if kind == "repeat_min":
                return minimize(repeat_min(inner, exp.low), limit)
            return repeat_range(inner, exp.low, exp.high)  # Lucene 9.12 leaves this one unminimized
        if kind == "char":
            return self.folded(exp.code) if self.case_insensitive else make_char_range(exp.code, exp.code)
        if kind == "char_range":
            return make_char_range(exp.low, exp.high)
        if kind == "anychar":
            return make_char_range(0, MAX_CODE_POINT)
        if kind == "empty":
            return make_empty()
        if kind == "string":
            if self.case_insensitive:
                return minimize(concatenate([self.folded(ord(char)) for char in exp.text]), limit)
            return make_string(exp.text)
        if kind == "anystring":
            return make_any_string()
        if kind == "interval":
            return _interval(exp.low, exp.high, exp.code)
        raise ValueError(f"unknown RegExp kind {kind}")

    def folded(self, code: int) -> Automaton:
        """RegExp.toCaseInsensitiveChar: an ASCII letter matches either case."""
        same = make_char_range(code, code)
        if code > 128:
            return same
        char = chr(code)
        other = ord(char.upper()) if char.islower() else ord(char.lower())
        if other == code:
            return same
        return minimize(union([same, make_char_range(other, other)]), self.limit)


def _interval(low: int, high: int, digits: int) -> Automaton:
    """Automata.makeDecimalInterval: the numbers low..high, zero-padded to `digits` when given, else with any number
    of leading zeros (which its construction reaches through a self-loop on '0' at a new initial state)."""
    x, y = str(low), str(high)
    if low > high or (digits > 0 and len(y) > digits):
        raise ValueError("interval out of range")
    width = digits if digits > 0 else len(y)
    x, y = x.zfill(width), y.zfill(width)
    accept: list[bool] = []
    raw: list[list[tuple[int, int, int]]] = []
    initials: list[int] = []

    def state() -> int:
        accept.append(False)
        raw.append([])
        return len(accept) - 1

    def step(source: int, dest: int, low_char: str, high_char: str | None = None) -> None:
        raw[source].append((ord(low_char), ord(high_char or low_char), dest))

    def any_of_right_length(n: int) -> int:
        s = state()
        if n == len(x):
            accept[s] = True
        else:
            step(s, any_of_right_length(n + 1), "0", "9")
        return s

    def at_least(n: int, zeros: bool) -> int:
        s = state()
        if n == len(x):
            accept[s] = True
        else:
            if zeros:
                initials.append(s)
            char = x[n]
            step(s, at_least(n + 1, zeros and char == "0"), char)
            if char < "9":
                step(s, any_of_right_length(n + 1), chr(ord(char) + 1), "9")
        return s

    def at_most(n: int) -> int:
        s = state()
        if n == len(x):
            accept[s] = True
        else:
            char = y[n]
            step(s, at_most(n + 1), char)
            if char > "0":
                step(s, any_of_right_length(n + 1), "0", chr(ord(char) - 1))
        return s

    def between(n: int, zeros: bool) -> int:
        s = state()
        if n == len(x):
            accept[s] = True
            return s
        if zeros:
            initials.append(s)
        low_char, high_char = x[n], y[n]
        if low_char == high_char:
            step(s, between(n + 1, zeros and low_char == "0"), low_char)
        else:
            step(s, at_least(n + 1, zeros and low_char == "0"), low_char)
            step(s, at_most(n + 1), high_char)
            if ord(low_char) + 1 < ord(high_char):
                step(s, any_of_right_length(n + 1), chr(ord(low_char) + 1), chr(ord(high_char) - 1))
        return s

    if digits <= 0:
        state()
    between(0, digits <= 0)
    if digits <= 0:
        raw[0].append((ord("0"), ord("0"), 0))
        for initial in initials:
            raw[0] += raw[initial]
            accept[0] = accept[0] or accept[initial]
    return build(accept, raw)


@lru_cache(maxsize=4096)
def too_complex(pattern: str, case_insensitive: bool = False, limit: int = DEFAULT_DETERMINIZE_WORK_LIMIT) -> str | None:
    """Why a regexp query with this value is refused as too complex by Lucene 9 (None: it builds).

    Only for patterns Lucene parses (deployer.dialects.lucene.check_regexp); one that it would not parse gets None."""
    try:
        tree = _RegExpParser(pattern).parse()
        automaton = _Builder(limit, case_insensitive).automaton(tree)
        _compile(automaton, limit)
    except TooComplex as error:
        return str(error)
    except (ValueError, RecursionError):
        return None
    return None


MAX_RECURSION_LEVEL = 1000
"""Operations.MAX_RECURSION_LEVEL: how deep Operations.isFinite may walk before refusing the automaton."""


def _compile(automaton: Automaton, limit: int) -> None:
    """CompiledAutomaton's steps that can refuse: determinize, then isFinite's depth-first walk (unless the language
    is empty, everything, or a single string)."""
    if _is_empty(automaton) or (automaton.accept[0] and automaton.transitions[0] == [(0, MAX_CODE_POINT, 0)]):
        return
    automaton = determinize(automaton, limit)
    if not _is_single_string(automaton):
        _walk_for_finiteness(automaton)
        # The terms are UTF-8 bytes: the query runs the automaton converted to them, determinized once more (an
        # automaton that tells non-ASCII characters apart becomes nondeterministic on their shared lead bytes).
        determinize(utf32_to_utf8(automaton), limit)


def _is_empty(automaton: Automaton) -> bool:
    if automaton.states == 0:
        return True
    seen, work = {0}, [0]
    while work:
        state = work.pop()
        if automaton.accept[state]:
            return False
        for _, _, dest in automaton.transitions[state]:
            if dest not in seen:
                seen.add(dest)
                work.append(dest)
    return True


def _is_single_string(automaton: Automaton) -> bool:
    """Operations.getSingleton is not null."""
    state, visited = 0, set()
    while True:
        visited.add(state)
        transitions = automaton.transitions[state]
        if automaton.accept[state]:
            return not transitions
        if len(transitions) != 1 or transitions[0][0] != transitions[0][1] or transitions[0][2] in visited:
            return False
        state = transitions[0][2]


def _walk_for_finiteness(automaton: Automaton) -> None:
    """Operations.isFinite, which recurses once per state along a path: past MAX_RECURSION_LEVEL Lucene refuses the
    automaton ("input automaton is too large"), so a long chain such as a case-insensitive a{2000} fails to build."""
    path, visited = {0}, set()
    stack = [(0, 0)]  # (state, next transition); the depth is len(stack) - 1
    while stack:
        state, index = stack[-1]
        transitions = automaton.transitions[state]
        if index == len(transitions):
            stack.pop()
            path.discard(state)
            visited.add(state)
            continue
        stack[-1] = (state, index + 1)
        dest = transitions[index][2]
        if dest in path:
            return  # a cycle: infinite, and the walk stops here
        if dest not in visited:
            if len(stack) > MAX_RECURSION_LEVEL:
                raise TooComplex(f"its automaton is more than {MAX_RECURSION_LEVEL} states deep "
                                 "(input automaton is too large)")
            path.add(dest)
            stack.append((dest, 0))


@lru_cache(maxsize=4096)
def wildcard_too_complex(pattern: str, case_insensitive: bool = False,
                         limit: int = DEFAULT_DETERMINIZE_WORK_LIMIT) -> str | None:
    """Why a wildcard query with this value is refused as too complex (None: it builds).

    WildcardQuery.toAutomaton concatenates, unminimized, any-string for `*`, any-character for `?` and the
    character itself (`\\` escapes the next one); case-insensitively the engines fold each unescaped ASCII letter.
    `*a?????????????` needs the same exponential determinization as the regexp `.*a.{13}`."""
    parts: list[Automaton] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            parts.append(make_any_string())
        elif char == "?":
            parts.append(make_char_range(0, MAX_CODE_POINT))
        elif char == "\\" and index < len(pattern):
            parts.append(make_char_range(ord(pattern[index]), ord(pattern[index])))
            index += 1
        elif case_insensitive and char.isascii() and char.lower() != char.upper():
            parts.append(union([make_char_range(ord(char), ord(char)), make_char_range(ord(char.swapcase()),
                                                                                         ord(char.swapcase()))]))
        else:
            parts.append(make_char_range(ord(char), ord(char)))
    try:
        _compile(concatenate(parts), limit)
    except TooComplex as error:
        return str(error)
    return None

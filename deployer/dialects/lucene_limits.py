"""Whether the engines can build a regexp or wildcard query: Lucene 9's RegExp.toAutomatonInternal (over the tree
deployer.dialects.lucene_regexp parses), WildcardQuery.toAutomaton and CompiledAutomaton's refusing steps, ported
over deployer.dialects.lucene_automaton.

`(a|b)*a(a|b){20}` passes Lucene's parser but not its work limit: every run of a rule holding it fails with
"Determinizing ... would require more than 10000 effort". too_complex and wildcard_too_complex say so at
validation, and agree with real Lucene on generated patterns (tests/dialects/test_lucene_limits.py).

The verdict follows Lucene 9.12 (OpenSearch 2.19); Lucene 10 (Elasticsearch 9) builds without the
intermediate minimizations, so it accepts a few patterns that Lucene 9 refuses (an intersection that empties a
blow-up), never measured the other way round.
"""

from __future__ import annotations

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
from deployer.dialects.lucene_regexp import PREDEFINED, Exp, RegExpTooDeep, parse_regexp
from deployer.dialects.lucene_utf8 import utf32_to_utf8


def _leaves(exp: Exp, kind: str, out: list[Automaton], build: _Builder) -> None:
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

    def automaton(self, exp: Exp) -> Automaton:
        kind, limit = exp.kind, self.limit
        if kind in ("union", "concatenation"):
            parts: list[Automaton] = []
            _leaves(exp, kind, parts, self)
            return minimize(union(parts) if kind == "union" else concatenate(parts), limit)
        if kind == "pre_class":
            predefined = parse_regexp(PREDEFINED[exp.text]).exp
            assert predefined is not None
            return _Builder(limit, False).automaton(predefined)
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
        tree = parse_regexp(pattern).exp
        if tree is None:
            return None
        automaton = _Builder(limit, case_insensitive).automaton(tree)
        _compile(automaton, limit)
    except TooComplex as error:
        return str(error)
    except (ValueError, RecursionError, RegExpTooDeep):
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

"""Lucene's regexp and wildcard dialects, as Elasticsearch and OpenSearch evaluate them.

A regexp is read by Lucene's own parser (deployer.dialects.lucene_regexp, flags ALL): the same input is accepted or
refused, and the tree it builds lets detect explain what a pattern means in Lucene. From how that parser read the
text, check_regexp reports PCRE habits that Lucene silently reads as something else (`^`, `$`, `(?:`, `\\d`, ...):
those are the mistakes that make a ported rule never fire.

It also refuses what Lucene 9.12 accepts but a rule never means: the empty regexp, `\\D`, `\\S` or `\\W` inside
`[...]`, an escaped letter ending a range (`[a-\\d]` is a-d), `<n-m>` with other than ASCII digits or with numbers
beyond 2147483647, and nesting deeper than Python's stack (from about 140 groups; Lucene's from about 2,000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Union

from deployer.dialects.lucene_regexp import PREDEFINED, Exp, RegExpError, RegExpTooDeep, Token, parse_regexp


@dataclass(frozen=True)
class Char:
    code: int


@dataclass(frozen=True)
class AnyChar:
    pass


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class CharClass:
    ranges: tuple[tuple[int, int], ...]
    negated: bool


@dataclass(frozen=True)
class Concat:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Union_:
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    node: Node
    minimum: int
    maximum: int | None


@dataclass(frozen=True)
class Operator:
    """Lucene-only constructs: empty language (#), any string (@), complement, intersection, numeric interval."""

    kind: str
    operands: tuple[Node, ...] = ()
    low: int = 0
    high: int = 0


Node = Union[Char, AnyChar, Literal, CharClass, Concat, Union_, Repeat, Operator]


@dataclass(frozen=True)
class Finding:
    """A pattern problem at a character offset."""

    position: int
    message: str

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"


@dataclass(frozen=True)
class Checked:
    tree: Node | None
    error: str | None
    findings: tuple[Finding, ...]


def check_regexp(pattern: str) -> Checked:
    """Parse a regexp as Lucene does; `error` when detect refuses it, `findings` for PCRE habits.

    The findings are those read before the error, in the order of the text."""
    findings: list[Finding] = []
    if pattern.startswith("^"):
        findings.append(Finding(0, "'^' is a literal character in Lucene: its regexps always match the whole value, remove it"))
    try:
        # An escaped backslash then a dash is the one text detect reads otherwise than Lucene (see parse_regexp);
        # elsewhere the readings agree and this is the parse lucene_limits builds from.
        parsed = parse_regexp(pattern, backslash_ranges="\\\\-" in pattern)
    except RegExpTooDeep as too_deep:
        refused = _read(pattern, too_deep.tokens, findings) or "groups or operators nest too deeply"
        return Checked(None, refused, tuple(findings))
    error = _read(pattern, parsed.tokens, findings)
    if error is None and not pattern:
        error = "unexpected end of pattern"
    if error is None and parsed.error is not None:
        error = _refusal(pattern, parsed.error)
    if error is not None or parsed.exp is None:
        return Checked(None, error, tuple(findings))
    return Checked(_tree(parsed.exp), None, tuple(findings))


def _read(pattern: str, tokens: tuple[Token, ...], findings: list[Finding]) -> str | None:
    """Add the findings of what the parser read to `findings`, up to the first construct detect refuses (returned)."""
    for at, kind, in_class in tokens:
        if kind == "char" and pattern[at] == "\\":
            escaped = pattern[at + 1]
            if escaped.isascii() and escaped.isalpha():  # only where Lucene reads no predefined class: a range's end
                return _not_an_escape(escaped, at)
            if escaped.isdigit():
                findings.append(Finding(at, f"'\\{escaped}' is a PCRE back-reference; Lucene reads it as the digit {escaped!r}"))
        elif kind == "char" and not in_class and pattern[at] == "$":
            findings.append(Finding(at, "'$' is a literal character in Lucene: its regexps always match the whole value"))
        elif kind == "char" and not in_class and pattern[at] in "*+?" and pattern[at - 1:at] not in ("(", "~"):
            # Read as a character where an operand starts; right after '(' or '~' the group or complement is reported.
            findings.append(Finding(at, f"{pattern[at]!r} repeats nothing here: Lucene reads it as a literal character"))
        elif kind == "predefined":
            letter = pattern[at + 1]
            findings.append(Finding(at, f"'\\{letter}' is a PCRE shorthand that older engines read as the letter "
                                        f"{letter!r}; write an explicit class such as [0-9]"))
            if in_class and letter.isupper():
                return f"'\\{letter}' inside [...]: write the class out, e.g. [^0-9]"
        elif kind == "group" and pattern[at + 1:at + 2] == "?":
            findings.append(Finding(at, "'(?' groups and flags are PCRE-only: Lucene reads '?' as a literal character"))
        elif kind == "interval":
            body = pattern[at + 1:pattern.find(">", at + 1)]
            interval = re.fullmatch(r"([0-9]+)-([0-9]+)", body)
            if interval is None:
                return f"'<{body}>' is not a numeric interval <n-m>; write '\\<' for the character"
            findings.append(Finding(at, "'<n-m>' is Lucene's numeric-interval operator; write '\\<' for the character"))
            too_large = _too_large(interval.group(1), at) or _too_large(interval.group(2), at)
            if too_large is not None:
                return too_large
        elif kind in _OPERATORS:
            findings.append(Finding(at, _OPERATORS[kind]))
    return None


_OPERATORS = {
    "intersection": "'&' is Lucene's intersection operator; write '\\&' for the character",
    "complement": "'~' is Lucene's complement operator; write '\\~' for the character",
    "empty": "'#' is Lucene's empty-language operator (matches nothing); write '\\#' for the character",
    "anystring": "'@' is Lucene's any-string operator; write '\\@' for the character",
}


def _refusal(pattern: str, error: RegExpError) -> str:
    """Lucene's refusal as detect words it."""
    at = error.position
    match error.reason:
        case "end":
            return "unexpected end of pattern"
        case "trailing":
            return f"unexpected {pattern[at]!r} at character {at + 1}"
        case "repeat_close":
            return f"expected '}}' at character {at + 1}"
        case "repeat_order":
            return f"repetition {{{error.low},{error.high}}} has its bounds reversed"
        case "integer":
            digits = re.match(r"[0-9]*", pattern[at:])
            return _too_large(digits.group() if digits else "", at) or f"integer expected at character {at + 1}"
        case "class_close":
            return f"expected ']' at character {at + 1}"
        case "range_order":
            return f"invalid range {chr(error.low)}-{chr(error.high)}"
        case "escape":
            return _not_an_escape(pattern[at + 1], at)
        case "quote":
            return f"unterminated '\"' quote at character {at + 1}"
        case "group_close":
            return f"expected ')' at character {at + 1}"
        case "interval_close":
            return f"expected '>' at character {len(pattern) + 1}"
    return str(error)  # an interval Lucene refuses, which _read refuses first


def _not_an_escape(letter: str, position: int) -> str:
    return (f"'\\{letter}' at character {position + 1} is not a Lucene escape: Lucene 9 refuses "
            "a backslash before a letter other than d, D, s, S, w, W")


def _too_large(digits: str, position: int) -> str | None:
    """Numbers Lucene reads with Integer.parseInt: a larger one makes it refuse the pattern."""
    if digits and (len(digits) > 10 or int(digits) > 2**31 - 1):
        return (f"number {digits[:12]}{'...' if len(digits) > 12 else ''} at character {position + 1} "
                "is larger than Lucene reads (2147483647)")
    return None


_REPEATS = {"optional": (0, 1), "repeat": (0, None)}


def _tree(exp: Exp) -> Node:
    """Lucene's tree as detect's Node tree, without recursion: a chain of 5,000 `*` nests 5,000 deep."""
    built: dict[int, Node] = {}
    work: list[tuple[Exp, bool]] = [(exp, False)]
    while work:
        current, ready = work.pop()
        children = _children(current)
        if not ready and children:
            work.append((current, True))
            work += [(child, False) for child in children]
            continue
        built[id(current)] = _node(current, tuple(built.pop(id(child)) for child in children))
    return built[id(exp)]


def _children(exp: Exp) -> list[Exp]:
    if exp.bracket:
        return []
    if exp.kind in ("concatenation", "union"):
        return _operands(exp, exp.kind)
    return [child for child in (exp.exp1, exp.exp2) if child is not None]


def _operands(exp: Exp, kind: str) -> list[Exp]:
    """`exp` and the `kind` nodes nested in it (not within a bracket class) as one list, left to right."""
    operands, work = [], [exp]
    while work:
        current = work.pop()
        if current.kind == kind and current.exp1 is not None and current.exp2 is not None \
                and (current is exp or not current.bracket):
            work += [current.exp2, current.exp1]
        else:
            operands.append(current)
    return operands


def _node(exp: Exp, children: tuple[Node, ...]) -> Node:
    kind = exp.kind
    if exp.bracket or kind == "char_range":
        return CharClass(_class_ranges(exp), exp.kind == "intersection")
    if kind == "pre_class":
        return CharClass(_predefined_ranges(exp.text.lower()), exp.text.isupper())
    if kind == "char":
        return Char(exp.code)
    if kind == "string":
        return Literal(exp.text)
    if kind == "anychar":
        return AnyChar()
    if kind == "concatenation":
        return Concat(children)
    if kind == "union":
        return Union_(children)
    if kind in ("optional", "repeat", "repeat_min", "repeat_range"):
        minimum, maximum = _REPEATS.get(kind, (exp.low, exp.high if kind == "repeat_range" else None))
        return Repeat(children[0], minimum, maximum)
    if kind == "interval":
        return Operator("interval", low=exp.low, high=exp.high)
    return Operator(kind, children)  # intersection, complement, empty, anystring


def _class_ranges(exp: Exp) -> tuple[tuple[int, int], ...]:
    """The ranges of a bracket class, in the order written; `[^...]` is Lucene's `. & ~(...)`."""
    if exp.kind == "intersection" and exp.exp2 is not None and exp.exp2.exp1 is not None:
        exp = exp.exp2.exp1
    ranges: list[tuple[int, int]] = []
    for item in _operands(exp, "union"):
        if item.kind == "pre_class":
            ranges += _predefined_ranges(item.text.lower())
        elif item.kind == "char_range":
            ranges.append((item.low, item.high))
        else:
            ranges.append((item.code, item.code))
    return tuple(ranges)


@cache
def _predefined_ranges(letter: str) -> tuple[tuple[int, int], ...]:
    """`\\d`, `\\s`, `\\w` as Lucene defines them."""
    exp = parse_regexp(PREDEFINED[letter]).exp
    assert exp is not None
    return _class_ranges(exp)


def folding_findings(tree: Node) -> list[Finding]:
    """With case_insensitive, Lucene folds single letters but not ranges: [a-f] still misses 'B'."""
    findings = []
    for node in _walk(tree):
        if isinstance(node, CharClass):
            for low, high in node.ranges:
                # A letter whose other case is several characters (ß -> SS) has no one-character fold to miss.
                if low != high and any(chr(code).isalpha() and len(chr(code).swapcase()) == 1 and chr(code).swapcase() != chr(code)
                                       and not _covered(node, ord(chr(code).swapcase())) for code in range(low, high + 1)):
                    findings.append(Finding(0, f"case_insensitive does not fold the range {chr(low)}-{chr(high)}: "
                                               "list both cases, e.g. [a-fA-F]"))
                    break
    return findings


def _covered(node: CharClass, code: int) -> bool:
    return any(low <= code <= high for low, high in node.ranges)


def _walk(tree: Node) -> list[Node]:
    nodes: list[Node] = [tree]
    if isinstance(tree, Concat):
        nodes += [child for part in tree.parts for child in _walk(part)]
    elif isinstance(tree, Union_):
        nodes += [child for option in tree.options for child in _walk(option)]
    elif isinstance(tree, Repeat):
        nodes += _walk(tree.node)
    elif isinstance(tree, Operator):
        nodes += [child for operand in tree.operands for child in _walk(operand)]
    return nodes


def check_wildcard(pattern: str) -> list[Finding]:
    """Findings for a Lucene wildcard pattern, where `\\` escapes the next character (`*\\calc.exe` means `*calc.exe`)."""
    findings: list[Finding] = []
    position = 0
    while position < len(pattern):
        if pattern[position] == "\\":
            following = pattern[position + 1 : position + 2]
            if following not in ("\\", "*", "?"):
                findings.append(Finding(
                    position,
                    "a single '\\' escapes the next character in a wildcard pattern; "
                    "write '\\\\' for a backslash (in JSON: \"\\\\\\\\\")",
                ))
            position += 2
        else:
            position += 1
    return findings


def to_python_regex(tree: Node) -> str:
    """A Python `re` pattern with the same language, for use with re.fullmatch (tests and diagnostics).

    Lucene-only operators (complement, intersection, interval) have no `re` equivalent and raise ValueError.
    """
    if isinstance(tree, Char):
        return re.escape(chr(tree.code))
    if isinstance(tree, AnyChar):
        return "(?s:.)"
    if isinstance(tree, Literal):
        return re.escape(tree.text)
    if isinstance(tree, CharClass):
        body = "".join(
            re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
            for low, high in tree.ranges
        )
        return f"[{'^' if tree.negated else ''}{body}]"
    if isinstance(tree, Concat):
        return "".join(f"(?:{to_python_regex(part)})" for part in tree.parts)
    if isinstance(tree, Union_):
        return "|".join(f"(?:{to_python_regex(option)})" for option in tree.options)
    if isinstance(tree, Repeat):
        inner = f"(?:{to_python_regex(tree.node)})"
        upper = "" if tree.maximum is None else str(tree.maximum)
        return f"{inner}{{{tree.minimum},{upper}}}"
    if isinstance(tree, Operator) and tree.kind == "anystring":
        return "(?s:.*)"
    if isinstance(tree, Operator) and tree.kind == "empty":
        return "(?!)"
    raise ValueError(f"Lucene operator {getattr(tree, 'kind', tree)!r} has no Python equivalent")

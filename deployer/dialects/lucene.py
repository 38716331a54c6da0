"""Lucene's regexp and wildcard dialects, as Elasticsearch and OpenSearch evaluate them.

The parser follows `org.apache.lucene.util.automaton.RegExp` with the flags the engines use by default
(ALL): the same input is accepted or refused, and the tree it builds lets detect explain what a pattern
means in Lucene. On top of Lucene's own errors it reports PCRE habits that Lucene silently reads as
something else (`^`, `$`, `(?:`, `\\d`, ...): those are the mistakes that make a ported rule never fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

_SHORTHAND_CLASSES = "dDsSwW"
# Lucene 9's predefined classes (RegExp.matchPredefinedCharacterClass); upper case is the complement.
_SHORTHAND_RANGES = {
    "d": ((48, 57),),
    "s": ((9, 10), (12, 13), (32, 32)),
    "w": ((48, 57), (65, 90), (95, 95), (97, 122)),
}


class LuceneSyntaxError(ValueError):
    """Lucene itself would refuse the pattern."""


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


class _Parser:
    """A port of Lucene 9's recursive-descent RegExp parser (flags ALL), recording PCRE habits on the way."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0
        self.findings: list[Finding] = []

    # --- cursor -------------------------------------------------------------------------------------
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
            raise LuceneSyntaxError("unexpected end of pattern")
        char = self.text[self.pos]
        self.pos += 1
        return char

    def note(self, position: int, message: str) -> None:
        self.findings.append(Finding(position, message))

    # --- grammar ------------------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.peek("^"):
            self.note(0, "'^' is a literal character in Lucene: its regexps always match the whole value, remove it")
        node = self.union()
        if self.more():
            raise LuceneSyntaxError(f"unexpected {self.text[self.pos]!r} at character {self.pos + 1}")
        return node

    def union(self) -> Node:
        options = [self.intersection()]
        while self.match("|"):
            options.append(self.intersection())
        return options[0] if len(options) == 1 else Union_(tuple(options))

    def intersection(self) -> Node:
        node = self.concat()
        if self.peek("&"):
            self.note(self.pos, "'&' is Lucene's intersection operator; write '\\&' for the character")
            self.pos += 1
            node = Operator("intersection", (node, self.intersection()))
        return node

    def concat(self) -> Node:
        parts = [self.repeat()]
        while self.more() and not self.peek(")|&"):
            parts.append(self.repeat())
        return parts[0] if len(parts) == 1 else Concat(tuple(parts))

    def repeat(self) -> Node:
        start = self.pos
        after_group = start > 0 and self.text[start - 1] == "("
        if self.peek("*+?") and not after_group:
            self.note(start, f"{self.text[start]!r} repeats nothing here: Lucene reads it as a literal character")
        node = self.complement()
        while self.peek("?*+{"):
            if self.match("?"):
                node = Repeat(node, 0, 1)
            elif self.match("*"):
                node = Repeat(node, 0, None)
            elif self.match("+"):
                node = Repeat(node, 1, None)
            else:
                self.pos += 1  # '{'
                minimum = self.integer()
                maximum: int | None = minimum
                if self.match(","):
                    maximum = self.integer() if self.peek("0123456789") else None
                if not self.match("}"):
                    raise LuceneSyntaxError(f"expected '}}' at character {self.pos + 1}")
                if maximum is not None and maximum < minimum:
                    raise LuceneSyntaxError(f"repetition {{{minimum},{maximum}}} has its bounds reversed")
                # How large a repetition may grow is Lucene's work limit to decide: see lucene_automaton.
                node = Repeat(node, minimum, maximum)
        return node

    def integer(self) -> int:
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        if start == self.pos:
            raise LuceneSyntaxError(f"integer expected at character {self.pos + 1}")
        return _java_int(self.text[start : self.pos], start)

    def complement(self) -> Node:
        if self.peek("~"):
            self.note(self.pos, "'~' is Lucene's complement operator; write '\\~' for the character")
            self.pos += 1
            return Operator("complement", (self.complement(),))
        return self.char_class()

    def char_class(self) -> Node:
        if not self.match("["):
            return self.simple()
        negated = self.match("^")
        ranges = self.class_item()
        while self.more() and not self.peek("]"):
            ranges += self.class_item()
        if not self.match("]"):
            raise LuceneSyntaxError(f"expected ']' at character {self.pos + 1}")
        return CharClass(tuple(ranges), negated)

    def class_item(self) -> list[tuple[int, int]]:
        shorthand = self.shorthand()
        if shorthand is not None:
            if shorthand.negated:
                raise LuceneSyntaxError(f"'\\{self.text[self.pos - 1]}' inside [...]: write the class out, e.g. [^0-9]")
            return list(shorthand.ranges)
        low = self.char()
        if self.match("-"):
            high = self.char()
            if high < low:
                raise LuceneSyntaxError(f"invalid range {chr(low)}-{chr(high)}")
            return [(low, high)]
        return [(low, low)]

    def shorthand(self) -> CharClass | None:
        """`\\d`, `\\s`, `\\w` and their complements, which Lucene 9 reads as classes."""
        if self.text[self.pos : self.pos + 1] != "\\" or self.text[self.pos + 1 : self.pos + 2] not in tuple(_SHORTHAND_CLASSES):
            return None
        letter = self.text[self.pos + 1]
        self.note(self.pos, f"'\\{letter}' is a PCRE shorthand that older engines read as the letter "
                            f"{letter!r}; write an explicit class such as [0-9]")
        self.pos += 2
        return CharClass(_SHORTHAND_RANGES[letter.lower()], letter.isupper())

    def simple(self) -> Node:
        start = self.pos
        if self.match("."):
            return AnyChar()
        if self.match("#"):
            self.note(start, "'#' is Lucene's empty-language operator (matches nothing); write '\\#' for the character")
            return Operator("empty")
        if self.match("@"):
            self.note(start, "'@' is Lucene's any-string operator; write '\\@' for the character")
            return Operator("anystring")
        if self.match('"'):
            end = self.text.find('"', self.pos)
            if end < 0:
                raise LuceneSyntaxError(f"unterminated '\"' quote at character {start + 1}")
            literal = self.text[self.pos : end]
            self.pos = end + 1
            return Literal(literal)
        if self.match("("):
            if self.peek("?"):
                self.note(start, "'(?' groups and flags are PCRE-only: Lucene reads '?' as a literal character")
            if self.match(")"):
                return Literal("")
            node = self.union()
            if not self.match(")"):
                raise LuceneSyntaxError(f"expected ')' at character {self.pos + 1}")
            return node
        if self.match("<"):
            end = self.text.find(">", self.pos)
            if end < 0:
                raise LuceneSyntaxError(f"expected '>' at character {len(self.text) + 1}")
            body = self.text[self.pos : end]
            self.pos = end + 1
            interval = re.fullmatch(r"([0-9]+)-([0-9]+)", body)
            if interval is None:
                raise LuceneSyntaxError(f"'<{body}>' is not a numeric interval <n-m>; write '\\<' for the character")
            self.note(start, "'<n-m>' is Lucene's numeric-interval operator; write '\\<' for the character")
            low, high = (_java_int(interval.group(group), start) for group in (1, 2))
            return Operator("interval", low=low, high=high)
        if self.peek("$"):
            self.note(start, "'$' is a literal character in Lucene: its regexps always match the whole value")
        shorthand = self.shorthand()
        return shorthand if shorthand is not None else Char(self.char())

    def char(self) -> int:
        start = self.pos
        if self.match("\\"):
            escaped = self.next()
            if escaped.isascii() and escaped.isalpha():
                raise LuceneSyntaxError(f"'\\{escaped}' at character {start + 1} is not a Lucene escape: Lucene 9 refuses "
                                        "a backslash before a letter other than d, D, s, S, w, W")
            elif escaped.isdigit():
                self.note(start, f"'\\{escaped}' is a PCRE back-reference; Lucene reads it as the digit {escaped!r}")
            return ord(escaped)
        return ord(self.next())


@dataclass(frozen=True)
class Checked:
    tree: Node | None
    error: str | None
    findings: tuple[Finding, ...]


def check_regexp(pattern: str) -> Checked:
    """Parse a regexp as Lucene does; `error` when Lucene refuses it, `findings` for PCRE habits."""
    parser = _Parser(pattern)
    try:
        tree = parser.parse()
    except LuceneSyntaxError as error:
        return Checked(None, str(error), tuple(parser.findings))
    except RecursionError:
        # Lucene's parser recurses too and fails with StackOverflowError (measured from about 2,000 levels).
        return Checked(None, "groups or operators nest too deeply", tuple(parser.findings))
    return Checked(tree, None, tuple(parser.findings))


def _java_int(digits: str, position: int) -> int:
    """A number as Lucene reads it (Integer.parseInt): larger ones make it refuse the pattern."""
    if len(digits) > 10 or int(digits) > 2**31 - 1:
        raise LuceneSyntaxError(f"number {digits[:12]}{'...' if len(digits) > 12 else ''} at character {position + 1} "
                                "is larger than Lucene reads (2147483647)")
    return int(digits)


def folding_findings(tree: Node) -> list[Finding]:
    """With case_insensitive, Lucene folds single letters but not ranges: [a-f] still misses 'B'."""
    findings = []
    for node in _walk(tree):
        if isinstance(node, CharClass):
            for low, high in node.ranges:
                if low != high and any(chr(code).isalpha() and chr(code).swapcase() != chr(code)
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

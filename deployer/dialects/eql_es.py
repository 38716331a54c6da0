"""Where Elasticsearch's EQL and the `eql` library's Elasticsearch syntax part: what ES accepts that the library
refuses, and what ES refuses that the library accepts.

Read from Elasticsearch's EQL grammar (x-pack/plugin/eql EqlBase.g4), its syntax reference and its verifier:
- `with runs=N` takes 1 to 100; the library refuses 1 (`with runs=1` means the clause once, so it is blanked out
  before parsing, keeping every line and column where it was).
- A sequence with missing events (`![...]`) needs at least one clause that is not missing.
- `join`, lineage (`descendant of`, `child of`, `event of`), pipes other than `head` and `tail`, and the functions
  `match`, `arrayContains`, `arrayCount`, `arraySearch` are Endgame EQL that Elasticsearch refuses.
- `field in (...)` (also `not in`, `in~`) needs values of the field's type: numbers against a keyword field are a
  verification error (ql's In.resolveType: every value must be compatible with the field's type). Comparisons
  (`==`, `!=`, `<`, ...) are not checked that way by Elasticsearch, so they are not here either.
- `?field` marks a field that may be missing from the mapping: Elasticsearch reads it as null then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Strings and comments, so that what looks like syntax inside them is left alone.
_OPAQUE = re.compile(r'"""[^\r\n]*?"""|\?"(?:\\"|[^"\r\n])*"|"(?:\\.|[^"\\\r\n])*"|\'(?:\\.|[^\'\\\r\n])*\''
                     r"|//[^\n]*|/\*[\s\S]*?\*/")
_RUNS = re.compile(r"\bwith\s+runs\s*=\s*(\d+)\b")
MAX_RUNS = 100
_SUPPORTED_PIPES = ("head", "tail")
_ENDGAME_FUNCTIONS = ("match", "matchlite", "arraycontains", "arraycount", "arraysearch")
_STRING_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "text", "match_only_text"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
                            "unsigned_long"})
# A literal's kind as Elasticsearch types it, and the field types it may be compared with by `in`.
_LITERAL_ES_TYPE = {"string": "keyword", "number": "integer", "decimal": "double", "boolean": "boolean"}


class RunsOutOfRange(ValueError):
    """`with runs=N` outside 1..100; `offset` is where N stands in the query text."""

    def __init__(self, runs: int, offset: int) -> None:
        super().__init__(f"with runs={runs}: Elasticsearch takes runs between 1 and {MAX_RUNS}")
        self.offset = offset


def _masked(text: str) -> str:
    return _OPAQUE.sub(lambda match: " " * len(match.group()), text)


def prepare(text: str) -> str:
    """`text` as the `eql` library should parse it: `with runs=1` blanked out (same length, so positions hold).

    Raises RunsOutOfRange for a runs value Elasticsearch refuses."""
    spans = []
    for match in _RUNS.finditer(_masked(text)):
        runs = int(match.group(1))
        if not 1 <= runs <= MAX_RUNS:
            raise RunsOutOfRange(runs, match.start(1))
        if runs == 1:
            spans.append(match.span())
    for start, end in reversed(spans):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


@dataclass(frozen=True)
class InSetUse:
    """`field in (...)`, `not in`, `in~` with literal values: what Elasticsearch checks against the field's type."""

    field: str
    operator: str
    values: tuple[tuple[str, str], ...]  # (kind, as written): kind is string, number, decimal, boolean or null


@dataclass(frozen=True)
class EsFacts:
    """What the parse tree says that the `eql` AST no longer does."""

    optional_fields: frozenset[str] = frozenset()
    in_sets: tuple[InSetUse, ...] = ()
    refusals: tuple[str, ...] = ()


def es_facts(tree: Any) -> EsFacts:
    """Walk the library's lark parse tree (which keeps `?`, `in` vs `==`, `![`, pipes and functions as written)."""
    optional: set[str] = set()
    in_sets: list[InSetUse] = []
    refusals: list[str] = []
    for node in _subtrees(tree):
        kind = node.data
        if kind == "field" and str(node.children[0]).startswith("?"):
            optional.add(_field_text(node))
        elif kind in ("in_set", "not_in_set"):
            in_set = _in_set(node)
            if in_set is not None:
                in_sets.append(in_set)
        elif kind == "join":
            refusals.append("join is Endgame EQL: Elasticsearch refuses it; write a sequence")
        elif kind == "named_subquery":
            relation = str(node.children[0].children[0])
            refusals.append(f"`{relation} of [...]` (lineage) is Endgame EQL: Elasticsearch refuses it")
        elif kind == "pipe":
            name = str(node.children[0].children[0])
            if name not in _SUPPORTED_PIPES:
                refusals.append(f"pipe `| {name}`: Elasticsearch supports only | head and | tail")
        elif kind == "function_call":
            name = str(node.children[0]).rstrip("~")
            if name.lower() in _ENDGAME_FUNCTIONS:
                refusals.append(f"function {name}() is Endgame EQL: Elasticsearch has no such function")
        elif kind == "sequence":
            terms = [child for child in node.children if getattr(child, "data", None) == "subquery_by"]
            if terms and all(_is_missing(term) for term in terms):
                refusals.append("a sequence needs at least one event that is not missing (![...])")
    return EsFacts(frozenset(optional), tuple(in_sets), tuple(dict.fromkeys(refusals)))


def _subtrees(tree: Any) -> Iterator[Any]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "data"):
            yield node
            stack.extend(reversed([child for child in node.children if child is not None]))


def _is_missing(subquery_by: Any) -> bool:
    subquery = subquery_by.children[0]
    return any(not hasattr(child, "data") and str(child) == "![" for child in subquery.children)


def _field_text(node: Any) -> str:
    """A field as the `eql` AST names it (field_name): no `?`, no backticks, `[0]` as `.0`."""
    text = "".join(str(node.children[0]).split()).lstrip("?").replace("`", "")
    return re.sub(r"\[(\d+)\]", r".\1", text)


def _field_of(node: Any) -> str | None:
    if getattr(node, "data", None) == "field":
        return _field_text(node)
    if getattr(node, "data", None) == "base_field" and getattr(node.children[0], "data", None) == "name":
        return str(node.children[0].children[0])
    return None


def _in_set(node: Any) -> InSetUse | None:
    left, operator, expressions = node.children
    field = _field_of(left)
    if field is None:
        return None
    values = []
    for item in expressions.children:
        if getattr(item, "data", None) != "literal":
            continue
        (inner,) = item.children
        written = str(inner.children[0]) if inner.children else "null"
        kind = "decimal" if inner.data == "number" and not written.isdigit() else str(inner.data)
        values.append((kind, written))
    written_operator = ("not " if node.data == "not_in_set" else "") + str(operator)
    return InSetUse(field, written_operator, tuple(values))


def type_findings(in_sets: tuple[InSetUse, ...], type_of: Callable[[str], str | None]) -> Iterator[str]:
    """Each `in` whose values Elasticsearch refuses for the field's type (`type_of` gives it, None when unknown)."""
    for use in in_sets:
        field_type = type_of(use.field)
        family = _family(field_type)
        if family is None:
            continue
        for kind, written in use.values:
            if kind == "null" or _family(_LITERAL_ES_TYPE[kind]) == family:
                continue
            shown = f"{use.field} {use.operator} ({', '.join(value for _, value in use.values)})"
            fix = {"string": "write the values as strings, in double quotes",
                   "numeric": "write the values as numbers, without quotes",
                   "boolean": "write true or false"}[family]
            yield (f"{shown!r}: {use.field} is a {field_type} field and {written} is a {kind}; Elasticsearch refuses "
                   f"the query on every run (a verification error: the values of {use.operator} must be of the "
                   f"field's type): {fix}")
            break


def _family(field_type: str | None) -> str | None:
    if field_type in _STRING_TYPES:
        return "string"
    if field_type in _NUMERIC_TYPES or field_type in ("integer", "double"):
        return "numeric"
    if field_type == "boolean":
        return "boolean"
    return None  # ip, date, version, ...: Elasticsearch's rules for them are not modelled here, so nothing is said

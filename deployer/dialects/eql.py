"""EQL as Elasticsearch reads it, checked with Elastic's `eql` parser (its evaluator is not ES-faithful: unused).

The library runs with its Elasticsearch syntax and the forms Elasticsearch has added (`sample`, `with runs=`,
missing events `![...]`); eql_es.py holds where the two still part and what the library's AST loses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from deployer.dialects.dsl import FieldUse
from deployer.dialects.eql_es import EsFacts, RunsOutOfRange, es_facts, prepare, type_findings


@dataclass(frozen=True)
class EqlParsed:
    """A parsed EQL query: the `eql` AST, and the fields and patterns it uses."""

    tree: Any
    uses: tuple[FieldUse, ...]
    event_category: str  # "any" or the category before `where`; "sequence", "sample" etc. for multi-event queries
    escape_findings: tuple[str, ...] = ()  # control characters that escapes made in path values (see _escape_findings)
    es: EsFacts = field(default_factory=EsFacts)  # optional fields, `in` values, constructs Elasticsearch refuses


class EqlSyntax(ValueError):
    """The query does not parse; the message names line and column."""


@lru_cache(maxsize=4096)
def parse_eql(text: str) -> EqlParsed:
    """Parse once per distinct query text: validation, compilers and proofs share the result."""
    import eql  # 0.5 s to import: only when a rule is EQL

    try:
        prepared = prepare(text)
        with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions, eql.parser.allow_sample, \
                eql.parser.allow_runs, eql.parser.allow_negation:
            lark_tree, tree = _parse(prepared, eql)
    except RunsOutOfRange as error:
        line = text.count("\n", 0, error.offset) + 1
        column = error.offset - (text.rfind("\n", 0, error.offset) + 1) + 1
        raise EqlSyntax(f"EQL does not parse at line {line} column {column}: {error}") from None
    except eql.EqlError as error:
        line = getattr(error, "line", 0) + 1
        column = getattr(error, "column", 0) + 1
        reason = getattr(error, "error_msg", None) or str(error).splitlines()[-1]
        raise EqlSyntax(f"EQL does not parse at line {line} column {column}: {reason}{_escape_hint(text, line, column)}") from None
    uses = tuple(_field_uses(tree, eql))
    first = tree.first
    category = first.event_type if isinstance(first, eql.ast.EventQuery) else type(first).__name__.lower()
    if tree.pipes:
        category = "piped"
    return EqlParsed(tree, uses, category, tuple(_escape_findings(tree, eql)), es_facts(lark_tree))


def _parse(text: str, eql: Any) -> tuple[Any, Any]:
    """The lark parse tree and the optimised `eql` AST of one query, from one parse.

    What eql.parse_query does (eql 1.x, parser._parse), keeping the lark tree it discards: the AST loses `?`, `in`
    against `==`, `![` and the pipes' and functions' names as written, which eql_es reads from the tree."""
    from eql import parser

    text = text if text.endswith("\n") else text + "\n"
    with parser.ParserConfig(implied_any=False, implied_base=False, allow_subqueries=True, preprocessor=None,
                             allow_pipes=True):
        parser.load_extensions(force=False)
        walker = parser.LarkToEQL(text)
        try:
            lark_tree = parser.lark_parser.parse(text, start="piped_query")
        except parser.LarkError as error:
            width = len(error.token) if hasattr(error, "token") else 1
            raise eql.EqlSyntaxError("Invalid syntax", line=error.line - 1, column=error.column - 1, width=width,
                                     source="\n".join(walker.lines[error.line - 2:error.line])) from None
        node = walker.visit(lark_tree)
        if isinstance(node, parser.NodeInfo):
            node = node.node
        return lark_tree, parser.Optimizer(recursive=True).walk(node)


class KnownFields(Protocol):
    """What the checks need of a rule's fields: a data source, or the fields its index patterns hold."""

    def has(self, name: str) -> bool: ...

    @property
    def field_types(self) -> Mapping[str, str]: ...


def checked_uses(parsed: EqlParsed, source: KnownFields) -> tuple[list[FieldUse], list[str]]:
    """The uses to check against `source`, and what Elasticsearch refuses in the query given those fields.

    An optional field (`?name`) that `source` lacks is no missing field: Elasticsearch reads it as null."""
    optional = parsed.es.optional_fields
    uses = [use for use in parsed.uses if use.field not in optional or source.has(use.field)]
    refused = [*parsed.es.refusals, *type_findings(
        parsed.es.in_sets, lambda name: source.field_types[name] if source.has(name) else None)]
    return uses, refused


def _escape_hint(text: str, line: int, column: int) -> str:
    """When the error sits at a "..." string holding a backslash that starts no escape, say how to write one."""
    lines = text.split("\n")
    rest = lines[line - 1][column - 1:] if 0 < line <= len(lines) and column > 0 else ""
    string = re.match(r'"((?:[^"\\]|\\.)*)"', rest)
    if rest.startswith('"""') or string is None:
        return ""
    bad = re.search(r'\\([^"\'\\bfnrtu])', string.group(1))
    if bad is None:
        return ""
    escaped = re.sub(r"\\(?![\\\"'])", r"\\\\", string.group(1))
    return (f" ('\\{bad.group(1)}' is no EQL escape: write '\\\\' for a backslash, \"{escaped}\", "
            f"or use a raw string, \"\"\"{string.group(1)}\"\"\")")


# Fields whose values are file-system paths (ECS: process.executable, file.path, dll.path, process.working_directory,
# registry.path, process.command_line, which starts with one).
_PATH_FIELD = re.compile(r"(?:^|\.)(?:executable|[a-z_]*path|[a-z_]*directory|command_line)$")
# A value that reads as a Windows path or file name: a drive letter, a backslash, or a file extension at the end
# (wildcards aside).
_PATH_VALUE = re.compile(r"[A-Za-z]:|\\|\.[A-Za-z0-9]{1,4}\*?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape_findings(tree: Any, eql: Any) -> list[str]:
    """Control characters in a string compared with a path field, or in a string that reads as a path.

    `"*\\notepad.exe"` in EQL is `*`, a newline, `otepad.exe`: the query parses, and never matches. A control
    character has no business in a path or file name, while `\\t` in, say, a message search may be meant: so only
    values compared with a path-like field, or shaped like a path themselves, are flagged.
    """
    findings: list[str] = []
    for node in tree:
        if isinstance(node, eql.ast.Comparison):
            operands = [node.left, node.right]
        elif isinstance(node, eql.ast.InSet):
            operands = [node.expression, *node.container]
        elif isinstance(node, eql.ast.FunctionCall):
            operands = list(node.arguments)
        else:
            continue
        fields = [field_name(operand) for operand in operands if isinstance(operand, eql.ast.Field)]
        for operand in operands:
            if not isinstance(operand, eql.ast.String) or not _CONTROL.search(operand.value):
                continue
            value = operand.value
            path_field = next((name for name in fields if _PATH_FIELD.search(name)), None)
            if path_field is None and not _PATH_VALUE.search(value):
                continue
            first = _CONTROL.search(value)
            assert first is not None
            what = _CONTROL_NAMES.get(first.group(), f"control character U+{ord(first.group()):04X}")
            where = f"compared with {path_field}" if path_field else "that reads as a path"
            findings.append(f'string "{_as_written(value, 1)}" {where} holds {what} (EQL reads '
                            f"'{_as_written(first.group(), 1)}' as an escape): write '\\\\' for a backslash, "
                            f'"{_as_written(value, 2)}", or use a raw string, """{_as_written(value, 0)}"""')
    return findings


_ESCAPE_LETTERS = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_CONTROL_NAMES = {"\b": "a backspace", "\f": "a form feed", "\n": "a newline", "\r": "a carriage return", "\t": "a tab"}


def _as_written(value: str, backslashes: int) -> str:
    """`value` as EQL source: control characters as their escape with this many backslashes (0: a raw string, where
    the escape's backslash is the literal one meant), a backslash and a quote escaped unless raw."""
    out = []
    for char in value:
        if char in _ESCAPE_LETTERS:
            out.append("\\" * max(backslashes, 1) + _ESCAPE_LETTERS[char])
        elif _CONTROL.match(char):
            out.append(f"\\u{{{ord(char):x}}}")
        elif char in '\\"' and backslashes:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def field_name(node: Any) -> str:
    return ".".join([node.base, *(str(part) for part in node.path)])


def _field_uses(tree: Any, eql: Any) -> list[FieldUse]:
    uses: list[FieldUse] = []
    for node in tree:  # eql nodes iterate depth-first over themselves and their children
        if isinstance(node, eql.ast.FunctionCall) and node.name in ("match", "wildcard") and node.arguments \
                and isinstance(node.arguments[0], eql.ast.Field):
            kind = "regexp" if node.name == "match" else "wildcard"
            for pattern in node.arguments[1:]:
                if isinstance(pattern, eql.ast.String):
                    uses.append(FieldUse("/query", field_name(node.arguments[0]), kind, pattern.value))
        elif isinstance(node, eql.ast.Field):
            uses.append(FieldUse("/query", field_name(node), "field"))
    return uses

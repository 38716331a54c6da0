"""EQL as Elasticsearch reads it, checked with Elastic's `eql` parser (its evaluator is not ES-faithful: unused)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from deployer.dialects.dsl import FieldUse


@dataclass(frozen=True)
class EqlParsed:
    """A parsed EQL query: the `eql` AST, and the fields and patterns it uses."""

    tree: Any
    uses: tuple[FieldUse, ...]
    event_category: str  # "any" or the category before `where`; "sequence" etc. for multi-event queries


class EqlSyntax(ValueError):
    """The query does not parse; the message names line and column."""


@lru_cache(maxsize=4096)
def parse_eql(text: str) -> EqlParsed:
    """Parse once per distinct query text: validation, compilers and proofs share the result."""
    import eql  # 0.5 s to import: only when a rule is EQL

    try:
        with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
            tree = eql.parse_query(text)
    except eql.EqlError as error:
        line = getattr(error, "line", 0) + 1
        column = getattr(error, "column", 0) + 1
        reason = getattr(error, "error_msg", None) or str(error).splitlines()[-1]
        raise EqlSyntax(f"EQL does not parse at line {line} column {column}: {reason}") from None
    uses = tuple(_field_uses(tree, eql))
    first = tree.first
    category = first.event_type if isinstance(first, eql.ast.EventQuery) else type(first).__name__.lower()
    if tree.pipes:
        category = "piped"
    return EqlParsed(tree, uses, category)


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

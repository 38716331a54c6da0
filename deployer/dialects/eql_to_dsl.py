"""Single-event EQL to query DSL, for engines without EQL (OpenSearch).

Elasticsearch's EQL semantics decide the translation: `==`, `in`, `like` and `regex` are case-sensitive,
`:` and the `~` forms are not; comparing a missing field is false. The `eql` library's AST loses the
difference between `like` and `like~` (its own evaluator ignores case), so this walks the parse tree of
its grammar, which keeps the operator tokens. Anything outside the translatable subset is refused with
a reason, never approximated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from deployer.errors import UnsupportedByTarget

JSON = dict[str, Any]


def _refuse(message: str) -> UnsupportedByTarget:
    return UnsupportedByTarget("/query", f"EQL cannot be run on OpenSearch: {message}")


@lru_cache(maxsize=4096)
def _translate_cached(text: str, category_field: str) -> str:
    import json

    try:
        return json.dumps(_Translator(category_field).query(text))
    except RecursionError:
        raise _refuse("the query nests too deeply to translate") from None


def translate_eql(text: str, category_field: str = "event.category") -> JSON:
    """Query DSL selecting exactly the events `text` matches; raises UnsupportedByTarget otherwise. `process where`
    tests `category_field`: the rule's event_category_override when it has one, as Elasticsearch's EQL reads it."""
    import json

    result: JSON = json.loads(_translate_cached(text, category_field))
    return result


def _fields_in(clause: Any) -> set[str]:
    if isinstance(clause, list):
        return set().union(*(_fields_in(item) for item in clause)) if clause else set()
    if not isinstance(clause, dict):
        return set()
    found: set[str] = set()
    for key, value in clause.items():
        if key == "bool":
            found |= set().union(*(_fields_in(v) for k, v in value.items() if k != "minimum_should_match"))
        elif key == "exists":
            found.add(value["field"])
        else:
            found |= set(value)
    return found


class _Translator:
    def __init__(self, category_field: str = "event.category") -> None:
        import eql
        from eql.parser import lark_parser

        self.eql = eql
        self.parser = lark_parser
        self.category_field = category_field

    def query(self, text: str) -> JSON:
        tree = self.parser.parse(text if text.endswith("\n") else text + "\n", start="piped_query")
        base, *pipes = tree.children
        if pipes and pipes[0] is not None:
            raise _refuse("pipes (| head, | tail, ...) select among results")
        (kind,) = base.children
        if kind.data != "event_query":
            raise _refuse(f"{kind.data} queries correlate several events")
        category, condition = (None, kind.children[0]) if len(kind.children) == 1 else kind.children
        clauses = [self.expr(condition)]
        category_name = str(category.children[0]) if category is not None else "any"
        if category_name != "any":
            clauses.insert(0, {"term": {self.category_field: category_name}})
        return {"bool": {"filter": clauses}}

    def expr(self, node: Any) -> JSON:
        handler = getattr(self, f"_{node.data}", None) if hasattr(node, "data") else None
        if handler is None:
            raise _refuse(f"unsupported expression {getattr(node, 'data', node)!s}")
        result: JSON = handler(node)
        return result

    def _or_expr(self, node: Any) -> JSON:
        return {"bool": {"should": [self.expr(child) for child in node.children], "minimum_should_match": 1}}

    def _and_expr(self, node: Any) -> JSON:
        return {"bool": {"filter": [self.expr(child) for child in node.children]}}

    def _not_expr(self, node: Any) -> JSON:
        *nots, term = node.children
        result = self.expr(term)
        fields = sorted(_fields_in(result))
        if len(fields) != 1:
            raise _refuse("`not` over several fields: EQL's null logic has no exact query DSL equivalent")
        for _ in nots:
            # `not` of a comparison on a missing field is null, hence false: the field must exist.
            result = {"bool": {"filter": [{"exists": {"field": fields[0]}}], "must_not": [result]}}
        return result

    def _comparison(self, node: Any) -> JSON:
        left, operator, right = node.children
        field, value = self.field(left), self.literal(right)
        operator = str(operator)
        if value is None:
            if operator in ("==", "="):
                return {"bool": {"must_not": [{"exists": {"field": field}}]}}
            if operator == "!=":
                return {"exists": {"field": field}}
            raise _refuse(f"{operator} null")
        if operator in ("==", "="):
            return {"term": {field: {"value": value}}}
        if operator == "!=":
            return {"bool": {"filter": [{"exists": {"field": field}}], "must_not": [{"term": {field: {"value": value}}}]}}
        bound = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[operator]
        return {"range": {field: {bound: value}}}

    def _in_set(self, node: Any, negate: bool = False) -> JSON:
        left, operator, expressions = node.children
        field = self.field(left)
        values = [self.literal(item) for item in expressions.children if item is not None]
        if str(operator) == "in~":
            match: JSON = {"bool": {"should": [{"term": {field: {"value": value, "case_insensitive": True}}}
                                                for value in values], "minimum_should_match": 1}}
        else:
            match = {"terms": {field: values}}
        if negate:
            return {"bool": {"filter": [{"exists": {"field": field}}], "must_not": [match]}}
        return match

    def _not_in_set(self, node: Any) -> JSON:
        return self._in_set(node, negate=True)

    def _string_predicate(self, node: Any) -> JSON:
        left, operator, *literals = node.children
        field = self.field(left)
        operator = str(operator)
        insensitive = operator == ":" or operator.endswith("~")
        clauses = []
        for literal in literals:
            pattern = self.literal(literal)
            if not isinstance(pattern, str):
                raise _refuse(f"{operator} needs string patterns")
            if operator.startswith("regex"):
                clauses.append({"regexp": {field: {"value": pattern, "case_insensitive": insensitive}}})
            elif "*" in pattern or "?" in pattern:
                # EQL wildcards know only * and ?; Lucene's wildcard also treats '\' as an escape.
                clauses.append({"wildcard": {field: {"value": pattern.replace("\\", "\\\\"),
                                                     "case_insensitive": insensitive}}})
            else:
                clauses.append({"term": {field: {"value": pattern, "case_insensitive": insensitive}}})
        if len(clauses) == 1:
            return clauses[0]
        return {"bool": {"should": clauses, "minimum_should_match": 1}}

    def field(self, node: Any) -> str:
        if getattr(node, "data", None) == "field":
            text = str(node.children[0])
            if text.startswith("?") or "[" in text or "`" in text:
                raise _refuse(f"field syntax {text!r}")
            return "".join(text.split())
        if getattr(node, "data", None) == "base_field" and node.children[0].data == "name":
            return str(node.children[0].children[0])
        raise _refuse("the left side of a comparison must be a field")

    def literal(self, node: Any) -> Any:
        if getattr(node, "data", None) != "literal":
            raise _refuse("the right side of a comparison must be a literal value")
        (inner,) = node.children
        if inner.data == "null":
            return None
        if inner.data == "boolean":
            return str(inner.children[0]) == "true"
        token = str(inner.children[0])
        with self.eql.parser.elasticsearch_syntax:
            return self.eql.parse_literal(token).value

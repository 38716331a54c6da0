"""Strict JSON text for rule files and fixture lines: refuse what `json.loads` lets through silently.

Python's `json` keeps only the last of duplicate keys, reads `NaN` and `Infinity`, lets `"\\ud800"` escapes
through as lone surrogates (which cannot be written out as UTF-8 again) and nests as deep as its stack allows;
engines, editors and later steps disagree on all of these. Parsing once here keeps every later step simple.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from deployer.errors import pointer_of

# Hand-written rules and events nest about ten levels; the later steps recurse, so depth is bounded here.
MAX_DEPTH = 100
_SURROGATE = "a \\uD800-\\uDFFF escape without its pair (a lone UTF-16 surrogate) is not Unicode text"


class InvalidJson(ValueError):
    """Why a JSON text is refused: at a JSON pointer ("" for the whole text); `line`/`column` for syntax errors."""

    def __init__(self, pointer: str, message: str, *, line: int | None = None, column: int | None = None,
                 reason: str = "") -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message
        self.line = line
        self.column = column
        self.reason = reason


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"invalid JSON: {name} is not a JSON number")


def parse_json(text: str) -> Any:
    """The document of `text`, or InvalidJson naming the first thing wrong with it."""
    if text.startswith("\ufeff"):
        raise InvalidJson("", "starts with a UTF-8 byte order mark (BOM): save the file as UTF-8 without BOM")
    duplicated: list[tuple[dict[str, Any], list[str]]] = []  # holding the objects keeps their ids unique

    def make_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        made = dict(pairs)
        if len(made) != len(pairs):
            keys = [key for key, _ in pairs]
            duplicated.append((made, sorted({key for key in keys if keys.count(key) > 1})))
        return made

    try:
        document = json.loads(text, object_pairs_hook=make_object, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidJson("", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}",
                          line=error.lineno, column=error.colno, reason=error.msg) from None
    except RecursionError:
        raise InvalidJson("", "invalid JSON: nested too deeply") from None
    except _NotJson as error:
        raise InvalidJson("", str(error)) from None
    except ValueError:  # int() refuses longer digit strings (CVE-2020-10735)
        raise InvalidJson("", f"invalid JSON: a number has more than {sys.get_int_max_str_digits()} digits") from None
    # Cheap pre-checks keep the walk off the common path: depth needs that many brackets, a lone
    # surrogate can only come from a \uD8xx-\uDFxx escape.
    suspect = duplicated or "\\ud" in text or "\\uD" in text
    if suspect or (text.count("{") + text.count("[") > MAX_DEPTH and _deeper_than(document, MAX_DEPTH)):
        found = _first_problem(document, {id(made): keys for made, keys in duplicated})
        if found is not None:
            raise InvalidJson(*found)
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(document, 0)] if isinstance(document, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _first_problem(document: Any, duplicates: dict[int, list[str]]) -> tuple[str, str] | None:
    """Walk without recursion (the document may be deep): the first too-deep value, duplicate key or lone surrogate."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return pointer_of(path), f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                return pointer_of(path), _SURROGATE
        elif isinstance(value, dict):
            if id(value) in duplicates:
                key = duplicates[id(value)][0]
                return pointer_of((*path, key)), f"duplicate key {key!r}: JSON readers disagree on which value counts"
            for key in value:
                if _has_lone_surrogate(key):
                    return pointer_of(path), f"key {key!r}: {_SURROGATE}"
            stack.extend((child, (*path, key)) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((child, (*path, index)) for index, child in reversed(list(enumerate(value))))
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

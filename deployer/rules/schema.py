"""The JSON Schema check: each violation becomes one Problem with the JSON pointer of the offending value."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from deployer.errors import Problem, pointer_of


@lru_cache(maxsize=1)
def rule_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((resources.files("deployer") / "schema" / "rule.schema.json").read_text("utf-8"))
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # type: ignore[import-untyped]  # imported on first validation, not at CLI start

    schema = rule_schema()
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(rule_schema(), validate_formats=True)


def schema_problems(file: str, document: Any) -> list[Problem]:
    """Problems sorted by location; one per offending value, the most specific message for each."""
    # jsonschema-rs answers "valid?" about thirty times faster; jsonschema, slower, says why and where. Most rules
    # are valid, so only the invalid ones pay for the explanation.
    try:
        if _fast_validator().is_valid(document):
            return []
    except (ValueError, OverflowError):  # values the Rust side cannot take (numbers beyond 64 bits): ask jsonschema
        pass
    problems: dict[str, Problem] = {}
    for error in _validator().iter_errors(document):
        for leaf in _leaves(error):
            pointer, message = _describe(leaf)
            problems.setdefault(pointer, Problem(file, pointer, message))
    return sorted(problems.values())


def _leaves(error: Any) -> list[Any]:
    # if/then and anyOf wrap the real cause in context; the user wants the cause.
    if error.context:
        return [leaf for child in error.context for leaf in _leaves(child)]
    return [error]


def _describe(error: Any) -> tuple[str, str]:
    path = list(error.absolute_path)
    pointer = pointer_of(path)
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1]
        return pointer_of([*path, missing]), "required field is missing"
    if validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(key for key in error.instance if key not in known)
        return pointer_of([*path, unknown[0]]), f"unknown field {unknown[0]!r} (a typo?)"
    if validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        return pointer, f"expected {expected_text}, got {_json_type(error.instance)}"
    if validator == "enum":
        return pointer, f"{json.dumps(error.instance)} is not one of {', '.join(map(json.dumps, error.validator_value))}"
    if validator == "pattern":
        return pointer, f"{json.dumps(error.instance)} does not have the expected form ({_pattern_hint(path)})"
    if validator == "not" and "description" in error.schema:  # a schema refusing a value says why in its description
        return pointer, str(error.schema["description"])
    return pointer, error.message


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _pattern_hint(path: list[Any]) -> str:
    hints = {
        "interval": "a number and m, h or d, e.g. 1h",
        "from": "now-<number><s|m|h|d>, e.g. now-70m",
        "to": "now or now-<number><s|m|h|d>, e.g. now-10m",
        "rule_id": "letters, digits, '.', '_', ':' or '-', e.g. a UUID",
    }
    return hints.get(str(path[0]) if path else "", "see the rule schema")

"""What differs between two payloads: field by field (for the plan) and as a unified diff (for `detect diff`)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from deployer.errors import pointer_of


class _Absent:
    """A field one side does not have (distinct from a field holding null)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs: `deployed` is what the target holds, `expected` what detect would send."""

    pointer: str
    deployed: Any
    expected: Any

    def describe(self) -> str:
        return f"{self.pointer or '/'}: {_short(self.deployed)} → {_short(self.expected)}"

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"pointer": self.pointer}
        if self.deployed is not ABSENT:
            document["deployed"] = self.deployed
        if self.expected is not ABSENT:
            document["expected"] = self.expected
        return document


def field_changes(deployed: Any, expected: Any, path: tuple[str | int, ...] = ()) -> list[FieldChange]:
    """Every leaf where the two differ, objects compared key by key and lists of equal length item by item."""
    if isinstance(deployed, dict) and isinstance(expected, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(deployed) | set(expected)):
            changes += field_changes(deployed.get(key, ABSENT), expected.get(key, ABSENT), (*path, key))
        return changes
    if isinstance(deployed, list) and isinstance(expected, list) and len(deployed) == len(expected):
        changes = []
        for number, (left, right) in enumerate(zip(deployed, expected, strict=True)):
            changes += field_changes(left, right, (*path, number))
        return changes
    if deployed is ABSENT and expected is ABSENT:
        return []
    if type(deployed) is type(expected) and deployed == expected:
        return []
    return [FieldChange(pointer_of(path), deployed, expected)]


def unified_diff(deployed: Any, expected: Any, *, deployed_label: str, expected_label: str) -> str:
    """A unified diff of the two as sorted, indented JSON ("" when equal)."""
    def lines(document: Any) -> list[str]:
        if document is ABSENT:
            return []
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(deployed), lines(expected), fromfile=deployed_label, tofile=expected_label))


def _short(value: Any, limit: int = 80) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"

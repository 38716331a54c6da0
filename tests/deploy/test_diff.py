"""Field-level and unified diffs of payloads (deployer/deploy/diff.py)."""

from __future__ import annotations

from deployer.deploy.diff import ABSENT, FieldChange, field_changes, unified_diff


def test_field_changes_name_each_leaf_by_its_pointer() -> None:
    deployed = {"enabled": True, "filters": [{"meta": {"negate": True}}], "tags": ["a"], "exceptions_list": [{"id": "x"}]}
    expected = {"enabled": False, "filters": [{"meta": {"negate": False}}], "tags": ["a", "b"], "note": "n"}
    assert field_changes(deployed, expected) == [
        FieldChange("/enabled", True, False),
        FieldChange("/exceptions_list", [{"id": "x"}], ABSENT),
        FieldChange("/filters/0/meta/negate", True, False),
        FieldChange("/note", ABSENT, "n"),
        FieldChange("/tags", ["a"], ["a", "b"]),  # lists of other lengths differ as a whole
    ]


def test_values_of_other_types_differ_even_when_python_calls_them_equal() -> None:
    assert field_changes({"max_signals": 1}, {"max_signals": True}) == [FieldChange("/max_signals", 1, True)]
    assert field_changes({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == []


def test_changes_render_for_people_and_machines() -> None:
    change = FieldChange("/query", "", "process where true")
    assert change.describe() == '/query: "" → "process where true"'
    assert FieldChange("/note", ABSENT, "x").as_json() == {"pointer": "/note", "expected": "x"}
    assert FieldChange("/q", "y" * 100, ABSENT).describe().endswith("… → (absent)")


def test_unified_diff_from_deployed_to_repository() -> None:
    text = unified_diff({"enabled": True, "name": "r"}, {"enabled": False, "name": "r"}, deployed_label="deployed r",
                        expected_label="repository r")
    assert text.startswith("--- deployed r\n+++ repository r\n")
    assert '-  "enabled": true,\n+  "enabled": false,\n' in text
    assert unified_diff({"a": 1}, {"a": 1}, deployed_label="x", expected_label="y") == ""
    assert unified_diff(ABSENT, {"a": 1}, deployed_label="x", expected_label="y").endswith('+{\n+  "a": 1\n+}\n')

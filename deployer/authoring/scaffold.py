"""`detect new`: a rule file with a fresh rule_id at version 1, and its fixture folder: a working example query and
events that prove together, for an engineer to edit together.

What only a person can write (what the rule detects and why) is left as a placeholder starting with PLACEHOLDER.
Validation, and so test, deploy and export, refuses a rule that still holds one: a scaffold is never enabled in
production as written."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from deployer.authoring.naming import rule_file_stem, schema_reference
from deployer.errors import DetectError, display_path
from deployer.rules.datasource import load_data_source
from deployer.rules.model import JSON

DATA_SOURCE = "windows.sysmon_operational"
PLACEHOLDER = "TODO:"
"""The start of every text `detect new` leaves for a person to write; validation refuses it (validate.semantics)."""
_EXECUTABLE = "*\\\\example.exe"  # a wildcard pattern: `\\` is one literal backslash


def scaffold_rule(name: str, *, language: str, rules_dir: Path, fixtures_dir: Path) -> tuple[Path, Path]:
    """Write <rules_dir>/<stem>.json and <fixtures_dir>/<stem>/{match,nomatch}.ndjson; never overwrite anything."""
    stem = rule_file_stem(name)
    if not stem:
        raise DetectError(f"rule name {name!r} has no letters or digits to name its file after")
    rule_path, fixture_folder = rules_dir / f"{stem}.json", fixtures_dir / stem
    for path in (rule_path, fixture_folder):
        if path.exists():
            raise DetectError(f"{display_path(path)} already exists: choose another name (nothing was written)")
    rule_path.parent.mkdir(parents=True, exist_ok=True)
    fixture_folder.mkdir(parents=True)
    rule_path.write_text(json.dumps(_rule_document(name, language, rule_path), indent=2) + "\n", "utf-8")
    (fixture_folder / "match.ndjson").write_text(_event("C:\\Windows\\System32\\example.exe", "wks-001") + "\n", "utf-8")
    (fixture_folder / "nomatch.ndjson").write_text(_event("C:\\Windows\\System32\\notexample.exe", "wks-001") + "\n", "utf-8")
    return rule_path, fixture_folder


def _rule_document(name: str, language: str, rule_path: Path) -> JSON:
    if language == "eql":
        query: str | JSON = f'process where event.code == "1" and process.executable : "{_EXECUTABLE}"'
    else:
        query = {"bool": {"filter": [
            {"term": {"event.code": "1"}},
            {"wildcard": {"process.executable": {"value": _EXECUTABLE, "case_insensitive": True}}},
        ]}}
    return {
        "$schema": schema_reference(rule_path.parent),
        "rule_id": str(uuid.uuid4()),
        "name": name,
        "version": 1,
        "description": f"{PLACEHOLDER} what this rule detects and why it matters. The query and fixtures are a starting "
                       "example (a process named example.exe starting): replace them together.",
        "severity": "low",
        "risk_score": 21,
        "enabled": False,
        "interval": "1h",
        "from": "now-70m",
        "to": "now-10m",
        "index": ["logs-windows.sysmon_operational-*"],
        # Named only when the team has it: without it the fields are ECS's, which is all the example uses.
        **({"data_source": DATA_SOURCE} if load_data_source(DATA_SOURCE) is not None else {}),
        "language": language,
        "query": query,
        "group_by": ["host.name", "process.executable"],
        "exclusions": [],
        "tags": ["OS: Windows", "Data Source: Sysmon"],
    }


def _event(executable: str, host: str) -> str:
    """A Sysmon process-creation event as the Windows integration indexes it (fields of the data source)."""
    return json.dumps({
        "@timestamp": "2024-01-01T12:00:00.000Z",
        "event": {"code": "1", "category": ["process"], "type": ["start"], "module": "windows",
                  "dataset": "windows.sysmon_operational", "provider": "Microsoft-Windows-Sysmon", "kind": "event"},
        "host": {"name": host},
        "process": {"executable": executable, "name": executable.rsplit("\\", 1)[-1], "pid": 4242},
    })

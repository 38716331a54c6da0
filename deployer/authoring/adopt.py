"""`detect import`: a Kibana rules export (NDJSON) becomes rule files, so a team adopts detect with the rules it has.

Every line is read and mapped before any file is written; a line that is not JSON stops the import. Rules detect
cannot express (KQL, machine learning, threshold rules...) are skipped and listed; the written files are validated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from deployer.errors import DetectError, InvalidRules, Problem, UnsupportedByTarget, display_path
from deployer.rules.files import read_bounded, rule_file_stem, schema_reference
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths
from deployer.targets.kibana import decompile_rule

# Kibana's export ends with a summary line; exception lists and connectors may ride along. None of them is a rule.
_NOT_RULES = ("exported_count", "exported_rules_count", "exception_list_id", "list_id")
_MAX_EXPORT_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    where: str  # file:line
    rule_id: str
    reason: str


@dataclass
class ImportReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.problems


def import_kibana_export(export: Path, into: Path, *, force: bool = False) -> ImportReport:
    """Write one rule file per rule of `export` into `into`; existing files are only replaced with `force`."""
    shown = display_path(export)
    report = ImportReport()
    planned: dict[Path, JSON] = {}
    for number, payload in _rule_lines(export):
        where = f"{shown}:{number}"
        rule_id = str(payload.get("rule_id", "?"))
        try:
            document, notes = decompile_rule(payload)
        except UnsupportedByTarget as error:
            report.skipped.append(Skipped(where, rule_id, f"{error} (at {error.pointer} of the Kibana rule)"))
            continue
        report.notes += [f"{where}: {rule_id}: {note}" for note in notes]
        path = into / f"{_file_stem(document, planned, into)}.json"
        if path.exists() and not force:
            report.skipped.append(Skipped(where, rule_id, f"{display_path(path)} exists; rerun with --force to replace it"))
            continue
        planned[path] = {"$schema": schema_reference(into), **document}
    into.mkdir(parents=True, exist_ok=True)
    for path, document in planned.items():
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        report.written.append(path)
    if report.written:
        report.problems = validate_paths(report.written).problems
    return report


def _rule_lines(export: Path) -> list[tuple[int, JSON]]:
    shown = display_path(export)
    raw = read_bounded(export, _MAX_EXPORT_BYTES, "a rules export")
    if isinstance(raw, Problem):
        raise DetectError(str(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DetectError(f"{shown}: not UTF-8: invalid byte at offset {error.start}") from None
    rules: list[tuple[int, JSON]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            problems.append(Problem(shown, "", f"not JSON: {getattr(error, 'msg', 'nested too deeply')}", line=number))
            continue
        if not isinstance(item, dict):
            problems.append(Problem(shown, "", f"expected a JSON object, found {type(item).__name__}", line=number))
        elif "rule_id" in item and "type" in item:
            rules.append((number, item))
        elif not any(key in item for key in _NOT_RULES) and item.get("type") != "action":
            problems.append(Problem(shown, "", "not a Kibana rule: it has no rule_id and type", line=number))
    if problems:
        raise InvalidRules(problems, where=f"in {shown}")
    if not rules:
        raise DetectError(f"{shown}: no rules in this export")
    return rules


def _file_stem(document: JSON, planned: dict[Path, JSON], into: Path) -> str:
    """snake_case of the rule's name, made unique with the start of its rule_id."""
    stem = rule_file_stem(str(document.get("name", "")))[:80] or "rule"
    candidate = into / f"{stem}.json"
    if candidate in planned or (candidate.exists() and _rule_id_in(candidate) != document["rule_id"]):
        stem = f"{stem}_{re.sub(r'[^a-z0-9]+', '', str(document['rule_id']).lower())[:8]}"
    return stem


def _rule_id_in(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text("utf-8")).get("rule_id")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value is not None else None

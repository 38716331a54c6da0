"""`detect import`: a target's export (Kibana's rules NDJSON) becomes rule files, so a team adopts detect with the
rules it has.

The target reads its own export and maps each payload back (`read_export`, `decompile_rule`); every line is read and
mapped before any file is written, and a line that is not JSON stops the import. Rules detect cannot express are
skipped and listed; the written files are validated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deployer.errors import Problem, UnsupportedByTarget, display_path
from deployer.rules.files import rule_file_stem, schema_reference
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths

if TYPE_CHECKING:
    from deployer.targets.base import TargetKind


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


def import_export(export: Path, into: Path, *, source: TargetKind, force: bool = False) -> ImportReport:
    """Write one rule file per rule of `export` (a file `source` exported) into `into`; existing files are only
    replaced with `force`."""
    shown = display_path(export)
    report = ImportReport()
    planned: dict[Path, JSON] = {}
    for number, payload in source.read_export(export):
        where = f"{shown}:{number}"
        rule_id = str(payload.get("rule_id", "?"))
        try:
            document, notes = source.decompile_rule(payload)
        except UnsupportedByTarget as error:
            report.skipped.append(Skipped(where, rule_id, f"{error} (at {error.pointer} of the {source.title} {source.payload_noun})"))
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

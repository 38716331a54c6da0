"""`detect import`: a target's export (Kibana's rules NDJSON) becomes rule files, so a team adopts detect with the
rules it has.

The target reads its own export and maps each payload back (`read_export`, `decompile_rule`); every line is read and
mapped before any file is written, and a line that is not JSON stops the import. A payload the target cannot map is
skipped with the target's reason, counted by its cause: the target names first what the rule is (for Kibana: an EQL
rule, a KQL query rule, an ES|QL rule, ...), so a rule detect cannot hold is skipped for that before anything about
its fields or indices. A file that already holds the same document is left as it is (unchanged); one that holds
another is replaced only with `force`. The written files are validated.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.authoring.naming import rule_file_stem, schema_reference
from deployer.errors import Problem, UnsupportedByTarget, display_path
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths

if TYPE_CHECKING:
    from deployer.targets.base import TargetKind

_EXISTS = "exists; rerun with --force to replace it"


@dataclass(frozen=True)
class Skipped:
    where: str  # file:line
    rule_id: str
    reason: str
    cause: str  # the reason in a few words, the same for every rule skipped for it: what the summary counts


@dataclass
class ImportReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)  # already held the document the import would write
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.problems

    def skipped_by_cause(self) -> list[tuple[str, int]]:
        """(cause, rules skipped for it), the most frequent first, ties in the order the export met them."""
        return Counter(skipped.cause for skipped in self.skipped).most_common()


def import_export(export: Path, into: Path, *, source: TargetKind, force: bool = False) -> ImportReport:
    """Write one rule file per rule of `export` (a file `source` exported) into `into`; a file holding another
    document is only replaced with `force`, one holding the same document is left alone."""
    shown = display_path(export)
    report = ImportReport()
    planned: dict[Path, JSON] = {}
    where_of = f"of the {source.title} {source.payload_noun}"
    for number, payload in source.read_export(export):
        where = f"{shown}:{number}"
        rule_id = str(payload.get("rule_id", "?"))
        try:
            document, notes = source.decompile_rule(payload)
        except UnsupportedByTarget as error:
            report.skipped.append(Skipped(where, rule_id, f"{error} (at {error.pointer} {where_of})",
                                          error.cause or str(error).partition(": ")[0]))
            continue
        report.notes += [f"{where}: {rule_id}: {note}" for note in notes]
        path = into / f"{_file_stem(document, planned, into)}.json"
        written = {"$schema": schema_reference(into), **document}
        if path.exists() and _document_in(path) == written:
            report.unchanged.append(path)
            continue
        if path.exists() and not force:
            report.skipped.append(Skipped(where, rule_id, f"{display_path(path)} {_EXISTS}",
                                          "its file exists and holds another document"))
            continue
        planned[path] = written
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


def _document_in(path: Path) -> Any:
    """The JSON a rule file holds; None when it cannot be read as JSON (it then differs from any document)."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _rule_id_in(path: Path) -> str | None:
    document = _document_in(path)
    value = document.get("rule_id") if isinstance(document, dict) else None
    return str(value) if value is not None else None

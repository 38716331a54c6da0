"""`detect import`: a target's export (Kibana's rules NDJSON) becomes rule files, so a team adopts detect with the
rules it has.

The target reads its own export and maps each payload back (`read_export`, `decompile_rule`); every line is read and
mapped before any file is written, and a line that is not JSON stops the import. Each payload is first named for
what it is (`rule_kind`: an EQL rule, a KQL query rule, an ES|QL rule, ...), so that a rule detect cannot hold is
skipped with that reason before anything about its fields or indices. A file that already holds the same document is
left as it is (unchanged); one that holds another is replaced only with `force`. The written files are validated.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.errors import Problem, UnsupportedByTarget, display_path
from deployer.rules.files import rule_file_stem, schema_reference
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths

if TYPE_CHECKING:
    from deployer.targets.base import TargetKind

# What every skip of a rule kind detect does not hold goes on to say.
HELD_KINDS = "detect holds EQL and query DSL rules today"
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


@dataclass(frozen=True)
class RuleKind:
    """What a rule of the export is, in words a reader of the source tool knows, and whether detect holds it."""

    words: str  # "a KQL (kuery) query rule"; with what the rule runs on in parentheses when that helps
    cause: str  # the words without the parentheses, for counting
    pointer: str  # where the payload says so: /type, or /language for a query rule
    held: bool


# The query languages of Kibana's rule API (EqlQueryLanguage, KqlQueryLanguage, EsqlQueryLanguage), as people say them.
_LANGUAGES = {"kuery": "KQL (kuery)", "lucene": "Lucene", "eql": "EQL", "esql": "ES|QL"}


def rule_kind(payload: JSON) -> RuleKind:
    """The kind of one exported Kibana rule, by its `type` and `language` (the rule API's discriminators).

    Held: eql rules, and query rules whose query is only filters (query DSL, which is what detect's own DSL rules
    compile to). Whether one of those fits detect in every other respect is the decompiler's to say."""
    rule_type = str(payload.get("type") or "")
    language = _LANGUAGES.get(str(payload.get("language") or "kuery"), repr(payload.get("language")))
    if rule_type == "eql":
        return RuleKind("an EQL rule", "an EQL rule", "/type", held=True)
    if rule_type == "query":
        if not str(payload.get("query") or "").strip():
            return RuleKind("a query DSL rule", "a query DSL rule", "/filters", held=True)
        return _kind(f"{_a(language)} {language} query rule", "", "/language" if "language" in payload else "/query")
    if rule_type == "saved_query":
        return _kind("a saved query rule", f"it runs Kibana's saved query {payload.get('saved_id')!r}")
    if rule_type == "threshold":
        fields = (payload.get("threshold") or {}).get("field") or []
        counted = f"counted by {_names(fields)}" if fields else "counted over all events"
        return _kind("a threshold rule", f"a {language} query {counted}")
    if rule_type == "new_terms":
        # The rule API says new_terms_fields; Elastic's rule TOML says new_terms = {field, value}.
        fields = payload.get("new_terms_fields") or (payload.get("new_terms") or {}).get("value") or []
        return _kind("a new terms rule", f"a {language} query alerting on values of {_names(fields)} not seen before")
    if rule_type == "threat_match":
        return _kind("an indicator match (threat_match) rule", f"a {language} query matched against threat indicators")
    if rule_type == "esql":
        return _kind("an ES|QL rule", "")
    if rule_type == "machine_learning":
        jobs = payload.get("machine_learning_job_id") or []
        return _kind("a machine learning rule", f"anomalies of job {_names(jobs if isinstance(jobs, list) else [jobs])} "
                                                f"scoring {payload.get('anomaly_threshold', '?')} or more")
    named = rule_type or "typeless"
    return _kind(f"{_a(named)} {named} rule", "a type Kibana's rule API does not have")


def _kind(cause: str, detail: str, pointer: str = "/type") -> RuleKind:
    return RuleKind(f"{cause} ({detail})" if detail else cause, cause, pointer, held=False)


def _a(word: str) -> str:
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _names(values: Any) -> str:
    names = [str(value) for value in values] if isinstance(values, list) else [str(values)]
    return ", ".join(names) or "no field"


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
        kind = rule_kind(payload)
        if not kind.held:
            report.skipped.append(Skipped(where, rule_id, f"{kind.words}: {HELD_KINDS} (at {kind.pointer} {where_of})",
                                          kind.cause))
            continue
        try:
            document, notes = source.decompile_rule(payload)
        except UnsupportedByTarget as error:
            report.skipped.append(Skipped(where, rule_id, f"{error} (at {error.pointer} {where_of})",
                                          f"{kind.cause}: {str(error).partition(': ')[0]}"))
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

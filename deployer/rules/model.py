"""The one Rule model every step shares: built once from a schema-valid document, never mutated."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Language = Literal["eql", "dsl"]
JSON = dict[str, Any]

_DURATION = re.compile(r"^([1-9][0-9]*)([smhd])$")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
# Fields that say nothing about what a rule detects: editing them must not demand a version bump.
_NOT_CONTENT = frozenset({"$schema", "version"})
_DEFAULTS: dict[str, Any] = {"enabled": False, "to": "now"}
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Duration:
    """A positive amount of time as written in a rule (`70m`), kept in its written unit."""

    amount: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"not a duration: {text!r}")
        return cls(int(match.group(1)), match.group(2))

    @property
    def seconds(self) -> int:
        return self.amount * _SECONDS_PER_UNIT[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Schedule:
    """Run every `interval`; each run looks at events from `lookback_start` to `lookback_end` before it."""

    interval: Duration
    lookback_start: Duration
    lookback_end: Duration | None  # None: up to the moment of the run
    end_written: bool = False  # the rule spells `to` (even as "now"), so payloads say it back as written

    @classmethod
    def from_document(cls, document: JSON) -> Schedule:
        to = document.get("to", "now")
        return cls(
            interval=Duration.parse(document["interval"]),
            lookback_start=Duration.parse(document["from"].removeprefix("now-")),
            lookback_end=None if to == "now" else Duration.parse(to.removeprefix("now-")),
            end_written="to" in document,
        )

    @property
    def start_text(self) -> str:
        """The window's start as rules and Kibana spell it: `now-70m`."""
        return f"now-{self.lookback_start}"

    @property
    def end_text(self) -> str:
        return "now" if self.lookback_end is None else f"now-{self.lookback_end}"

    @property
    def window_seconds(self) -> int:
        return self.lookback_start.seconds - (self.lookback_end.seconds if self.lookback_end else 0)


@dataclass(frozen=True)
class Exclusion:
    """Events whose `field` has one of `values` never alert (the seed's tuning filter)."""

    field: str
    values: tuple[str | int, ...]
    reason: str


@dataclass(frozen=True)
class Rule:
    """A validated detection rule: every field of the rule schema, typed. The steps after validation (compilers,
    checks, the environment overlay) read these attributes only, so an environment's override reaches all of them;
    `document` is the file's JSON, kept for JSON pointers and the content hash. Optional fields the file leaves out
    are None (an empty list written in the file stays an empty tuple)."""

    path: Path
    document: JSON
    rule_id: str
    version: int
    name: str
    description: str
    severity: str
    risk_score: int
    enabled: bool
    schedule: Schedule
    index: tuple[str, ...]
    data_source: str | None  # None: the fields are what its index patterns hold (deployer/rules/fields.py)
    language: Language
    query: str | JSON
    group_by: tuple[str, ...]
    suppress_by: tuple[str, ...]
    risk_message: str | None
    exclusions: tuple[Exclusion, ...]
    tags: tuple[str, ...]
    content_hash: str
    # Documentation and Kibana metadata, passed to the targets that have a place for them.
    author: tuple[str, ...] | None = None
    license: str | None = None
    references: tuple[str, ...] | None = None
    false_positives: tuple[str, ...] | None = None
    threat: tuple[JSON, ...] | None = None  # MITRE ATT&CK mappings, in Kibana's shape
    note: str | None = None  # the investigation guide (Markdown)
    setup: str | None = None
    max_signals: int | None = None
    suppression_written: bool = False  # the file has alert_suppression (else suppress_by is group_by)

    @classmethod
    def from_document(cls, path: Path, document: JSON) -> Rule:
        """Build the model from a document that already passed the JSON Schema."""
        group_by = tuple(document.get("group_by", ()))
        suppression = document.get("alert_suppression", {}).get("group_by")
        return cls(
            path=path,
            document=document,
            rule_id=document["rule_id"],
            version=document["version"],
            name=document["name"],
            description=document["description"],
            severity=document["severity"],
            risk_score=document["risk_score"],
            enabled=document.get("enabled", False),
            schedule=Schedule.from_document(document),
            index=tuple(document["index"]),
            data_source=document.get("data_source"),
            language=document["language"],
            query=document["query"],
            group_by=group_by,
            suppress_by=tuple(suppression) if suppression else group_by,
            risk_message=document.get("risk_message"),
            exclusions=tuple(
                Exclusion(item["field"], tuple(item["values"]), item["reason"])
                for item in document.get("exclusions", ())
            ),
            tags=tuple(document.get("tags", ())),
            content_hash=content_hash(document),
            author=_strings(document.get("author")),
            license=document.get("license"),
            references=_strings(document.get("references")),
            false_positives=_strings(document.get("false_positives")),
            threat=None if document.get("threat") is None else tuple(document["threat"]),
            note=document.get("note"),
            setup=document.get("setup"),
            max_signals=document.get("max_signals"),
            suppression_written="alert_suppression" in document,
        )

    @property
    def eql(self) -> str:
        """The EQL text of an EQL rule."""
        if not isinstance(self.query, str):
            raise TypeError(f"{self.rule_id} is a query DSL rule")
        return self.query

    @property
    def dsl(self) -> JSON:
        """The query DSL clause of a DSL rule."""
        if not isinstance(self.query, dict):
            raise TypeError(f"{self.rule_id} is an EQL rule")
        return self.query

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Field names used as {{field}} in the risk message, in order of appearance."""
        return tuple(_PLACEHOLDER.findall(self.risk_message or ""))



def _strings(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


# The rule schema's fields (deployer/schema/rule.schema.json) and the Rule attribute holding each: the schema is
# the one description of the shape, and tests/rules/test_model.py keeps the two in step.
DOCUMENT_FIELDS: dict[str, str | None] = {
    "$schema": None, "rule_id": "rule_id", "version": "version", "name": "name", "description": "description",
    "severity": "severity", "risk_score": "risk_score", "enabled": "enabled", "interval": "schedule", "from": "schedule",
    "to": "schedule", "index": "index", "data_source": "data_source", "language": "language", "query": "query",
    "group_by": "group_by", "alert_suppression": "suppress_by", "risk_message": "risk_message",
    "exclusions": "exclusions", "tags": "tags", "author": "author", "license": "license", "references": "references",
    "false_positives": "false_positives", "note": "note", "setup": "setup", "max_signals": "max_signals",
    "threat": "threat",
}


def payload_hash(payload: JSON) -> str:
    """sha256 of a canonical target payload: what the target would hold, so any effective change shows."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def content_hash(document: JSON) -> str:
    """sha256 of what the rule detects and says: the canonical JSON without `version` and `$schema`.

    Fields spelled at their defaults (`"enabled": false`, `"exclusions": []`, a suppression equal to `group_by`)
    hash as if absent, so a rule re-imported from a target hashes like the file it was exported from.
    """
    return payload_hash(content_of(document))


def content_of(document: JSON) -> JSON:
    """The document without the fields that are not content and without fields spelled at their defaults."""
    content = {key: value for key, value in document.items()
               if key not in _NOT_CONTENT and _DEFAULTS.get(key, _NO_DEFAULT) != value and value != []}
    if content.get("alert_suppression") == {"group_by": content.get("group_by")}:
        del content["alert_suppression"]
    return content

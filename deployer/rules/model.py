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

    @classmethod
    def from_document(cls, document: JSON) -> Schedule:
        to = document.get("to", "now")
        return cls(
            interval=Duration.parse(document["interval"]),
            lookback_start=Duration.parse(document["from"].removeprefix("now-")),
            lookback_end=None if to == "now" else Duration.parse(to.removeprefix("now-")),
        )

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
    """A validated detection rule. `document` is the file's JSON, kept for JSON pointers and hashing."""

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
    data_source: str
    language: Language
    query: str | JSON
    group_by: tuple[str, ...]
    suppress_by: tuple[str, ...]
    risk_message: str | None
    exclusions: tuple[Exclusion, ...]
    tags: tuple[str, ...]
    content_hash: str

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
            data_source=document["data_source"],
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

    def get(self, key: str, default: Any = None) -> Any:
        """An optional field of the document, for the compilers' pass-through metadata."""
        return self.document.get(key, default)


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

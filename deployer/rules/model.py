"""The one Rule model every step shares: built once from a schema-valid document, never mutated."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

Language = Literal["eql", "dsl"]
JSON = dict[str, Any]

_DURATION = re.compile(r"^([1-9][0-9]*)([smhd])$")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
# Fields that say nothing about what a rule detects: editing them must not demand a version bump.
_NOT_CONTENT = frozenset({"$schema", "version"})
# Kibana's values for the fields a rule may leave out (the schema's `default`s): 1,703 of Elastic's 2,192 prebuilt
# rules leave `interval` out. A field spelled at its default hashes as if absent.
DEFAULT_INTERVAL = "5m"
DEFAULT_FROM = "now-6m"
DEFAULT_MAX_SIGNALS = 100
# detect's own default, not Kibana's (`suppress` when a rule leaves it out): one alert per event lacking a field.
DEFAULT_MISSING_FIELDS_STRATEGY = "doNotSuppress"
_DEFAULTS: dict[str, Any] = {"enabled": False, "to": "now", "interval": DEFAULT_INTERVAL, "from": DEFAULT_FROM,
                             "max_signals": DEFAULT_MAX_SIGNALS}
_NO_DEFAULT = object()
_Item = TypeVar("_Item")


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
            interval=Duration.parse(document.get("interval", DEFAULT_INTERVAL)),
            lookback_start=Duration.parse(document.get("from", DEFAULT_FROM).removeprefix("now-")),
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
class SeverityMapping:
    """An alert's severity is `severity` when the event's `field` equals `value` (operator `equals`)."""

    field: str
    operator: str
    value: str
    severity: str


@dataclass(frozen=True)
class RiskScoreMapping:
    """An alert's risk score is the event's `field` (Kibana's one form: operator `equals`, value "")."""

    field: str
    operator: str
    value: str
    risk_score: int | None = None


@dataclass(frozen=True)
class ExceptionListReference:
    """A Kibana exception list the rule uses: `id` is its saved object in one space, `list_id` its name everywhere."""

    id: str
    list_id: str
    type: str
    namespace_type: str


@dataclass(frozen=True)
class RelatedIntegration:
    """A Fleet package (and optionally one of its integrations) whose data the rule reads."""

    package: str
    version: str
    integration: str | None = None


@dataclass(frozen=True)
class RequiredField:
    name: str
    type: str


@dataclass(frozen=True)
class Rule:
    """A validated detection rule: every field of the rule schema, typed. The steps after validation (compilers,
    checks, the environment overlay) read these attributes only, so an environment's override reaches all of them;
    `document` is the file's JSON, kept for JSON pointers and the content hash. Optional fields the file leaves out
    are Kibana's default where the schema gives one (`max_signals` 100, `interval` 5m, `from` now-6m), else None
    (an empty list written in the file stays an empty tuple)."""

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
    max_signals: int = DEFAULT_MAX_SIGNALS
    max_signals_written: bool = False  # the file spells max_signals (even at 100), so payloads say it back
    suppression_written: bool = False  # the file has alert_suppression (else suppress_by is group_by)
    suppression_duration: Duration | None = None  # None: alerts are suppressed within one run only
    missing_fields_strategy: str = DEFAULT_MISSING_FIELDS_STRATEGY
    # Kibana's own fields: what an analyst sees and how Kibana runs and scores the rule. Other targets ignore them.
    investigation_fields: tuple[str, ...] | None = None  # fields shown first in an alert; not a grouping
    timestamp_override: str | None = None
    timestamp_override_fallback_disabled: bool | None = None
    building_block_type: str | None = None
    timeline_id: str | None = None
    timeline_title: str | None = None
    severity_mapping: tuple[SeverityMapping, ...] | None = None
    risk_score_mapping: tuple[RiskScoreMapping, ...] | None = None
    rule_name_override: str | None = None
    event_category_override: str | None = None  # EQL rules only, like the next two
    tiebreaker_field: str | None = None
    timestamp_field: str | None = None
    exceptions_list: tuple[ExceptionListReference, ...] | None = None
    related_integrations: tuple[RelatedIntegration, ...] | None = None
    required_fields: tuple[RequiredField, ...] | None = None  # None: the targets derive them from the data source
    meta: JSON | None = None  # the user's own keys; detect's marker is added beside them
    namespace: str | None = None
    output_index: str | None = None
    actions: tuple[JSON, ...] | None = None  # Kibana notifications, each naming a connector of the target space
    throttle: str | None = None
    response_actions: tuple[JSON, ...] | None = None

    @classmethod
    def from_document(cls, path: Path, document: JSON) -> Rule:
        """Build the model from a document that already passed the JSON Schema."""
        group_by = tuple(document.get("group_by", ()))
        written_suppression = document.get("alert_suppression", {})
        suppression = written_suppression.get("group_by")
        duration = written_suppression.get("duration")
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
            max_signals=document.get("max_signals", DEFAULT_MAX_SIGNALS),
            max_signals_written="max_signals" in document,
            suppression_written="alert_suppression" in document,
            suppression_duration=None if duration is None else Duration(duration["value"], duration["unit"]),
            missing_fields_strategy=written_suppression.get("missing_fields_strategy", DEFAULT_MISSING_FIELDS_STRATEGY),
            investigation_fields=_strings((document.get("investigation_fields") or {}).get("field_names")),
            timestamp_override=document.get("timestamp_override"),
            timestamp_override_fallback_disabled=document.get("timestamp_override_fallback_disabled"),
            building_block_type=document.get("building_block_type"),
            timeline_id=document.get("timeline_id"),
            timeline_title=document.get("timeline_title"),
            severity_mapping=_typed(SeverityMapping, document.get("severity_mapping")),
            risk_score_mapping=_typed(RiskScoreMapping, document.get("risk_score_mapping")),
            rule_name_override=document.get("rule_name_override"),
            event_category_override=document.get("event_category_override"),
            tiebreaker_field=document.get("tiebreaker_field"),
            timestamp_field=document.get("timestamp_field"),
            exceptions_list=_typed(ExceptionListReference, document.get("exceptions_list")),
            related_integrations=_typed(RelatedIntegration, document.get("related_integrations")),
            required_fields=_typed(RequiredField, document.get("required_fields")),
            meta=copy.deepcopy(document.get("meta")),
            namespace=document.get("namespace"),
            output_index=document.get("output_index"),
            actions=None if document.get("actions") is None else tuple(copy.deepcopy(document["actions"])),
            throttle=document.get("throttle"),
            response_actions=None if document.get("response_actions") is None else tuple(copy.deepcopy(document["response_actions"])),
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


def _typed(kind: Callable[..., _Item], items: list[JSON] | None) -> tuple[_Item, ...] | None:
    """Schema-valid JSON objects as `kind` (a dataclass whose fields are the objects' keys)."""
    return None if items is None else tuple(kind(**item) for item in items)


# The rule schema's fields (deployer/schema/rule.schema.json) and the Rule attribute holding each: the schema is
# the one description of the shape, and tests/rules/test_model.py keeps the two in step.
DOCUMENT_FIELDS: dict[str, str | None] = {
    "$schema": None, "rule_id": "rule_id", "version": "version", "name": "name", "description": "description",
    "severity": "severity", "risk_score": "risk_score", "enabled": "enabled", "interval": "schedule", "from": "schedule",
    "to": "schedule", "index": "index", "data_source": "data_source", "language": "language", "query": "query",
    "group_by": "group_by", "alert_suppression": "suppress_by", "risk_message": "risk_message",
    "exclusions": "exclusions", "tags": "tags", "author": "author", "license": "license", "references": "references",
    "false_positives": "false_positives", "note": "note", "setup": "setup", "max_signals": "max_signals",
    "threat": "threat", "investigation_fields": "investigation_fields", "timestamp_override": "timestamp_override",
    "timestamp_override_fallback_disabled": "timestamp_override_fallback_disabled",
    "building_block_type": "building_block_type", "timeline_id": "timeline_id", "timeline_title": "timeline_title",
    "severity_mapping": "severity_mapping", "risk_score_mapping": "risk_score_mapping",
    "rule_name_override": "rule_name_override", "event_category_override": "event_category_override",
    "tiebreaker_field": "tiebreaker_field", "timestamp_field": "timestamp_field", "exceptions_list": "exceptions_list",
    "related_integrations": "related_integrations", "required_fields": "required_fields", "meta": "meta",
    "namespace": "namespace", "output_index": "output_index", "actions": "actions", "throttle": "throttle",
    "response_actions": "response_actions",
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
    suppression = content.get("alert_suppression")
    if isinstance(suppression, dict) and suppression.get("missing_fields_strategy") == DEFAULT_MISSING_FIELDS_STRATEGY:
        content["alert_suppression"] = suppression = {key: value for key, value in suppression.items()
                                                      if key != "missing_fields_strategy"}
    if suppression == {"group_by": content.get("group_by")}:
        del content["alert_suppression"]
    return content

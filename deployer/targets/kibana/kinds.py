"""What a Kibana rule is, by its `type` and `language` (the rule API's discriminators), in words a Kibana user knows
it by, and whether detect holds it. `detect import` skips a rule detect cannot hold with that reason first, before
anything about its fields or indices (decompile.py asks `held_kind` before reading the rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.errors import UnsupportedByTarget
from deployer.rules.model import JSON

# What every refusal of a rule kind detect does not hold goes on to say.
HELD_KINDS = "detect holds EQL and query DSL rules today"


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
    """The kind of one exported Kibana rule, by its `type` and `language`.

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


def held_kind(payload: JSON) -> RuleKind:
    """The kind of `payload` when detect holds it; UnsupportedByTarget saying what it is (pointer into the payload,
    the kind as its cause) when detect does not."""
    kind = rule_kind(payload)
    if not kind.held:
        raise UnsupportedByTarget(kind.pointer, f"{kind.words}: {HELD_KINDS}", cause=kind.cause)
    return kind


def _kind(cause: str, detail: str, pointer: str = "/type") -> RuleKind:
    return RuleKind(f"{cause} ({detail})" if detail else cause, cause, pointer, held=False)


def _a(word: str) -> str:
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _names(values: Any) -> str:
    names = [str(value) for value in values] if isinstance(values, list) else [str(values)]
    return ", ".join(names) or "no field"

"""Checks beyond the schema: query dialects, fields of the data source, scoring, schedule, grouping."""

from __future__ import annotations

from collections.abc import Iterator

from deployer.authoring.scaffold import PLACEHOLDER
from deployer.dialects.dsl import FieldUse, scan_dsl
from deployer.dialects.eql import EqlSyntax, KnownFields, checked_uses, parse_eql
from deployer.dialects.lucene import check_regexp, check_wildcard, folding_findings
from deployer.dialects.lucene_limits import too_complex, wildcard_too_complex
from deployer.errors import pointer_of
from deployer.rules.datasource import available_data_sources, datasources_folder
from deployer.rules.fields import TEXT_TYPES, Fields, rule_fields
from deployer.rules.model import Rule

# Kibana's risk score bands (its RiskScore schema); a severity outside its band misleads triage.
SEVERITY_BANDS = {"low": (0, 21), "medium": (22, 47), "high": (48, 73), "critical": (74, 100)}
_PATTERN_FIELD_TYPES = {"keyword", "wildcard", "constant_keyword"}
_DATE_TYPES = frozenset({"date", "date_nanos"})
# What the engines answer such a query with on every run; the reason follows, counted as Lucene counts it.
_REFUSED = "is refused by the engines on every run, as too complex for Lucene"
MAX_REGEX_LENGTH = 1000
"""index.max_regex_length's default in OpenSearch and Elasticsearch: a longer regexp query is refused."""

Finding = tuple[str, str]  # (JSON pointer, message)


def rule_findings(rule: Rule) -> list[Finding]:
    """Every semantic problem of one schema-valid rule."""
    findings = [*_placeholders(rule), *_scoring(rule), *_schedule(rule)]
    source = rule_fields(rule)
    if source is None:
        known = ", ".join(available_data_sources())
        where = f"known: {known}" if known else f"{datasources_folder()}/ holds none"
        return [*findings, ("/data_source", f"unknown data source {rule.data_source!r} ({where})")]
    uses, query_findings = _query_uses(rule, source)
    findings += query_findings
    findings += _field_findings(uses, source)
    findings += _grouping(rule, source)
    findings += _named_fields(rule, source)
    findings += [
        (pointer_of(["exclusions", index, "field"] if number is None else ["exclusions", index, "values", number]), message)
        for index, item in enumerate(rule.exclusions)
        for number, message in source.exclusion_findings(item.field, item.values)
    ]
    return findings


# The rule's free text: where `detect new` leaves placeholders, and where a person would write one.
_TEXT_FIELDS = ("name", "description", "note", "setup", "risk_message", "author", "false_positives", "references")


def _placeholders(rule: Rule) -> Iterator[Finding]:
    """A placeholder left as `detect new` wrote it would reach analysts as the rule's text: one line per field."""
    for key in _TEXT_FIELDS:
        value = getattr(rule, key)
        value = list(value) if isinstance(value, tuple) else value
        texts = [(pointer_of([key]), value)] if isinstance(value, str) else \
            [(pointer_of([key, index]), item) for index, item in enumerate(value)] if isinstance(value, list) else []
        for pointer, text in texts:
            if isinstance(text, str) and text.lstrip().upper().startswith(PLACEHOLDER):
                shown = text.strip() if len(text.strip()) <= 40 else text.strip()[:40] + "..."
                yield pointer, (f"still the placeholder {shown!r}: write the rule's own {key} here "
                                f"(text starting with {PLACEHOLDER!r} is left by detect new for a person to write)")


def _scoring(rule: Rule) -> Iterator[Finding]:
    low, high = SEVERITY_BANDS[rule.severity]
    if not low <= rule.risk_score <= high:
        fitting = next(name for name, (lo, hi) in SEVERITY_BANDS.items() if lo <= rule.risk_score <= hi)
        yield "/severity", f"risk_score {rule.risk_score} is {fitting} in Kibana's bands, not {rule.severity} ({low}-{high})"


def _schedule(rule: Rule) -> Iterator[Finding]:
    schedule = rule.schedule
    if schedule.window_seconds <= 0:
        yield "/to", f"the window ends ({schedule.end_text}) before it starts ({schedule.start_text})"
    elif schedule.window_seconds < schedule.interval.seconds:
        yield "/from", (f"the window ({schedule.window_seconds // 60}m) is shorter than the interval "
                        f"({schedule.interval}): events between runs would never be examined")


def _query_uses(rule: Rule, source: KnownFields) -> tuple[list[FieldUse], list[Finding]]:
    if rule.language == "dsl":
        scan = scan_dsl(rule.dsl)
        return scan.uses, list(scan.problems)
    try:
        parsed = parse_eql(rule.eql)
    except EqlSyntax as error:
        return [], [("/query", str(error))]
    uses, refused = checked_uses(parsed, source)
    if parsed.event_category not in ("any", "sequence", "sample", "join", "piped") and rule.event_category_override is None:
        # `file where ...` tests event.category, which the data source must have (or the override: _named_fields).
        uses.append(FieldUse("/query", "event.category", "field"))
    return uses, [("/query", finding) for finding in (*parsed.escape_findings, *refused)]


def _field_findings(uses: list[FieldUse], source: Fields) -> Iterator[Finding]:
    missing: set[tuple[str, str]] = set()
    for use in uses:
        if not source.has(use.field):
            if (use.pointer, use.field) not in missing:
                missing.add((use.pointer, use.field))
                yield use.pointer, f"field {use.field!r} is not in {source.described}"
            continue
        field_type = source.field_types[use.field]
        if use.kind in ("regexp", "wildcard", "prefix") and field_type not in _PATTERN_FIELD_TYPES:
            yield use.pointer, (f"{use.kind} on {use.field!r}, a {field_type} field, tests analysed terms "
                                "rather than the value; use a keyword field")
        if use.kind == "regexp":
            yield from _regexp_findings(use)
        elif use.kind == "wildcard":
            # In EQL, ':' and like take EQL wildcards where '\' is not an escape; only DSL wildcards are Lucene's.
            lucene_pattern = str(use.value) if use.pointer != "/query" else str(use.value).replace("\\", "\\\\")
            if use.pointer != "/query":
                for finding in check_wildcard(str(use.value)):
                    yield use.pointer, f"wildcard {use.value!r}: {finding}"
            reason = wildcard_too_complex(lucene_pattern, use.case_insensitive or use.pointer == "/query")
            if reason is not None:
                yield use.pointer, f"wildcard {use.value!r} {_REFUSED}: {reason}"


def _regexp_findings(use: FieldUse) -> Iterator[Finding]:
    checked = check_regexp(str(use.value))
    length = len(str(use.value).encode("utf-16-le")) // 2  # Java's String.length, which the engines compare
    if checked.error:
        yield use.pointer, f"regexp {use.value!r} is not valid Lucene syntax: {checked.error}"
    elif length > MAX_REGEX_LENGTH:
        yield use.pointer, (f"regexp {str(use.value)[:40]!r}... is {length} characters long: the engines refuse "
                            f"regexps longer than {MAX_REGEX_LENGTH} (index.max_regex_length) on every run")
    elif (reason := too_complex(str(use.value), use.case_insensitive)) is not None:
        yield use.pointer, f"regexp {use.value!r} {_REFUSED}: {reason}"
    for finding in checked.findings:
        yield use.pointer, f"regexp {use.value!r}: {finding}"
    if checked.tree is not None and use.case_insensitive:
        for finding in folding_findings(checked.tree):
            yield use.pointer, f"regexp {use.value!r}: {finding.message}"


def _grouping(rule: Rule, source: Fields) -> Iterator[Finding]:
    for index, field in enumerate(rule.group_by):
        if not source.has(field):
            yield pointer_of(["group_by", index]), f"field {field!r} is not in {source.described}"
    if len(rule.group_by) > 3 and not rule.suppression_written:
        yield "/group_by", ("Kibana suppresses alerts on at most 3 fields: add alert_suppression.group_by "
                            "naming the ones that identify a group")
    for index, field in enumerate(rule.suppress_by if rule.suppression_written else ()):
        if field not in rule.group_by:
            yield pointer_of(["alert_suppression", "group_by", index]), f"{field!r} is not one of group_by"
    for name in rule.placeholders:
        if not source.has(name):
            yield "/risk_message", f"placeholder {{{{{name}}}}} names no field of {source.described}"
        elif name not in rule.group_by:
            yield "/risk_message", f"placeholder {{{{{name}}}}} is not in group_by, so one alert has no single value for it"


def _named_fields(rule: Rule, source: Fields) -> Iterator[Finding]:
    """The fields the rule names outside its query: what alerts show first, are scored, named and ordered by, and
    what it declares it needs. Kibana takes any name there; a field the rule's fields lack has no value in an alert."""
    for key, pointer, name in _fields_named(rule):
        if not source.has(name):
            yield pointer, f"field {name!r} is not in {source.described}"
            continue
        field_type = source.field_types[name]
        if key == "timestamp_override" and field_type not in _DATE_TYPES:
            yield pointer, (f"timestamp_override {name!r} is a {field_type} field in {source.where(name)}: Kibana "
                            "searches the rule's window on it, which needs a date or date_nanos field")
        elif key in ("tiebreaker_field", "timestamp_field") and field_type in TEXT_TYPES:
            yield pointer, (f"{key} {name!r} is a {field_type} field in {source.where(name)}: Elasticsearch "
                            "sorts events on it, which it cannot do on a text field")
    for index, required in enumerate(rule.required_fields or ()):
        actual = source.field_types.get(required.name)
        if actual is not None and actual != required.type:
            yield pointer_of(["required_fields", index, "type"]), (
                f"required field {required.name!r} is declared {required.type}, but it is a {actual} field in "
                f"{source.where(required.name)}")


def _fields_named(rule: Rule) -> Iterator[tuple[str, str, str]]:
    """(rule field, JSON pointer, field name) for every field the rule names outside its query, grouping and
    exclusions."""
    for index, name in enumerate(rule.investigation_fields or ()):
        yield "investigation_fields", pointer_of(["investigation_fields", "field_names", index]), name
    for key in ("timestamp_override", "rule_name_override", "event_category_override", "tiebreaker_field",
                "timestamp_field"):
        value = getattr(rule, key)
        if value is not None:
            yield key, pointer_of([key]), value
    for index, severity in enumerate(rule.severity_mapping or ()):
        yield "severity_mapping", pointer_of(["severity_mapping", index, "field"]), severity.field
    for index, risk_score in enumerate(rule.risk_score_mapping or ()):
        yield "risk_score_mapping", pointer_of(["risk_score_mapping", index, "field"]), risk_score.field
    for index, required in enumerate(rule.required_fields or ()):
        yield "required_fields", pointer_of(["required_fields", index, "name"]), required.name

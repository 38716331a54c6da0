"""Verdicts: what the engine did against what the fixtures say it must do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deployer.prove.fixtures import FixtureEvent


@dataclass(frozen=True)
class MatchVerdict:
    """Which fixture events the rule's query selected, compared with match.ndjson."""

    method: str  # how the query ran: "query DSL", "EQL", "EQL translated to query DSL"
    expected: tuple[str, ...]
    actual: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.expected) - set(self.actual), key=_natural))

    @property
    def unexpected(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.actual) - set(self.expected), key=_natural))

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected


@dataclass(frozen=True)
class GroupVerdict:
    """What a run of the rule's alerting step produced (a monitor, say): whether it triggered, and its alerts' groups,
    one per expected group."""

    case: str  # "all fixtures" or "nomatch only"
    expected_groups: tuple[tuple[str, ...], ...]
    actual_groups: tuple[tuple[str, ...], ...]
    triggered: bool
    error: str | None = None
    method: str = ""

    @property
    def ok(self) -> bool:
        if self.error:
            return False
        return self.triggered == bool(self.expected_groups) and set(self.expected_groups) == set(self.actual_groups) \
            and len(self.actual_groups) == len(set(self.actual_groups))


@dataclass
class EngineProof:
    rule_id: str
    rule_file: str
    engine: str
    engine_version: str
    matches: MatchVerdict | None = None
    groups: list[GroupVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.matches is not None and self.matches.ok and all(g.ok for g in self.groups)


@dataclass(frozen=True)
class NotProven:
    """A rule the proof did not run, and why: it has no fixtures (no `<fixtures root>/<rule file stem>/` folder).
    Not a failure of the proof; `detect test --require-fixtures` refuses such a rule before any node starts."""

    rule_id: str
    rule_file: str
    fixtures: str  # the folder its fixtures would be in, as shown
    reason: str = "no fixtures"

    @property
    def message(self) -> str:
        return f"not proven: {self.reason} (no folder {self.fixtures}: add match.ndjson and nomatch.ndjson there)"


def proof_summary(ok: bool, proofs: Sequence[EngineProof], not_proven: Sequence[NotProven]) -> str:
    """The proof's verdict in words: `all rules proven` or `proof failed`, with how many rules had no fixtures."""
    if not ok:
        return "proof failed" + (f", {len(not_proven)} rule(s) not proven: no fixtures" if not_proven else "")
    if not not_proven:
        return "all rules proven"
    proven = len({proof.rule_file for proof in proofs})
    if not proven:
        return f"nothing proven: {len(not_proven)} rule(s) have no fixtures"
    return f"{proven} rule(s) proven, {len(not_proven)} not proven: no fixtures"


def expected_groups(events: list[FixtureEvent], group_by: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Distinct group keys of the events, as the monitor's composite aggregation reports them (strings)."""
    keys = {tuple(_key_text(_lookup(event.document, name)) for name in group_by) for event in events}
    return tuple(sorted(keys))


def _lookup(document: dict[str, Any], dotted: str) -> Any:
    node: Any = document
    if dotted in node:
        return node[dotted]
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _key_text(value: Any) -> str:
    # JSON spellings, as Alerting writes its bucket keys: a fixture's "true" and the engine's true are one group.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_key_text(item) for item in value)
    return str(value)


def key_of(bucket_keys: Any) -> tuple[str, ...]:
    return tuple(_key_text(value) for value in bucket_keys)


def _natural(event_id: str) -> tuple[str, int]:
    name, _, line = event_id.rpartition(":")
    return (name, int(line) if line.isdigit() else 0)

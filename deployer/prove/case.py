"""One rule's proof on one engine, as a target's executor receives it: what to run, where, as of when, what must
alert, and the EngineProof it records its verdicts on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from deployer.prove.fixtures import RuleFixtures
from deployer.prove.verdict import EngineProof
from deployer.rules.model import Rule


@dataclass(frozen=True)
class ProofIndices:
    """The two views of a rule's fixture events on the engine: every event, and the near misses only (an alias)."""

    everything: str
    nomatch_only: str


@dataclass(frozen=True)
class ProofCase:
    rule: Rule
    rule_fixtures: RuleFixtures
    indices: ProofIndices
    instant: datetime  # the run's period end, floored to the minute
    expected: tuple[str, ...]  # the event ids of match.ndjson, in file order
    proof: EngineProof  # the executor records its verdicts and notes here

"""`detect test`: prove on a real engine that a rule alerts on exactly its match fixtures.

fixtures → cluster → index (one bulk, one refresh) → run the compiled rule → verdict. Each rule gets its own
indices, so rules sharing an index pattern never see each other's events. How a rule runs is its target's business:
the target whose rules run on the engine (`deployer.targets.for_engine`) proves each rule there.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from deployer.errors import DetectError, InvalidRules, Problem, display_path
from deployer.prove.case import ProofCase, ProofIndices
from deployer.prove.fixtures import FixtureEvent, RuleFixtures, fixture_folder, load_fixtures, split_by_fixtures
from deployer.prove.verdict import EngineProof, NotProven
from deployer.report.progress import Progress, no_progress
from deployer.rules.fields import named_fields, rule_fields
from deployer.rules.model import Rule

if TYPE_CHECKING:
    from deployer.environments import TargetSettings
    from deployer.prove.engines import Engine
    from deployer.targets.base import TargetKind


@dataclass
class ProofReport:
    instant: str
    proofs: list[EngineProof] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    not_proven: list[NotProven] = field(default_factory=list)  # rules without fixtures: said, not failed

    @property
    def ok(self) -> bool:
        return bool(self.proofs or self.not_proven) and all(proof.ok for proof in self.proofs)


def run_instant(now: datetime | None = None) -> datetime:
    """The period end of the proof: now, floored to the minute like the seed's `@m` snapping."""
    moment = now or datetime.now(UTC)
    return moment.replace(second=0, microsecond=0)


def load_all_fixtures(rules: list[Rule], root: Path, instant: datetime) -> list[RuleFixtures]:
    """Every rule's fixtures, or InvalidRules naming each bad fixture file and line before any cluster work."""
    loaded: list[RuleFixtures] = []
    problems: list[Problem] = []
    for rule in rules:
        result = load_fixtures(rule, root, instant)
        if isinstance(result, list):
            problems += result
        else:
            loaded.append(result)
    if problems:
        raise InvalidRules(problems, where="in the fixtures")
    return loaded


def prove_on_engine(engine: Engine, fixtures: list[RuleFixtures], instant: datetime,
                    progress: Progress) -> list[EngineProof]:
    """Index every rule's fixtures into its own indices on `engine`, then have the target whose rules run there prove
    each rule; the indices are removed however this ends, so a reused node keeps nothing of the run."""
    from deployer.targets import for_engine

    target = for_engine(engine.name)
    started = time.monotonic()
    indices: dict[str, ProofIndices] = {}
    documents: list[tuple[str, FixtureEvent]] = []
    run = secrets.token_hex(4)  # two proofs on one reused node never share an index
    created: list[str] = []
    nomatch_aliases: dict[str, tuple[str, list[str]]] = {}
    proofs = []
    try:
        for number, rule_fixtures in enumerate(fixtures):
            rule = rule_fixtures.rule
            source = rule_fields(rule)
            if source is None:
                raise DetectError(f"{rule.path}: unknown data source {rule.data_source}")
            views = ProofIndices(f"detect-proof-{run}-{number}-all", f"detect-proof-{run}-{number}-nomatch")
            indices[rule.rule_id] = views
            engine.create_index(views.everything, source.index_mapping(
                named_fields(rule, (event.document for event in rule_fixtures.events))))
            created.append(views.everything)
            documents += [(views.everything, event) for event in rule_fixtures.events]
            # The near misses alone (a monitor's second run sees only them): an alias, not a second index (a
            # cluster-state update each, most of a proof's cost).
            nomatch_aliases[views.nomatch_only] = (views.everything,
                                                   [event.event_id for event in rule_fixtures.events if not event.expected])
        engine.add_id_aliases(nomatch_aliases)
        progress(f"{engine.name}: indexing {len(documents)} fixture events for {len(fixtures)} rule(s)")
        engine.bulk_index(documents)
        engine.refresh(created)
        index_seconds = time.monotonic() - started
        for done, rule_fixtures in enumerate(fixtures, start=1):
            progress(f"{engine.name}: proving {rule_fixtures.rule.path.name}", done, len(fixtures))
            proof = _prove_rule(engine, target, rule_fixtures, indices[rule_fixtures.rule.rule_id], instant)
            proof.seconds["index"] = round(index_seconds / len(fixtures), 3)
            proofs.append(proof)
    finally:
        if created:
            engine.delete_indices(created)  # their aliases go with them
    return proofs


def _prove_rule(engine: Engine, target: TargetKind, rule_fixtures: RuleFixtures, indices: ProofIndices,
                instant: datetime) -> EngineProof:
    rule = rule_fixtures.rule
    proof = EngineProof(rule.rule_id, str(rule.path), engine.name, engine.version)
    expected = tuple(event.event_id for event in rule_fixtures.events if event.expected)
    started = time.monotonic()
    try:
        target.prove_rule(engine, ProofCase(rule, rule_fixtures, indices, instant, expected, proof))
    except DetectError as error:  # UnsupportedByTarget among them: the rule cannot be run there
        proof.error = str(error)
    except Exception as error:  # an engine error is a failed proof of this rule, reported with its reason
        proof.error = f"{type(error).__name__}: {error}"
    proof.seconds["prove"] = round(time.monotonic() - started, 3)
    return proof


def prove(rules: list[Rule], *, engines: tuple[str, ...], fixtures_root: Path, connection: TargetSettings | None = None,
          settings_for_engine: dict[str, TargetSettings] | None = None, progress: Progress = no_progress,
          require_fixtures: bool = False) -> ProofReport:
    """Prove every rule on every engine; a cluster per engine, reused across rules.

    A rule without a fixture folder is reported as not proven (no node starts for such rules alone); with
    `require_fixtures` its missing folder is a problem like any bad fixture (InvalidRules before any cluster work).

    Where each engine runs: with `settings_for_engine` (an environment's own clusters, by engine name), there and
    only there, an engine it lacks being one that cannot be used; else at `connection` (--cluster-url) for every
    engine; else on the `detect cluster up` node, or a throwaway node started for the proof.

    An engine that cannot be used (unreachable, refusing us, its node would not start) is one line, not one
    failure per rule: when no engine could be used, EngineUnavailable stops the proof (exit 2, as a deploy to an
    unreachable target). With several engines, what the others proved is kept, and each rule fails on the engine
    that could not be used, with that line.
    """
    from deployer.prove.clusters import EngineUnavailable, engine_cluster, failure_in_words
    from deployer.targets.http import RequestFailed

    instant = run_instant()
    started = time.monotonic()
    proven, unproven = (rules, []) if require_fixtures else split_by_fixtures(rules, fixtures_root)
    fixtures = load_all_fixtures(proven, fixtures_root, instant)
    report = ProofReport(instant.isoformat().replace("+00:00", "Z"), not_proven=[
        NotProven(rule.rule_id, str(rule.path), display_path(fixture_folder(rule, fixtures_root))) for rule in unproven])
    report.seconds["fixtures"] = round(time.monotonic() - started, 3)
    if not fixtures:
        return report
    proofs: dict[str, list[EngineProof]] = {}
    unavailable: dict[str, str] = {}
    for engine_name in engines:
        if settings_for_engine is not None:
            settings = settings_for_engine.get(engine_name)
            if settings is None:
                unavailable[engine_name] = f"{engine_name}: no cluster given for it (no target of the environment runs on it)"
                continue
        else:
            settings = connection
        try:
            with engine_cluster(engine_name, settings, progress, report.seconds) as engine:
                engine_started = time.monotonic()
                proofs[engine_name] = prove_on_engine(engine, fixtures, instant, progress)
                report.seconds[f"{engine_name}_prove"] = round(time.monotonic() - engine_started, 3)
        except EngineUnavailable as error:
            unavailable[engine_name] = str(error)
        except RequestFailed as error:  # it answered at first, then failed or stopped (a node going down mid-proof)
            unavailable[engine_name] = f"{engine_name} stopped answering during the proof: {failure_in_words(error)}"
        except DetectError as error:  # the proof itself failed there (fixtures the engine refuses, say): every rule fails
            proofs[engine_name] = _failed_everywhere(fixtures, engine_name, str(error))
    if unavailable and not proofs:
        raise EngineUnavailable("; ".join(unavailable.values()))
    for engine_name in engines:
        report.proofs += proofs[engine_name] if engine_name in proofs else \
            _failed_everywhere(fixtures, engine_name, unavailable[engine_name])
    return report


def _failed_everywhere(fixtures: list[RuleFixtures], engine_name: str, reason: str) -> list[EngineProof]:
    return [EngineProof(item.rule.rule_id, str(item.rule.path), engine_name, "?", error=reason) for item in fixtures]

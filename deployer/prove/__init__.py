"""`detect test`: prove on a real engine that a rule alerts on exactly its match fixtures.

fixtures → cluster → index (one bulk, one refresh) → run the compiled rule → verdict. Each rule gets its own
indices, so rules sharing an index pattern never see each other's events.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deployer.errors import DetectError, InvalidRules, Problem, UnsupportedByTarget
from deployer.prove.engines import ElasticsearchEngine, OpenSearchEngine
from deployer.prove.fixtures import FixtureEvent, RuleFixtures, load_fixtures
from deployer.prove.verdict import EngineProof, GroupVerdict, MatchVerdict, expected_groups, key_of
from deployer.report.progress import Progress, no_progress
from deployer.rules.datasource import load_data_source
from deployer.rules.model import JSON, Rule


@dataclass
class ProofReport:
    instant: str
    proofs: list[EngineProof] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.proofs) and all(proof.ok for proof in self.proofs)


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


def prove_on_engine(engine: OpenSearchEngine | ElasticsearchEngine, fixtures: list[RuleFixtures], instant: datetime,
                    progress: Progress) -> list[EngineProof]:
    """Index every rule's fixtures into its own indices on `engine`, then prove each rule there; the indices are
    removed however this ends, so a reused node keeps nothing of the run."""
    started = time.monotonic()
    indices: dict[str, tuple[str, str]] = {}
    documents: list[tuple[str, FixtureEvent]] = []
    run = secrets.token_hex(4)  # two proofs on one reused node never share an index
    created: list[str] = []
    nomatch_aliases: dict[str, tuple[str, list[str]]] = {}
    proofs = []
    try:
        for number, rule_fixtures in enumerate(fixtures):
            rule = rule_fixtures.rule
            source = load_data_source(rule.data_source)
            if source is None:
                raise DetectError(f"{rule.path}: unknown data source {rule.data_source}")
            everything, nomatch_only = f"detect-proof-{run}-{number}-all", f"detect-proof-{run}-{number}-nomatch"
            indices[rule.rule_id] = (everything, nomatch_only)
            engine.create_index(everything, source.index_mapping())
            created.append(everything)
            documents += [(everything, event) for event in rule_fixtures.events]
            # The monitor's second run sees only the near misses: an alias, not a second index (a cluster-state
            # update each, most of a proof's cost).
            nomatch_aliases[nomatch_only] = (everything, [event.event_id for event in rule_fixtures.events if not event.expected])
        if isinstance(engine, OpenSearchEngine):
            engine.add_id_aliases(nomatch_aliases)
        progress(f"{engine.name}: indexing {len(documents)} fixture events for {len(fixtures)} rule(s)")
        engine.bulk_index(documents)
        engine.refresh(created)
        index_seconds = time.monotonic() - started
        for done, rule_fixtures in enumerate(fixtures, start=1):
            progress(f"{engine.name}: proving {rule_fixtures.rule.path.name}", done, len(fixtures))
            proof = _prove_rule(engine, rule_fixtures, indices[rule_fixtures.rule.rule_id], instant)
            proof.seconds["index"] = round(index_seconds / len(fixtures), 3)
            proofs.append(proof)
    finally:
        if created:
            engine.delete_indices(created)  # their aliases go with them
    return proofs


def _prove_rule(engine: OpenSearchEngine | ElasticsearchEngine, rule_fixtures: RuleFixtures, indices: tuple[str, str],
                instant: datetime) -> EngineProof:
    rule = rule_fixtures.rule
    proof = EngineProof(rule.rule_id, str(rule.path), engine.name, engine.version)
    expected = tuple(event.event_id for event in rule_fixtures.events if event.expected)
    started = time.monotonic()
    try:
        if isinstance(engine, OpenSearchEngine):
            _prove_on_opensearch(engine, rule, rule_fixtures, indices, instant, expected, proof)
        else:
            _prove_on_elasticsearch(engine, rule, indices[0], instant, expected, proof)
    except UnsupportedByTarget as error:
        proof.error = str(error)
    except DetectError as error:
        proof.error = str(error)
    except Exception as error:  # an engine error is a failed proof of this rule, reported with its reason
        proof.error = f"{type(error).__name__}: {error}"
    proof.seconds["prove"] = round(time.monotonic() - started, 3)
    return proof


def _prove_on_opensearch(engine: OpenSearchEngine, rule: Rule, rule_fixtures: RuleFixtures, indices: tuple[str, str],
                         instant: datetime, expected: tuple[str, ...], proof: EngineProof) -> None:
    from deployer.targets import opensearch

    period_end_ms = int(instant.timestamp() * 1000)
    monitor = opensearch.compile_rule(rule)
    search = monitor["inputs"][0]["search"]
    rendered_query = json.loads(json.dumps(search["query"]["query"]).replace("{{period_end}}", str(period_end_ms)))
    method = "query DSL" if rule.language == "dsl" else "EQL translated to query DSL"
    proof.matches = MatchVerdict(method, expected, tuple(engine.matching_ids(indices[0], rendered_query)))
    if rule.language == "eql":
        proof.notes.append("OpenSearch has no EQL: the rule ran as its query DSL translation")
    matching_events = [event for event in rule_fixtures.events if event.expected]
    for case, index, events in (("all fixtures", indices[0], matching_events), ("nomatch only", indices[1], [])):
        proof.groups.append(_run_monitor(engine, monitor, index, period_end_ms, case, expected_groups(events, _group_fields(monitor))))


def _group_fields(monitor: JSON) -> tuple[str, ...]:
    sources = monitor["inputs"][0]["search"]["query"]["aggregations"]["groups"]["composite"]["sources"]
    return tuple(next(iter(source)) for source in sources)


def _run_monitor(engine: OpenSearchEngine, monitor: JSON, index: str, period_end_ms: int, case: str,
                 wanted: tuple[tuple[str, ...], ...]) -> GroupVerdict:
    runnable = json.loads(json.dumps(monitor))
    runnable["inputs"][0]["search"]["indices"] = [index]
    try:
        run = engine.run_monitor(runnable, period_end_ms)
    except Exception as failure:  # the monitor step fails on its own; the query verdict still stands
        return GroupVerdict(case, wanted, (), False, f"{type(failure).__name__}: {failure}")
    groups = tuple(sorted(key_of(keys) for keys in run.groups))
    return GroupVerdict(case, wanted, groups, run.triggered, run.error, run.method)


def _prove_on_elasticsearch(engine: ElasticsearchEngine, rule: Rule, index: str, instant: datetime,
                            expected: tuple[str, ...], proof: EngineProof) -> None:
    from deployer.targets import kibana

    payload = kibana.compile_rule(rule)
    window = _kibana_window(payload, instant)
    negated = [item["query"] for item in payload.get("filters", []) if item["meta"]["negate"]]
    if payload["type"] == "eql":
        filter_query = {"bool": {"filter": [window], "must_not": negated}}
        found = engine.eql_matching_ids(index, payload["query"], filter_query)
        if found is not None:
            proof.matches = MatchVerdict("EQL", expected, tuple(found))
            return
        from deployer.dialects.eql_to_dsl import translate_eql

        proof.notes.append(f"native EQL not run: this Elasticsearch {engine.version} has no EQL endpoint "
                           "(the integ-test distribution ships without x-pack); ran the EQL's query DSL translation")
        query = {"bool": {"filter": [window, translate_eql(payload["query"])], "must_not": negated}}
        proof.matches = MatchVerdict("EQL translated to query DSL", expected, tuple(engine.matching_ids(index, query)))
        return
    positive = [item["query"] for item in payload.get("filters", []) if not item["meta"]["negate"]]
    query = {"bool": {"filter": [window, *positive], "must_not": negated}}
    proof.matches = MatchVerdict("query DSL", expected, tuple(engine.matching_ids(index, query)))


def _kibana_window(payload: JSON, instant: datetime) -> JSON:
    """The range Kibana's detection engine searches for a run at `instant`: from `from` to `to`, inclusive."""
    instant_text = instant.isoformat().replace("+00:00", "Z")
    to = payload.get("to", "now")
    return {"range": {"@timestamp": {"gte": payload["from"].replace("now", f"{instant_text}||", 1),
                                     "lte": to.replace("now", f"{instant_text}||", 1) if to != "now" else instant_text,
                                     "format": "strict_date_optional_time"}}}


def prove(rules: list[Rule], *, engines: tuple[str, ...], fixtures_root: Path, connection: Any = None,
          progress: Progress = no_progress) -> ProofReport:
    """Prove every rule on every engine; a cluster per engine, reused across rules.

    An engine that cannot be used (unreachable, refusing us, its node would not start) is one line, not one
    failure per rule: when no engine could be used, EngineUnavailable stops the proof (exit 2, as a deploy to an
    unreachable target). With several engines, what the others proved is kept, and each rule fails on the engine
    that could not be used, with that line.
    """
    from deployer.prove.clusters import EngineUnavailable, client_errors, engine_cluster, failure_in_words

    instant = run_instant()
    started = time.monotonic()
    fixtures = load_all_fixtures(rules, fixtures_root, instant)
    report = ProofReport(instant.isoformat().replace("+00:00", "Z"))
    report.seconds["fixtures"] = round(time.monotonic() - started, 3)
    proofs: dict[str, list[EngineProof]] = {}
    unavailable: dict[str, str] = {}
    for engine_name in engines:
        try:
            with engine_cluster(engine_name, connection, progress, report.seconds) as engine:
                engine_started = time.monotonic()
                proofs[engine_name] = prove_on_engine(engine, fixtures, instant, progress)
                report.seconds[f"{engine_name}_prove"] = round(time.monotonic() - engine_started, 3)
        except EngineUnavailable as error:
            unavailable[engine_name] = str(error)
        except DetectError as error:  # the proof itself failed there (fixtures the engine refuses, say): every rule fails
            proofs[engine_name] = _failed_everywhere(fixtures, engine_name, str(error))
        except client_errors() as error:  # it answered at first, then stopped (a node going down mid-proof)
            unavailable[engine_name] = f"{engine_name} stopped answering during the proof: {failure_in_words(error)}"
    if unavailable and not proofs:
        raise EngineUnavailable("; ".join(unavailable.values()))
    for engine_name in engines:
        report.proofs += proofs[engine_name] if engine_name in proofs else \
            _failed_everywhere(fixtures, engine_name, unavailable[engine_name])
    return report


def _failed_everywhere(fixtures: list[RuleFixtures], engine_name: str, reason: str) -> list[EngineProof]:
    return [EngineProof(item.rule.rule_id, str(item.rule.path), engine_name, "?", error=reason) for item in fixtures]

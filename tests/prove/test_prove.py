"""Proof on real engines: the tests' rules pass, and each way of breaking the Qakbot rule is caught.

The broken rules skip validation on purpose (some breakages, like a PCRE `^`, validation already refuses):
here the engine itself must show that the rule no longer does its job.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployer.cluster.node import RunningNode
from deployer.prove import prove, prove_on_engine, run_instant
from deployer.prove.clusters import EngineUnavailable, connect
from deployer.prove.engines import Engine, connection_from_environment, index_batches, settings_for_url
from deployer.prove.fixtures import RuleFixtures, load_fixtures
from deployer.prove.verdict import EngineProof
from deployer.report.progress import no_progress
from deployer.rules.model import Rule
from tests.conftest import DSL_RULE, EQL_RULE, FIXTURES

ENGINES = ["opensearch", "elasticsearch"]


@pytest.fixture(scope="module")
def engines(opensearch_node: RunningNode, elasticsearch_node: RunningNode) -> Iterator[dict[str, Engine]]:
    connected = {"opensearch": connect("opensearch", settings_for_url(opensearch_node.url)),
                 "elasticsearch": connect("elasticsearch", settings_for_url(elasticsearch_node.url))}
    yield connected
    for engine in connected.values():
        engine.close()


@pytest.fixture(scope="module")
def node_urls(opensearch_node: RunningNode, elasticsearch_node: RunningNode) -> dict[str, str]:
    """Where each engine's node listens, for checks through a client of their own."""
    return {"opensearch": opensearch_node.url, "elasticsearch": elasticsearch_node.url}


def _prove(engine: Any, path: Path, document: dict[str, Any]) -> EngineProof:
    instant = run_instant()
    rule = Rule.from_document(path, document)
    fixtures = load_fixtures(rule, FIXTURES, instant)
    assert isinstance(fixtures, RuleFixtures), fixtures
    (proof,) = prove_on_engine(engine, [fixtures], instant, no_progress)
    return proof


def _document(path: Path) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("path", [DSL_RULE, EQL_RULE], ids=["dsl", "eql"])
def test_repository_rules_fire_on_exactly_their_match_fixtures(engines: dict[str, Any], engine_name: str, path: Path) -> None:
    proof = _prove(engines[engine_name], path, _document(path))
    assert proof.error is None
    assert proof.matches is not None and proof.matches.ok, (proof.matches.missing, proof.matches.unexpected)
    assert len(proof.matches.expected) == 20
    if engine_name == "opensearch":
        assert [group.case for group in proof.groups] == ["all fixtures", "nomatch only"]
        all_fixtures, nomatch_only = proof.groups
        assert all_fixtures.triggered and len(all_fixtures.actual_groups) == 18, all_fixtures
        assert all_fixtures.ok, all_fixtures
        assert not nomatch_only.triggered and nomatch_only.ok, nomatch_only
    assert proof.ok


def _drop_binary(document: dict[str, Any]) -> None:
    should = document["query"]["bool"]["filter"][2]["bool"]["should"]
    should[:] = [clause for clause in should if "explorer.exe" not in str(clause)]


def _pcre_caret(document: dict[str, Any]) -> None:
    regexp = document["query"]["bool"]["filter"][3]["regexp"]["file.name"]
    regexp["value"] = "^" + regexp["value"]


def _case_sensitive(document: dict[str, Any]) -> None:
    for clause in document["query"]["bool"]["filter"][2]["bool"]["should"]:
        clause["wildcard"]["process.executable"].pop("case_insensitive")


def _single_backslash(document: dict[str, Any]) -> None:
    for clause in document["query"]["bool"]["filter"][2]["bool"]["should"]:
        spec = clause["wildcard"]["process.executable"]
        spec["value"] = spec["value"].replace("\\\\", "\\")


def _wrong_window(document: dict[str, Any]) -> None:
    document["to"] = "now"


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("dropped binary", _drop_binary, "missing"),
    ("PCRE caret", _pcre_caret, "missing"),
    ("case-sensitive wildcard", _case_sensitive, "missing"),
    ("single backslash wildcard", _single_backslash, "unexpected"),
    ("window up to now", _wrong_window, "unexpected"),
]


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize(("case", "breakage", "symptom"), BREAKAGES, ids=[case for case, _, _ in BREAKAGES])
def test_a_broken_rule_fails_with_the_events_named(engines: dict[str, Any], engine_name: str, case: str,
                                                   breakage: Callable[[dict[str, Any]], None], symptom: str) -> None:
    document = copy.deepcopy(_document(DSL_RULE))
    breakage(document)
    proof = _prove(engines[engine_name], DSL_RULE, document)
    assert not proof.ok
    assert proof.matches is not None
    named = proof.matches.missing if symptom == "missing" else proof.matches.unexpected
    assert named, f"{case}: expected {symptom} events"
    assert all(event_id.startswith("match.ndjson:" if symptom == "missing" else "nomatch.ndjson:") for event_id in named)


def test_index_batches_keep_every_name_under_the_request_line_limit() -> None:
    names = [f"detect-proof-0123abcd-{number}-nomatch" for number in range(300)]
    batches = index_batches(names)
    assert len(batches) > 1 and all(len(batch) <= 2048 for batch in batches)
    assert [name for batch in batches for name in batch.split(",")] == names


@pytest.mark.parametrize("engine_name", ENGINES)
def test_many_indices_are_removed_in_requests_the_engine_accepts(engines: dict[str, Any], node_urls: dict[str, str],
                                                                 engine_name: str) -> None:
    # Two indices per rule: a few hundred rules' names joined in one URL pass 4 KiB, which the engines refuse.
    engine = engines[engine_name]
    names = [f"detect-proof-test-{number}-nomatch" for number in range(200)]
    engine.create_index(names[-1], {"properties": {"a": {"type": "keyword"}}})
    engine.delete_indices(names)
    assert httpx.head(f"{node_urls[engine_name]}/{names[-1]}").status_code == 404


def test_an_id_alias_shows_only_its_documents(engines: dict[str, Any], node_urls: dict[str, str]) -> None:
    engine = engines["opensearch"]
    instant = run_instant()
    fixtures = load_fixtures(Rule.from_document(DSL_RULE, json.loads(DSL_RULE.read_text())), FIXTURES, instant)
    assert isinstance(fixtures, RuleFixtures)
    index, alias = "detect-proof-alias-test-all", "detect-proof-alias-test-nomatch"
    engine.create_index(index, {"dynamic": False, "properties": {}})
    try:
        engine.bulk_index([(index, event) for event in fixtures.events])
        engine.refresh([index])
        nomatch = {event.event_id for event in fixtures.events if not event.expected}
        engine.add_id_aliases({alias: (index, sorted(nomatch))})
        assert engine.matching_ids(alias, {"match_all": {}}) == nomatch
        assert len(engine.matching_ids(index, {"match_all": {}})) == len(fixtures.events)
    finally:
        engine.delete_indices([index])
    assert httpx.head(f"{node_urls['opensearch']}/_alias/{alias}").status_code == 404


def _verdicts(proofs: list[EngineProof]) -> list[tuple[Any, ...]]:
    """What a proof concluded, without its timings."""
    return [(proof.rule_id, proof.engine, proof.engine_version, proof.matches, proof.groups, proof.notes, proof.error)
            for proof in proofs]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_an_environments_cluster_proves_as_cluster_url_does(opensearch_node: RunningNode, elasticsearch_node: RunningNode,
                                                            engine_name: str) -> None:
    # `detect test --env ENV` hands prove() the TargetSettings of the environment's target on each engine.
    url = {"opensearch": opensearch_node.url, "elasticsearch": elasticsearch_node.url}[engine_name]
    rules = [Rule.from_document(path, _document(path)) for path in (DSL_RULE, EQL_RULE)]
    through_url = prove(rules, engines=(engine_name,), fixtures_root=FIXTURES,
                        connection=connection_from_environment(url, None, False))
    through_settings = prove(rules, engines=(engine_name,), fixtures_root=FIXTURES,
                             settings_for_engine={engine_name: settings_for_url(url)})
    assert through_url.ok and through_settings.ok
    assert _verdicts(through_settings.proofs) == _verdicts(through_url.proofs)
    assert len(through_settings.proofs) == 2


def test_an_engine_the_environment_has_no_cluster_for_cannot_be_used(opensearch_node: RunningNode) -> None:
    rules = [Rule.from_document(DSL_RULE, _document(DSL_RULE))]
    with pytest.raises(EngineUnavailable) as raised:
        prove(rules, engines=("elasticsearch",), fixtures_root=FIXTURES,
              settings_for_engine={"opensearch": settings_for_url(opensearch_node.url)})
    assert str(raised.value) == "elasticsearch: no cluster given for it (no target of the environment runs on it)"
    report = prove(rules, engines=("opensearch", "elasticsearch"), fixtures_root=FIXTURES,
                   settings_for_engine={"opensearch": settings_for_url(opensearch_node.url)})
    assert [(proof.engine, proof.ok) for proof in report.proofs] == [("opensearch", True), ("elasticsearch", False)]

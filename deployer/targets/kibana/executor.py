"""How Kibana's detection engine runs a rule on Elasticsearch, for `detect test`: the compiled rule's query over its
window (`from` to `to`), with its filters (an exclusion is a negated filter), as EQL or as query DSL.

The proof's indices stand in for the rule's index patterns; everything else comes from the payload a deploy sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from deployer.prove.engines import hit_ids
from deployer.prove.verdict import MatchVerdict
from deployer.rules.model import JSON
from deployer.targets.http import RequestFailed
from deployer.targets.kibana.compile import compile_rule

if TYPE_CHECKING:
    from deployer.prove.case import ProofCase
    from deployer.prove.engines import Engine

# Far above any fixture file; a search never has to page.
_MAX_HITS = 10_000


def prove_rule(engine: Engine, case: ProofCase) -> None:
    """Record on `case.proof` which fixture events the rule selects when Kibana runs it at `case.instant`."""
    payload = compile_rule(case.rule)
    index, proof = case.indices.everything, case.proof
    window = detection_window(payload, case.instant)
    negated = [item["query"] for item in payload.get("filters", []) if item["meta"]["negate"]]
    if payload["type"] == "eql":
        filter_query = {"bool": {"filter": [window], "must_not": negated}}
        # Kibana's EQL executor names the rule's own category, tiebreaker and timestamp fields in the search.
        fields = {search_key: payload[rule_key] for rule_key, search_key in _EQL_FIELD_SETTINGS if payload.get(rule_key)}
        found = eql_matching_ids(engine, index, payload["query"], filter_query, fields)
        if found is not None:
            proof.matches = MatchVerdict("EQL", case.expected, tuple(found))
            return
        from deployer.dialects.eql_to_dsl import translate_eql

        proof.notes.append(f"native EQL not run: this Elasticsearch {engine.version} has no EQL endpoint "
                           "(the integ-test distribution ships without x-pack); ran the EQL's query DSL translation")
        category_field = payload.get("event_category_override") or "event.category"
        query = {"bool": {"filter": [window, translate_eql(payload["query"], category_field)], "must_not": negated}}
        proof.matches = MatchVerdict("EQL translated to query DSL", case.expected,
                                     tuple(engine.matching_ids(index, query)))
        return
    positive = [item["query"] for item in payload.get("filters", []) if not item["meta"]["negate"]]
    query = {"bool": {"filter": [window, *positive], "must_not": negated}}
    proof.matches = MatchVerdict("query DSL", case.expected, tuple(engine.matching_ids(index, query)))


def detection_window(payload: JSON, instant: datetime) -> JSON:
    """The range Kibana's detection engine searches for a run at `instant`: from `from` to `to`, inclusive."""
    instant_text = instant.isoformat().replace("+00:00", "Z")
    to = payload.get("to", "now")
    return {"range": {"@timestamp": {"gte": payload["from"].replace("now", f"{instant_text}||", 1),
                                     "lte": to.replace("now", f"{instant_text}||", 1) if to != "now" else instant_text,
                                     "format": "strict_date_optional_time"}}}


_EQL_FIELD_SETTINGS = (("event_category_override", "event_category_field"), ("tiebreaker_field", "tiebreaker_field"),
                       ("timestamp_field", "timestamp_field"))


def eql_matching_ids(engine: Engine, index: str, eql_query: str, filter_query: JSON,
                     fields: JSON | None = None) -> set[str] | None:
    """Ids the EQL query returns, or None when the cluster has no EQL (no x-pack EQL plugin)."""
    try:
        answer: Any = engine.request("POST", f"/{index}/_eql/search",
                                     body={"query": eql_query, "filter": filter_query, "size": _MAX_HITS, **(fields or {})})
    except RequestFailed as error:
        # A cluster without x-pack EQL has no handler for the endpoint; any other error is real.
        if error.status in (400, 405) and "no handler found" in str(error.body):
            return None
        raise
    return hit_ids(answer, f"{engine.name}: POST /{index}/_eql/search", "events")

"""No answer from a server, however malformed, crashes detect: reading what is deployed either succeeds or raises
one DetectError line naming the target and the request. Hypothesis sends arbitrary JSON and bytes to both targets'
readers and to Kibana's apply paths (create, update, _import)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.environments import Credentials, TargetSettings, Tls
from deployer.errors import DetectError
from deployer.targets.base import Action, PlanEntry
from deployer.targets.http import RetryPolicy
from deployer.targets.kibana import KibanaTarget
from deployer.targets.opensearch import OpenSearchTarget

_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=8)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)
# Shapes close to the real ones, with any part replaced: fuzzing only random documents would rarely reach the
# checks past the first level.
_find_like = st.fixed_dictionaries({"page": _scalars, "per_page": st.integers(0, 3) | _scalars, "total": st.integers(0, 3) | _scalars,
                                    "data": st.lists(st.fixed_dictionaries({"rule_id": st.text(max_size=4) | _scalars,
                                                                            "id": st.text(max_size=4) | _scalars,
                                                                            "version": st.integers(-1, 3) | _scalars,
                                                                            "meta": _json, "tags": _json}), max_size=3) | _json})
_search_like = st.fixed_dictionaries({"hits": st.fixed_dictionaries({"hits": st.lists(st.fixed_dictionaries({
    "_id": st.text(max_size=4) | _scalars, "_source": st.fixed_dictionaries({"monitor": st.fixed_dictionaries({
        "ui_metadata": st.fixed_dictionaries({"detect": _json}) | _json, "triggers": _json, "inputs": _json})}) | _json}),
    max_size=3) | _json}) | _json})
_bodies = st.one_of(_json.map(lambda value: json.dumps(value).encode()), st.binary(max_size=40),
                    st.just(b"<html><body>Sign in</body></html>"))


def _answering(body: bytes, status: int = 200) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers={"content-type": "application/json"}))


def _settings(name: str) -> TargetSettings:
    return TargetSettings(name, "http://127.0.0.1:9", Credentials(), Tls())


def _read(target: Any) -> None:
    try:
        target.read_deployed()
    except DetectError as error:
        line = str(error)
        assert "\n" not in line and line.startswith(target.label), line
    finally:
        target.close()


_fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_fuzz
@given(body=_bodies | _find_like.map(lambda value: json.dumps(value).encode()), status=st.sampled_from([200, 200, 403, 404, 302]))
def test_kibana_read_never_crashes(body: bytes, status: int) -> None:
    _read(KibanaTarget(_settings("kibana"), "soc", transport=_answering(body, status), retry=RetryPolicy(attempts=1)))


@_fuzz
@given(body=_bodies | _search_like.map(lambda value: json.dumps(value).encode()), status=st.sampled_from([200, 200, 403, 404]))
def test_opensearch_read_never_crashes(body: bytes, status: int) -> None:
    _read(OpenSearchTarget(_settings("opensearch"), transport=_answering(body, status), retry=RetryPolicy(attempts=1)))


@_fuzz
@given(body=_bodies, status=st.sampled_from([200, 409, 500]), action=st.sampled_from([Action.create, Action.update]),
       many=st.booleans())
def test_kibana_apply_turns_any_answer_into_outcomes(body: bytes, status: int, action: Action, many: bool) -> None:
    from deployer.rules.ruleset import validate_paths
    from deployer.targets.kibana import desired_rule
    from tests.conftest import DSL_RULE

    [rule] = validate_paths([DSL_RULE]).rules
    desired = desired_rule(rule)
    entries = [PlanEntry(rule.rule_id if number == 0 else f"r{number}", "kibana:soc", action, "fuzz", desired)
               for number in range(25 if many else 1)]
    target = KibanaTarget(_settings("kibana"), "soc", transport=_answering(body, status), retry=RetryPolicy(attempts=1))
    try:
        outcomes = target.apply(entries)
    finally:
        target.close()
    assert len(outcomes) == len(entries)
    assert all(isinstance(outcome.message, str) and "\n" not in outcome.message for outcome in outcomes)

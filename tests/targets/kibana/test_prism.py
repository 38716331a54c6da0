"""The requests detect sends to Kibana, checked by a validating mock (Prism) serving Kibana's official OpenAPI description.

One Prism for the module (about 5 s to start).  Statuses are exact, so a change in the contract, in Prism or in
the compiled payloads fails here; the module docstring of tests.support.kibana_mock.prism explains them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployer.rules.model import Rule
from deployer.targets.kibana import API_VERSION, compile_rule
from tests.conftest import DETECTIONS
from tests.support.kibana_mock import CONTRACT_ENV, PrismServer, contract_path, running_prism

RULE_FILES = sorted(DETECTIONS.glob("*.json"))
RULES = "/api/detection_engine/rules"
PROBLEM = "https://stoplight.io/prism/errors#"
API_KEY = base64.b64encode(b"detect-ci:not-a-real-key").decode()
HEADERS = {"kbn-xsrf": "true", "elastic-api-version": API_VERSION, "Authorization": f"ApiKey {API_KEY}"}
JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    spec = contract_path()
    if spec is None:
        pytest.skip(f"${CONTRACT_ENV} does not name Kibana's detections OpenAPI file: no contract to validate against")
    with running_prism(spec, log_dir=tmp_path_factory.mktemp("kibana-prism")) as server:
        yield server


@pytest.fixture(scope="module")
def kibana(prism: PrismServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=prism.url, timeout=30) as client:
        yield client


def _payload(path: Path) -> dict[str, Any]:
    return compile_rule(Rule.from_document(path, json.loads(path.read_text("utf-8"))))


def _send_json(kibana: httpx.Client, method: str, url: str, body: Any, headers: dict[str, str] | None = None,
               **options: Any) -> httpx.Response:
    return kibana.request(method, url, content=json.dumps(body).encode(), headers=headers or JSON_HEADERS, **options)


def _explain(response: httpx.Response, prism: PrismServer) -> str:
    return (f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:2000]}\n"
            f"--- {prism.log_path} ---\n{prism.log_tail(30)}")


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text[:500]
    body: dict[str, Any] = response.json()
    return body


def _messages(response: httpx.Response) -> list[str]:
    return [item["message"] for item in _problem(response).get("validation", [])]


def test_there_are_rules_to_send() -> None:
    assert len(RULE_FILES) >= 2, f"expected the repository's rules in {DETECTIONS}"


# --- (a) the compiled payloads are valid create and update bodies ------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT"], ids=["create", "update"])
@pytest.mark.parametrize("path", RULE_FILES, ids=[path.stem for path in RULE_FILES])
def test_compiled_payload_is_a_valid_rule_body(kibana: httpx.Client, prism: PrismServer, path: Path, method: str) -> None:
    response = _send_json(kibana, method, RULES, _payload(path))
    assert response.status_code == 200, _explain(response, prism)


@pytest.mark.parametrize("path", RULE_FILES, ids=[path.stem for path in RULE_FILES])
def test_a_payload_with_every_kibana_field_is_a_valid_rule_body(kibana: httpx.Client, prism: PrismServer, path: Path) -> None:
    from tests.targets.kibana.whole_rule import with_every_field

    payload = compile_rule(Rule.from_document(path, with_every_field(json.loads(path.read_text("utf-8")))))
    response = _send_json(kibana, "POST", RULES, payload)
    assert response.status_code == 200, _explain(response, prism)
    rule = response.json()
    # the mock answers a schema-shaped rule (not an echo of the request)
    assert {"id", "rule_id", "type", "name", "created_at", "revision"} <= rule.keys(), rule


def test_compiled_payloads_cover_both_rule_types() -> None:
    assert {_payload(path)["type"] for path in RULE_FILES} == {"query", "eql"}


# --- (b) the mock validates: these must be refused ---------------------------------------------------

def test_risk_score_must_be_an_integer(kibana: httpx.Client, prism: PrismServer) -> None:
    body = dict(_payload(RULE_FILES[0]), risk_score="high")
    response = _send_json(kibana, "POST", RULES, body)
    assert response.status_code == 422, _explain(response, prism)
    assert _problem(response)["type"] == PROBLEM + "UNPROCESSABLE_ENTITY"
    assert "Request body property risk_score must be integer" in _messages(response)


@pytest.mark.parametrize("path", RULE_FILES, ids=[path.stem for path in RULE_FILES])
def test_create_body_needs_a_type(kibana: httpx.Client, prism: PrismServer, path: Path) -> None:
    body = {key: value for key, value in _payload(path).items() if key != "type"}
    response = _send_json(kibana, "POST", RULES, body)
    assert response.status_code == 422, _explain(response, prism)
    assert "Request body must have required property 'type'" in _messages(response)


@pytest.mark.parametrize(("change", "message"), [
    ({"risk_score": 101}, "Request body property risk_score must be <= 100"),
    ({"name": ""}, "Request body property name must NOT have fewer than 1 characters"),
    ({"severity": "urgent"}, "Request body property severity must be equal to one of the allowed values: low, medium, high, critical"),
], ids=["risk_score-101", "empty-name", "severity-urgent"])
def test_update_body_is_validated_too(kibana: httpx.Client, prism: PrismServer, change: dict[str, Any], message: str) -> None:
    response = _send_json(kibana, "PUT", RULES, {**_payload(RULE_FILES[0]), **change})
    assert response.status_code == 422, _explain(response, prism)
    assert message in _messages(response)


@pytest.mark.parametrize(("method", "url", "status", "problem"), [
    ("GET", "/api/detection_engine/no_such_thing", 404, "NO_PATH_MATCHED_ERROR"),
    ("POST", "/api/detection_engine/rules/_no_such_action", 404, "NO_PATH_MATCHED_ERROR"),
    ("POST", f"/s/security{RULES}", 404, "NO_PATH_MATCHED_ERROR"),  # spaces are not in the description
    ("TRACE", f"{RULES}/_find", 405, "NO_METHOD_MATCHED_ERROR"),
], ids=["unknown-path", "unknown-action", "space-prefix", "unknown-method"])
def test_unknown_routes_are_refused(kibana: httpx.Client, prism: PrismServer, method: str, url: str, status: int, problem: str) -> None:
    response = _send_json(kibana, method, url, _payload(RULE_FILES[0]))
    assert response.status_code == status, _explain(response, prism)
    assert _problem(response)["type"] == PROBLEM + problem


def test_requests_without_credentials_are_refused(kibana: httpx.Client, prism: PrismServer) -> None:
    headers = {key: value for key, value in JSON_HEADERS.items() if key != "Authorization"}
    response = _send_json(kibana, "POST", RULES, _payload(RULE_FILES[0]), headers=headers)
    assert response.status_code == 401, _explain(response, prism)
    assert _problem(response)["type"] == PROBLEM + "UNAUTHORIZED"


def test_json_body_needs_the_json_content_type(kibana: httpx.Client, prism: PrismServer) -> None:
    response = _send_json(kibana, "POST", RULES, _payload(RULE_FILES[0]), headers={**HEADERS, "Content-Type": "text/plain"})
    assert response.status_code == 415, _explain(response, prism)
    assert _problem(response)["type"] == PROBLEM + "INVALID_CONTENT_TYPE"


def test_known_blind_spots_of_the_mock(kibana: httpx.Client, prism: PrismServer) -> None:
    """What the contract does not say and the mock therefore accepts (Kibana itself would refuse the first)."""
    no_xsrf = {key: value for key, value in JSON_HEADERS.items() if key not in ("kbn-xsrf", "elastic-api-version")}
    response = _send_json(kibana, "POST", RULES, _payload(RULE_FILES[0]), headers=no_xsrf)
    assert response.status_code == 200, _explain(response, prism)
    response = _send_json(kibana, "POST", RULES, dict(_payload(RULE_FILES[0]), not_a_kibana_field=1))
    assert response.status_code == 200, _explain(response, prism)


# --- (c) _find ---------------------------------------------------------------------------------------

def test_find_with_filter_and_paging(kibana: httpx.Client, prism: PrismServer) -> None:
    params: dict[str, str | int] = {"filter": 'alert.attributes.tags:"detect"', "per_page": 100, "page": 1, "sort_field": "name", "sort_order": "asc"}
    response = kibana.get(f"{RULES}/_find", params=params, headers=HEADERS)
    assert response.status_code == 200, _explain(response, prism)
    found = response.json()
    assert {"data", "page", "perPage", "total"} <= found.keys(), found
    assert isinstance(found["data"], list) and {"rule_id", "id"} <= found["data"][0].keys()


@pytest.mark.parametrize(("params", "message"), [
    ({"per_page": "abc"}, "Request query parameter per_page must be integer"),
    ({"page": 0}, "Request query parameter page must be >= 1"),
    ({"sort_field": "colour"}, "Request query parameter sort_field must be equal to one of the allowed values"),
], ids=["per_page-abc", "page-0", "sort_field-colour"])
def test_find_query_parameters_are_validated(kibana: httpx.Client, prism: PrismServer, params: dict[str, str | int], message: str) -> None:
    response = kibana.get(f"{RULES}/_find", params=params, headers=HEADERS)
    assert response.status_code == 422, _explain(response, prism)
    assert any(text.startswith(message) for text in _messages(response)), _messages(response)


def test_delete_by_rule_id(kibana: httpx.Client, prism: PrismServer) -> None:
    response = kibana.delete(RULES, params={"rule_id": _payload(RULE_FILES[0])["rule_id"]}, headers=HEADERS)
    assert response.status_code == 200, _explain(response, prism)
    assert {"id", "rule_id"} <= response.json().keys()


# --- (d) _import -------------------------------------------------------------------------------------

def test_import_ndjson_of_compiled_rules(kibana: httpx.Client, prism: PrismServer) -> None:
    ndjson = "".join(json.dumps(_payload(path)) + "\n" for path in RULE_FILES[:2]).encode()
    response = kibana.post(f"{RULES}/_import", params={"overwrite": "true"}, headers=HEADERS,
                           files={"file": ("rules.ndjson", ndjson, "application/ndjson")})
    assert response.status_code == 200, _explain(response, prism)
    result = response.json()
    assert {"success", "success_count", "rules_count", "errors"} <= result.keys(), result


def test_import_is_multipart_only(kibana: httpx.Client, prism: PrismServer) -> None:
    response = _send_json(kibana, "POST", f"{RULES}/_import", [_payload(RULE_FILES[0])])
    assert response.status_code == 415, _explain(response, prism)
    response = kibana.post(f"{RULES}/_import", params={"overwrite": "maybe"}, headers=HEADERS,
                           files={"file": ("rules.ndjson", b"{}\n", "application/ndjson")})
    assert response.status_code == 422, _explain(response, prism)
    assert "Request query parameter overwrite must be boolean" in _messages(response)


# --- (e) _bulk_action --------------------------------------------------------------------------------

def test_bulk_delete_by_ids(kibana: httpx.Client, prism: PrismServer) -> None:
    body = {"action": "delete", "ids": ["6541b99a-dee9-4f6d-a86d-dbd1869d73b1", "8c0bb5a1-2a4a-4c3c-8c7e-6f0f4f8f8f8f"]}
    response = _send_json(kibana, "POST", f"{RULES}/_bulk_action", body)
    assert response.status_code == 200, _explain(response, prism)
    result = response.json()
    assert {"success", "rules_count", "attributes"} <= result.keys(), result
    assert {"results", "summary"} <= result["attributes"].keys()
    assert {"created", "deleted", "skipped", "updated"} <= result["attributes"]["results"].keys()


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "delete", "ids": []}, "Request body property ids must NOT have fewer than 1 items"),
    ({"action": "explode", "ids": ["x"]}, "Request body property action must be equal to one of the allowed values: delete"),
], ids=["no-ids", "unknown-action"])
def test_bulk_action_body_is_validated(kibana: httpx.Client, prism: PrismServer, body: dict[str, Any], message: str) -> None:
    response = _send_json(kibana, "POST", f"{RULES}/_bulk_action", body)
    assert response.status_code == 422, _explain(response, prism)
    assert message in _messages(response)


def test_served_description_changes_are_the_known_ones(prism: PrismServer) -> None:
    """If Kibana fixes its description (or adds ApiKey auth), this says so: the preparation can then shrink."""
    assert len(prism.changes) == 2, prism.changes
    assert prism.changes[0].startswith("/components/schemas/RuleActionFrequency/properties/throttle: dropped `nullable`")
    assert prism.changes[1].startswith("/components/securitySchemes/ApiKeyAuth: added")

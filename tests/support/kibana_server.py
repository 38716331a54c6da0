"""A stateful Kibana detection-engine server for deploy tests, on loopback.

Every request is validated against Kibana's official OpenAPI description (openapi-core, the file named by
$DETECT_KIBANA_OPENAPI) before it is served: a request the contract refuses gets 400 with the reason, and
the test sees it. Behind that gate the server keeps rules per space with the semantics Kibana documents
(create answers 409 for an existing rule_id, update and delete 404 for a missing one, _import answers 200
with per-rule errors) and answers with rules as Kibana does: the fields a request left out filled with
Kibana's defaults, its own bookkeeping added (id, revision, created_at, ...), `ecs` on required fields. Every
rule it answers with is checked against the contract's RuleResponse. `edit_in_ui` changes a rule the way
Kibana's rule editor does (a patch that raises the version). Faults can be queued to prove retries: HTTP
500/429, a reset connection, a stall; `answers` replaces the next answer to a route with any bytes.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_SPACE = re.compile(r"^/s/([a-z0-9_-]+)(/api/.*)$")
_TAG_FILTER = re.compile(r'^alert\.attributes\.tags:"(.*)"$')


@cache
def _openapi(path: str) -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(path)


@cache
def _rule_validator(path: str) -> Any:
    """Each line of an _import file against the contract's RuleCreateProps: the multipart body itself is only
    declared as a file, but Kibana checks every rule in it as a create request (plus a required rule_id)."""
    import yaml
    from openapi_schema_validator import OAS30Validator

    with open(path, encoding="utf-8") as handle:
        contract = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schema = {"allOf": [{"$ref": "#/components/schemas/RuleCreateProps"}, {"required": ["rule_id"]}],
              "components": contract["components"]}
    return OAS30Validator(schema)


# What Kibana fills in for a field a create leaves out (convertCreateAPIToInternalSchema in Kibana's rule
# management; the contract lists these fields as required in every rule response, without their values).
KIBANA_CREATE_DEFAULTS: dict[str, Any] = {
    "enabled": True, "interval": "5m", "from": "now-6m", "to": "now", "max_signals": 100, "setup": "", "tags": [],
    "author": [], "false_positives": [], "references": [], "risk_score_mapping": [], "severity_mapping": [], "threat": [],
    "actions": [], "exceptions_list": [], "related_integrations": [], "required_fields": [],
}


@cache
def _response_validator(path: str) -> Any:
    import yaml
    from openapi_schema_validator import OAS30Validator

    with open(path, encoding="utf-8") as handle:
        contract = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    # Discriminators are hints over oneOf/anyOf, and some of this contract's mappings name schemas it does not define
    # (rule_source's "internal"): validate by the alternatives themselves.
    return OAS30Validator({"$ref": "#/components/schemas/RuleResponse", "components": _without_discriminators(contract["components"])})


def _without_discriminators(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_discriminators(value) for key, value in node.items() if key != "discriminator"}
    if isinstance(node, list):
        return [_without_discriminators(item) for item in node]
    return node


@dataclass
class Fault:
    kind: str  # "500", "429", "reset", "stall"
    method: str | None = None
    path: str | None = None


@dataclass
class KibanaServer:
    spec_path: str
    stall_seconds: float = 5.0
    rules: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # space -> rule_id -> rule
    faults: deque[Fault] = field(default_factory=deque)
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    contract_errors: list[str] = field(default_factory=list)
    url: str = ""
    # (method, path suffix) -> (status, content type, body): the next answer to that route, whatever it is
    answers: dict[tuple[str, str], tuple[int, str, bytes]] = field(default_factory=dict)

    def edit_in_ui(self, rule_id: str, space: str = "default", **changes: Any) -> dict[str, Any]:
        """Change a stored rule as Kibana's rule editor saves it: the fields changed, version and revision raised."""
        rule = self.rules[space][rule_id]
        rule.update(changes, version=rule["version"] + 1, revision=rule["revision"] + 1, updated_by="soc-analyst")
        return rule

    def add_by_hand(self, rule: dict[str, Any], space: str = "default") -> dict[str, Any]:
        """A rule someone created in Kibana without detect."""
        return self._store(self.rules.setdefault(space, {}), rule)

    def writes(self) -> list[tuple[str, str, int]]:
        return [entry for entry in self.log if entry[0] != "GET"]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.kind == "reset":
                sock = environ.get("werkzeug.socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.close()
                raise ConnectionAbortedError("injected reset")
            if fault.kind == "stall":
                time.sleep(self.stall_seconds)
            else:
                status = int(fault.kind)
                self.log.append((request.method, request.path, status))
                return Response(json.dumps({"message": f"injected {status}"}), status, content_type="application/json",
                                headers={"Retry-After": "0"} if status == 429 else None)(environ, start_response)
        canned = next((key for key in self.answers if key[0] == request.method and request.path.endswith(key[1])), None)
        if canned is not None:
            status, content_type, body = self.answers.pop(canned)
            self.log.append((request.method, request.path, status))
            return Response(body, status, content_type=content_type)(environ, start_response)
        response = self._serve(request)
        self.log.append((request.method, request.path, response.status_code))
        return response(environ, start_response)

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in list(self.faults):
            if (fault.method in (None, request.method)) and (fault.path is None or fault.path in request.path):
                self.faults.remove(fault)
                return fault
        return None

    def _serve(self, request: Request) -> Response:
        match = _SPACE.match(request.path)
        space, path = (match.group(1), match.group(2)) if match else ("default", request.path)
        problem = self._contract_problem(request, path)
        if problem:
            self.contract_errors.append(problem)
            return _json({"statusCode": 400, "error": "Bad Request", "message": problem}, 400)
        store = self.rules.setdefault(space, {})
        route = (request.method, path)
        if route == ("GET", "/api/detection_engine/rules/_find"):
            return self._find(store, request)
        if route == ("POST", "/api/detection_engine/rules"):
            body = request.get_json()
            if body["rule_id"] in store:
                return _json({"message": f"rule_id: \"{body['rule_id']}\" already exists", "status_code": 409}, 409)
            return _json(self._store(store, body), 200)
        if route == ("PUT", "/api/detection_engine/rules"):
            body = request.get_json()
            if body["rule_id"] not in store:
                return _json({"message": f"rule_id: \"{body['rule_id']}\" not found", "status_code": 404}, 404)
            return _json(self._store(store, body), 200)
        if route == ("GET", "/api/detection_engine/rules"):
            rule_id = request.args.get("rule_id", "")
            if rule_id not in store:
                return _json({"message": f"rule_id: \"{rule_id}\" not found", "status_code": 404}, 404)
            return _json(store[rule_id], 200)
        if route == ("DELETE", "/api/detection_engine/rules"):
            rule_id = request.args.get("rule_id", "")
            if rule_id not in store:
                return _json({"message": f"rule_id: \"{rule_id}\" not found", "status_code": 404}, 404)
            return _json(store.pop(rule_id), 200)
        if route == ("POST", "/api/detection_engine/rules/_import"):
            return self._import(store, request)
        return _json({"message": f"not served by this test server: {request.method} {path}"}, 404)

    def _contract_problem(self, request: Request, path: str) -> str | None:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest

        # The body stream can be read once: hand the validator a copy over the cached bytes, so the route
        # handler below still sees them.
        environ = dict(request.environ, PATH_INFO=path, **{"wsgi.input": io.BytesIO(request.get_data(cache=True))})
        try:
            _openapi(self.spec_path).validate_request(WerkzeugOpenAPIRequest(Request(environ)))
        except Exception as error:  # openapi-core raises a family of validation errors; all mean "contract refused"
            details = "; ".join(str(cause) for cause in getattr(error, "schema_errors", [])[:3])
            return f"{request.method} {path}: {type(error).__name__}: {error}" + (f" ({details})" if details else "")
        return None

    def _find(self, store: dict[str, dict[str, Any]], request: Request) -> Response:
        tag = _TAG_FILTER.match(request.args.get("filter", ""))
        rules = [rule for rule in store.values() if tag is None or tag.group(1) in rule.get("tags", [])]
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 20))
        return _json({"page": page, "per_page": per_page, "total": len(rules),
                      "data": rules[(page - 1) * per_page : page * per_page]}, 200)

    def _store(self, store: dict[str, dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        existing = store.get(body["rule_id"])
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        rule = {**KIBANA_CREATE_DEFAULTS, "version": 1, **body,
                "id": existing["id"] if existing else str(uuid.uuid4()), "revision": existing["revision"] + 1 if existing else 0,
                "created_at": existing["created_at"] if existing else now, "created_by": "detect-ci", "updated_at": now,
                "updated_by": "detect-ci", "immutable": False, "rule_source": {"type": "internal"}}
        rule["required_fields"] = [{**item, "ecs": item["name"].startswith(("event.", "process.", "file.", "host.", "user."))}
                                   for item in body.get("required_fields", [])]
        invalid = [f"{list(error.absolute_path)}: {error.message}" for error in _response_validator(self.spec_path).iter_errors(rule)]
        if invalid:  # the server itself must answer as the contract says Kibana does
            self.contract_errors.append(f"response for {body['rule_id']}: {invalid[:3]}")
        store[body["rule_id"]] = rule
        return rule

    def _import(self, store: dict[str, dict[str, Any]], request: Request) -> Response:
        overwrite = request.args.get("overwrite") == "true"
        lines = [json.loads(line) for line in request.files["file"].read().decode().splitlines() if line.strip()]
        errors = []
        for rule in lines:
            invalid = [f"{list(error.absolute_path)}: {error.message}" for error in _rule_validator(self.spec_path).iter_errors(rule)]
            if invalid:
                self.contract_errors.append(f"_import rule {rule.get('rule_id')}: {invalid[:3]}")
                errors.append({"rule_id": rule.get("rule_id"), "error": {"status_code": 400, "message": "; ".join(invalid[:3])}})
            elif rule["rule_id"] in store and not overwrite:
                errors.append({"rule_id": rule["rule_id"], "error": {"status_code": 409, "message": "rule_id already exists"}})
            else:
                self._store(store, rule)
        return _json({"success": not errors, "success_count": len(lines) - len(errors), "rules_count": len(lines),
                      "errors": errors, "exceptions_success": True, "exceptions_success_count": 0, "exceptions_errors": [],
                      "action_connectors_success": True, "action_connectors_success_count": 0,
                      "action_connectors_errors": [], "action_connectors_warnings": []}, 200)


def _json(document: Any, status: int) -> Response:
    return Response(json.dumps(document), status, content_type="application/json")


@contextmanager
def kibana_server(spec_path: str) -> Iterator[KibanaServer]:
    """Serve on a free loopback port in a thread for the duration of the block."""
    app = KibanaServer(spec_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=10)

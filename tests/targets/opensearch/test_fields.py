"""The deploy's field-type check, on the real local OpenSearch: a monitor that groups by or matches a field the
target's indices map as `text` (dynamic mapping, as Logstash and Data Prepper write) is refused with one line naming
the index and the fields; keyword-mapped and not-yet-existing indices pass; one `_field_caps` request for the plan."""

from __future__ import annotations

import copy
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deployer.cluster.node import RunningNode
from deployer.environments import Credentials, TargetSettings, Tls
from deployer.errors import DetectError
from deployer.prove.clusters import connect
from deployer.prove.engines import settings_for_url
from deployer.rules.datasource import load_data_source
from deployer.rules.model import Rule
from deployer.targets.base import Action, Desired, PlanEntry
from deployer.targets.http import RetryPolicy
from deployer.targets.opensearch import OpenSearchTarget, compile_rule
from deployer.targets.opensearch.fields import field_caps_requests, field_uses, read_field_caps
from tests.conftest import DSL_RULE, EQL_RULE

PREFIX = "detect-preflight-"
EVENT = {"@timestamp": "2026-12-01T19:40:00Z", "process": {"executable": "C:\\Windows\\System32\\calc.exe", "pid": 8820}}
FULL_EVENT = {**EVENT, "event": {"code": "18"}, "file": {"name": "\\{4f8a2c1e-93b7}"}, "host": {"name": "wks-1"},
              "user": {"name": "a.moreau"}}


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, counting what the target sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def node(opensearch_node: RunningNode) -> Iterator[httpx.Client]:
    """The indices the tests plan against: keyword-mapped as the data source says, and dynamic (text + .keyword)."""
    client = httpx.Client(base_url=opensearch_node.url, timeout=60)
    source = load_data_source("windows.sysmon_operational")
    assert source is not None
    keyword = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": source.index_mapping()}
    for index in ("a-keyword", "b-keyword"):
        assert client.put(f"/{PREFIX}{index}", json=keyword).status_code == 200
    assert client.post(f"/{PREFIX}a-dynamic/_doc?refresh=true", json=EVENT).status_code == 201
    # Pattern-matched, not grouped: host.name keyword, file.name text.
    assert client.put(f"/{PREFIX}c-text-name", json={"mappings": {"properties": {
        "host": {"properties": {"name": {"type": "keyword"}}}, "file": {"properties": {"name": {"type": "text"}}}}}}).status_code == 200
    # Keyword without doc values: searchable, but no aggregation can read it.
    assert client.put(f"/{PREFIX}d-no-doc-values", json={"mappings": {"properties": {
        "host": {"properties": {"name": {"type": "keyword", "doc_values": False}}}}}}).status_code == 200
    # A data stream written with dynamic mapping: its backing index is .ds-<stream>-000001.
    assert client.put(f"/_index_template/{PREFIX}ds", json={"index_patterns": [f"{PREFIX}ds-*"], "data_stream": {}}).status_code == 200
    assert client.post(f"/{PREFIX}ds-windows/_doc?refresh=true", json=FULL_EVENT).status_code == 201
    yield client
    client.delete(f"/_data_stream/{PREFIX}ds-*")
    client.delete(f"/_index_template/{PREFIX}ds")
    client.delete(f"/{PREFIX}*")
    client.close()


@pytest.fixture
def target(node: httpx.Client) -> Iterator[tuple[OpenSearchTarget, CountingTransport]]:
    transport = CountingTransport()
    target = OpenSearchTarget(TargetSettings("opensearch", str(node.base_url).rstrip("/"), Credentials(), Tls()),
                              transport=transport)
    yield target, transport
    target.close()


def _entry(document: dict[str, Any], patterns: list[str], *, name: str = "1", action: Action = Action.create,
           **changes: Any) -> PlanEntry:
    changed = {**copy.deepcopy(document), "index": patterns, "rule_id": f"00000000-0000-4000-8000-00000000000{name}", **changes}
    rule = Rule.from_document(DSL_RULE if changed["language"] == "dsl" else EQL_RULE, changed)
    payload = compile_rule(rule)
    return PlanEntry(rule.rule_id, "opensearch", action, "new (version 1)",
                     Desired(rule, payload, payload["ui_metadata"]["detect"]["payload_hash"]))


def _field_caps_requests(transport: CountingTransport) -> int:
    return sum(path.endswith("/_field_caps") for path in transport.paths)


def test_the_monitor_uses_its_group_fields_and_keyword_clauses(dsl_document: dict[str, Any]) -> None:
    uses = field_uses(compile_rule(Rule.from_document(DSL_RULE, dsl_document)))
    assert uses["process.executable"] == ("groups by", "pattern-matches")
    assert uses["file.name"] == ("groups by", "pattern-matches")
    assert uses["event.code"] == ("groups by", "matches exactly")
    assert uses["process.pid"] == ("groups by",)
    assert "@timestamp" not in uses  # a range works on any type
    assert set(uses) == set(dsl_document["group_by"])


def test_keyword_indices_and_missing_indices_pass(target: tuple[OpenSearchTarget, CountingTransport],
                                                  dsl_document: dict[str, Any]) -> None:
    client, transport = target
    entries = [_entry(dsl_document, [f"{PREFIX}a-keyword"], name="1"),
               _entry(dsl_document, [f"{PREFIX}not-yet-*", f"{PREFIX}b-*"], name="2", action=Action.update)]
    assert client.preflight(entries) == entries
    assert _field_caps_requests(transport) == 1


def test_a_text_field_refuses_the_monitor_naming_index_and_field(target: tuple[OpenSearchTarget, CountingTransport],
                                                                 dsl_document: dict[str, Any]) -> None:
    client, transport = target
    mixed = _entry(dsl_document, [f"{PREFIX}a-*"], name="1")
    clean = _entry(dsl_document, [f"{PREFIX}b-*"], name="2")
    kept = _entry(dsl_document, [f"{PREFIX}a-*"], name="3", action=Action.unchanged)  # nothing is written for it
    planned = client.preflight([mixed, clean, kept])
    assert [entry.action for entry in planned] == [Action.refuse, Action.create, Action.unchanged]
    assert planned[0].reason == (
        "detect-preflight-a-dynamic maps process.executable as text, not keyword; the monitor groups by it and "
        "pattern-matches it, so every run of the monitor fails there (map it as keyword, e.g. with an index template)")
    assert planned[0].desired == mixed.desired and planned[1:] == [clean, kept]
    assert _field_caps_requests(transport) == 1


def test_a_data_stream_with_dynamic_mapping_names_its_backing_index(target: tuple[OpenSearchTarget, CountingTransport],
                                                                     dsl_document: dict[str, Any]) -> None:
    client, _ = target
    (planned,) = client.preflight([_entry(dsl_document, [f"{PREFIX}ds-*"])])
    assert planned.action is Action.refuse
    assert planned.reason == (
        ".ds-detect-preflight-ds-windows-000001 maps event.code, file.name, host.name, process.executable and 1 more "
        "field(s) as text, not keyword; the monitor groups by or matches them, so every run of the monitor fails there "
        "(map them as keyword, e.g. with an index template)")


def test_a_pattern_on_a_text_field_misses_events(target: tuple[OpenSearchTarget, CountingTransport],
                                                 dsl_document: dict[str, Any]) -> None:
    client, _ = target
    entry = _entry(dsl_document, [f"{PREFIX}c-*"], group_by=["host.name"], alert_suppression={"group_by": ["host.name"]})
    (planned,) = client.preflight([entry])
    assert planned.reason == (
        "detect-preflight-c-text-name maps file.name as text, not keyword; the monitor pattern-matches it, so it "
        "tests analysed tokens there and misses events (map it as keyword, e.g. with an index template)")


def test_a_group_field_without_doc_values_is_refused(target: tuple[OpenSearchTarget, CountingTransport],
                                                     dsl_document: dict[str, Any]) -> None:
    client, _ = target
    entry = _entry(dsl_document, [f"{PREFIX}d-*"], group_by=["host.name"], alert_suppression={"group_by": ["host.name"]})
    (planned,) = client.preflight([entry])
    assert planned.reason == (
        "detect-preflight-d-no-doc-values maps host.name as keyword that cannot be aggregated; the monitor groups by "
        "it, so every run of the monitor fails there (map it as keyword with doc values, e.g. with an index template)")
    # What the line says is what the engine does with that monitor.
    from deployer.targets.opensearch.monitor_run import run_monitor

    run = run_monitor(connect("opensearch", settings_for_url(client.api.base_url)),
                      entry.desired.payload if entry.desired else {}, 0)
    assert run.error is not None and "Can't load fielddata on [host.name]" in run.error, run.error


def test_an_eql_rule_is_checked_through_its_translation(target: tuple[OpenSearchTarget, CountingTransport],
                                                        eql_document: dict[str, Any]) -> None:
    client, _ = target
    (planned,) = client.preflight([_entry(eql_document, [f"{PREFIX}a-*"])])
    assert planned.action is Action.refuse
    assert planned.reason.startswith("detect-preflight-a-dynamic maps process.executable as text, not keyword; ")


def test_an_alias_counts_its_indices_for_its_monitor_only(target: tuple[OpenSearchTarget, CountingTransport], node: httpx.Client,
                                                         dsl_document: dict[str, Any]) -> None:
    client, _ = target
    assert node.put(f"/{PREFIX}a-dynamic/_alias/{PREFIX}alias").status_code == 200
    through_alias = _entry(dsl_document, [f"{PREFIX}alias"], name="1")
    clean = _entry(dsl_document, [f"{PREFIX}b-*"], name="2")
    planned = client.preflight([through_alias, clean])
    assert [entry.action for entry in planned] == [Action.refuse, Action.create]
    assert planned[0].reason.startswith("detect-preflight-a-dynamic maps process.executable as text, not keyword; ")


def test_a_rerun_refuses_the_same_way(target: tuple[OpenSearchTarget, CountingTransport], dsl_document: dict[str, Any]) -> None:
    client, _ = target
    entries = [_entry(dsl_document, [f"{PREFIX}a-*"])]
    assert client.preflight(entries) == client.preflight(entries)


def test_an_unreachable_target_is_one_line_naming_it(dsl_document: dict[str, Any]) -> None:
    client = OpenSearchTarget(TargetSettings("opensearch", "http://127.0.0.1:9", Credentials(), Tls()),
                              retry=RetryPolicy(attempts=1))
    with pytest.raises(DetectError) as raised:
        client.preflight([_entry(dsl_document, [f"{PREFIX}a-*"])])
    message = str(raised.value)
    assert message.startswith("http://127.0.0.1:9: reading the field types of the monitors' indices: GET /detect-preflight-a-*/_field_caps: ")
    assert "\n" not in message


def test_many_fields_are_asked_in_request_lines_the_engine_accepts(node: httpx.Client) -> None:
    fields = [f"winlog.event_data.custom_field_{number:04d}" for number in range(400)]
    requests = field_caps_requests([f"{PREFIX}a-*", f"{PREFIX}b-*"], fields)
    assert len(requests) > 1
    assert sorted(name for _, parameters in requests for name in parameters["fields"].split(",")) == fields
    for path, parameters in requests:
        response = node.get(path, params=parameters)
        assert len(response.request.url.raw_path) < 4096
        assert response.status_code == 200, response.text
        assert sorted(response.json()["indices"]) == [f"{PREFIX}a-dynamic", f"{PREFIX}a-keyword", f"{PREFIX}b-keyword"]


@pytest.mark.parametrize(("answer", "message"), [
    ("<html>login</html>", "_field_caps answered without a list of indices and an object of fields"),
    ({"indices": "a", "fields": {}}, "_field_caps answered without a list of indices and an object of fields"),
    ({"indices": [1], "fields": {}}, "_field_caps answered without a list of indices and an object of fields"),
    ({"indices": ["a"], "fields": {"f": []}}, "_field_caps answered field f without its types"),
    ({"indices": ["a"], "fields": {"f": {"text": 1}}}, "_field_caps answered field f type text without its capabilities"),
    ({"indices": ["a"], "fields": {"f": {"text": {"indices": "a"}}}}, "_field_caps answered field f type text without a list of indices"),
])
def test_a_malformed_field_caps_answer_is_one_line(answer: Any, message: str) -> None:
    with pytest.raises(DetectError) as raised:
        read_field_caps(answer)
    assert str(raised.value) == message


def test_an_answer_that_is_not_json_names_the_target_and_request(dsl_document: dict[str, Any]) -> None:
    class LoginPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a proxy's login page where the cluster should answer
            body = b"<html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        client = OpenSearchTarget(TargetSettings("opensearch", url, Credentials(), Tls()))
        with pytest.raises(DetectError) as raised:
            client.preflight([_entry(dsl_document, [f"{PREFIX}a-*"])])
    finally:
        server.shutdown()
        server.server_close()
    assert str(raised.value) == (f"{url}: reading the field types of the monitors' indices: "
                                 "GET /detect-preflight-a-*/_field_caps: the answer is not JSON")

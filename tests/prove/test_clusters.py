"""A cluster `detect test` cannot use is one line and exit 2, as a deploy to an unreachable target: the URL and
the cause in words, never a client's repr, never once per rule. With --engine all the engines that worked keep
their proofs."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deployer.cluster.node import RunningNode
from deployer.environments import Credentials, TargetSettings, Tls
from deployer.prove.clusters import EngineUnavailable, connect
from deployer.prove.engines import connection_from_environment, settings_for_url
from tests.conftest import detect


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening: a connection to it is refused
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as held:  # held bound for the test, so no other process takes the port
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


Start = Callable[[int, object], str]  # (status, JSON body) -> URL of a server answering GETs with them


class _Answers(http.server.BaseHTTPRequestHandler):
    """A GET (the clients' first request asks who answers) gets what the server was given; any other request has
    its connection closed without an answer."""

    def do_GET(self) -> None:
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self) -> None:
        self.close_connection = True

    do_PUT = do_POST = do_HEAD = do_DELETE

    def log_message(self, *_arguments: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[Start]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int, body: object) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
        server.answer = (status, json.dumps(body).encode())  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("output", ["text", "github", "json"])
def test_unreachable_cluster_is_one_line_and_exit_2(refused_url: str, output: str) -> None:
    result = detect("test", "--cluster-url", refused_url, "--format", output)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # no annotation, no per-rule line, no half report
    assert result.stderr == f"error: cannot reach opensearch at {refused_url}: connection refused\n"


def test_every_engine_unreachable_is_still_one_line(refused_url: str) -> None:
    result = detect("test", "--engine", "all", "--cluster-url", refused_url)
    assert result.returncode == 2
    assert result.stderr == (f"error: cannot reach opensearch at {refused_url}: connection refused; "
                             f"cannot reach elasticsearch at {refused_url}: connection refused\n")


def test_credentials_in_the_url_are_never_printed(refused_url: str) -> None:
    with_credentials = refused_url.replace("http://", "http://analyst:hunter2-secret@")
    result = detect("test", "--cluster-url", with_credentials)
    assert result.returncode == 2
    assert "hunter2" not in result.stdout + result.stderr and "analyst" not in result.stdout + result.stderr
    assert result.stderr == f"error: cannot reach opensearch at {refused_url.replace('http://', 'http://***@')}: connection refused\n"


def test_the_cause_is_said_in_words(answering: Start) -> None:
    def failure(engine: str, url: str) -> str:
        with pytest.raises(EngineUnavailable) as raised:
            connect(engine, settings_for_url(url))
        return str(raised.value)

    port = _closed_port()
    kibana_like = answering(200, {"name": "kibana", "status": "green"})
    denied = answering(401, {"error": "unauthorized"})
    for engine in ("opensearch", "elasticsearch"):
        assert failure(engine, f"http://127.0.0.1:{port}") == f"cannot reach {engine} at http://127.0.0.1:{port}: connection refused"
        assert failure(engine, "http://no-such-host.invalid:9200") == \
            f"cannot reach {engine} at http://no-such-host.invalid:9200: host name not found"
        assert failure(engine, kibana_like.replace("http:", "https:")) == \
            f"cannot reach {engine} at {kibana_like.replace('http:', 'https:')}: TLS handshake failed (wrong version number)"
        assert failure(engine, denied).startswith(f"cannot use {engine} at {denied}: HTTP 401: the credentials were refused")
        assert failure(engine, kibana_like) == f"cannot use {engine} at {kibana_like}: it answers, but not as " + \
            ("OpenSearch (no version number in GET /)" if engine == "opensearch" else "Elasticsearch")


def test_a_cluster_that_stops_answering_mid_proof_is_one_line(answering: Start) -> None:
    # GET / says OpenSearch; the proof's first write (removing a stale index) has its connection closed unanswered.
    url = answering(200, {"version": {"number": "2.19.6", "distribution": "opensearch"}})
    result = detect("test", "--cluster-url", url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("error: opensearch stopped answering during the proof: "
                             "the server closed the connection without answering\n")


def test_engine_all_keeps_what_the_working_engine_proved(opensearch_node: RunningNode) -> None:
    # One URL for both engines: the OpenSearch node proves; it does not name itself Elasticsearch (X-Elastic-Product).
    result = detect("test", "--engine", "all", "--cluster-url", opensearch_node.url, "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    proofs = json.loads(result.stdout)["proofs"]
    assert [(proof["engine"], proof["ok"]) for proof in proofs] == [("opensearch", True)] * 2 + [("elasticsearch", False)] * 2
    assert {proof["error"] for proof in proofs[2:]} == \
        {f"cannot use elasticsearch at {opensearch_node.url}: it answers, but not as Elasticsearch"}



class _Recording(http.server.BaseHTTPRequestHandler):
    """Answers GETs as both engines do when asked who they are, and records each request's Authorization."""

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        body = json.dumps({"version": {"number": "2.19.6"}, "nodes": {"n": {"version": "9.1.0"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_arguments: object) -> None:
        pass


@pytest.fixture
def recording() -> Iterator[tuple[str, list[str | None]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_the_clusters_credentials_are_sent_as_each_engine_takes_them(recording: tuple[str, list[str | None]]) -> None:
    url, seen = recording

    def authorization(engine: str, settings: TargetSettings) -> str | None:
        connected = connect(engine, settings)
        connected.close()
        return seen.pop()

    password = Credentials(username="analyst", password="s3cret")
    key = Credentials(api_key="a2V5LWlkOmtleQ==")
    both = Credentials(api_key="a2V5LWlkOmtleQ==", username="analyst", password="s3cret")
    assert authorization("opensearch", TargetSettings("opensearch", url, password, Tls())) == _basic("analyst", "s3cret")
    assert authorization("elasticsearch", TargetSettings("kibana", url, password, Tls())) == _basic("analyst", "s3cret")
    assert authorization("elasticsearch", TargetSettings("kibana", url, key, Tls())) == "ApiKey a2V5LWlkOmtleQ=="
    assert authorization("elasticsearch", TargetSettings("kibana", url, both, Tls())) == "ApiKey a2V5LWlkOmtleQ=="
    # OpenSearch authenticates users: an API key (Elasticsearch's) is never sent to it, as opensearch-py never did.
    assert authorization("opensearch", TargetSettings("opensearch", url, key, Tls())) is None
    assert authorization("opensearch", TargetSettings("opensearch", url, both, Tls())) == _basic("analyst", "s3cret")
    # Credentials written into --cluster-url authenticate when the environment gives none.
    in_url = url.replace("http://", "http://analyst:p%40ss@")
    assert authorization("opensearch", settings_for_url(in_url)) == _basic("analyst", "p@ss")
    assert authorization("opensearch", TargetSettings("cluster", in_url, password, Tls())) == _basic("analyst", "s3cret")


def test_cluster_url_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DETECT_CLUSTER_USERNAME", "analyst")
    monkeypatch.setenv("DETECT_CLUSTER_PASSWORD", "s3cret")
    monkeypatch.delenv("DETECT_CLUSTER_API_KEY", raising=False)
    settings = connection_from_environment("https://search.example:9200", tmp_path / "ca.pem", False)
    assert (settings.url, settings.credentials, settings.tls) == (
        "https://search.example:9200", Credentials(username="analyst", password="s3cret"),
        Tls(verify=True, ca_cert=str(tmp_path / "ca.pem")))
    assert "s3cret" not in repr(settings)
    # --insecure wins over --ca-cert: nothing is verified.
    assert connection_from_environment("https://search.example:9200", tmp_path / "ca.pem", True).tls == Tls(verify=False)


def test_a_401_names_the_variables_of_where_the_settings_came_from(answering: Start) -> None:
    """--cluster-url's credentials come from DETECT_CLUSTER_*; an environment's from the variables detect.toml names."""
    import dataclasses

    denied = answering(401, {"error": "unauthorized"})
    messages = []
    for settings in (settings_for_url(denied), dataclasses.replace(settings_for_url(denied), name="opensearch")):
        with pytest.raises(EngineUnavailable) as raised:
            connect("opensearch", settings)
        messages.append(str(raised.value))
    assert "DETECT_CLUSTER_USERNAME" in messages[0]
    assert messages[1] == (f"cannot use opensearch at {denied}: HTTP 401: the credentials were refused (the environment "
                           "variables detect.toml names for this cluster)")

"""A cluster `detect test` cannot use is one line and exit 2, as a deploy to an unreachable target: the URL and
the cause in words, never a client's repr, never once per rule. With --engine all the engines that worked keep
their proofs."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from deployer.cluster.node import RunningNode
from deployer.prove.clusters import EngineUnavailable, connect
from deployer.prove.engines import Connection
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
            connect(engine, Connection(url))
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
    # One URL for both engines: the OpenSearch node proves; elasticsearch-py refuses it as not Elasticsearch.
    result = detect("test", "--engine", "all", "--cluster-url", opensearch_node.url, "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    proofs = json.loads(result.stdout)["proofs"]
    assert [(proof["engine"], proof["ok"]) for proof in proofs] == [("opensearch", True)] * 2 + [("elasticsearch", False)] * 2
    assert {proof["error"] for proof in proofs[2:]} == \
        {f"cannot use elasticsearch at {opensearch_node.url}: it answers, but not as Elasticsearch"}


"""deployer.targets.http against loopback servers that misbehave on purpose: one that never answers, ones that drip their
answer a byte at a time (headers or body), ones that echo the credentials back in every spelling. Each request is
bounded in wall-clock time, a deploy-wide deadline stops requests and retries, and no form of a secret survives
into a message, however the server's reason is cut."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from deployer.environments import Credentials, TargetSettings, Tls
from deployer.targets.http import REASON_CHARS, Deadline, JsonApi, RequestFailed, RetryPolicy, target_api
from tests.conftest import DSL_RULE, detect

NO_SLEEP = RetryPolicy(sleep=lambda _seconds: None)


@dataclass
class RawServer:
    """A loopback TCP server whose every connection is handed to `behaviour` (in its own thread)."""

    behaviour: Callable[[socket.socket, threading.Event], None]
    url: str = ""
    connections: list[socket.socket] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


@contextmanager
def raw_server(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[RawServer]:
    server = RawServer(behaviour)
    listener = socket.create_server(("127.0.0.1", 0))
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def serve() -> None:
        while True:
            try:
                connection, _peer = listener.accept()
            except OSError:
                return
            server.connections.append(connection)
            threading.Thread(target=_run, args=(connection,), daemon=True).start()

    def _run(connection: socket.socket) -> None:
        try:
            _read_request_head(connection)
            behaviour(connection, server.stopping)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server
    finally:
        server.stopping.set()
        listener.close()
        for connection in server.connections:
            connection.close()


def _read_request_head(connection: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def never_answers(connection: socket.socket, stopping: threading.Event) -> None:
    stopping.wait(30)


def drips_body(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n")
    while not stopping.wait(0.05):
        connection.sendall(b" ")


def drips_headers(connection: socket.socket, stopping: threading.Event) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 5000
    for byte in head:
        if stopping.wait(0.05):
            return
        connection.sendall(bytes([byte]))


def answers_503(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")


def _api(url: str, **options: Any) -> JsonApi:
    return JsonApi(url, headers={}, **options)


@pytest.mark.parametrize("behaviour", [never_answers, drips_body, drips_headers], ids=lambda b: b.__name__)
def test_each_request_is_bounded_in_wall_clock_time(behaviour: Callable[[socket.socket, threading.Event], None]) -> None:
    with raw_server(behaviour) as server:
        api = _api(server.url, timeout=1.0, retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None))
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/api/status")
        elapsed = time.monotonic() - started
        api.close()
    assert 1.9 <= elapsed < 3.5, elapsed  # two attempts of 1 s each, however the server behaves
    assert str(failure.value) == "GET /api/status: no answer after 2 attempts (no complete answer within 1 s)"
    assert failure.value.status is None


def test_an_attempt_that_ran_out_is_retried_once() -> None:
    """Each overdue attempt costs the whole timeout: five of them would make a stuck server cost five timeouts."""
    with raw_server(never_answers) as server:
        api = _api(server.url, timeout=0.5, retry=NO_SLEEP)  # five attempts for failures that come fast
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/")
        elapsed = time.monotonic() - started
        api.close()
    assert api.requests_sent == 2 and elapsed < 2.0, elapsed
    assert str(failure.value) == "GET /: no answer after 2 attempts (no complete answer within 0.5 s)"


def test_one_request_may_have_its_own_retry_and_timeout() -> None:
    """`detect test`'s first request asks who answers: one short attempt, while the client's own policy stays."""
    with raw_server(never_answers) as server:
        api = _api(server.url, timeout=5.0, retry=NO_SLEEP)
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/", retry=RetryPolicy(attempts=1), timeout=0.5)
        elapsed = time.monotonic() - started
        sent_by_the_probe = api.requests_sent
        with pytest.raises(RequestFailed) as later:
            api.request("GET", "/", timeout=0.3)  # the client's retry policy again: two overdue attempts
        api.close()
    assert sent_by_the_probe == 1 and elapsed < 1.5, elapsed
    assert str(failure.value) == "GET /: no answer after 1 attempts (no complete answer within 0.5 s)"
    assert isinstance(failure.value.cause, TimeoutError)  # so a caller can say "timed out" without reading the text
    assert api.requests_sent == 3 and str(later.value).startswith("GET /: no answer after 2 attempts")


def test_a_request_with_no_answer_keeps_its_cause() -> None:
    with socket.socket() as held:  # bound, never listening: a connection to it is refused
        held.bind(("127.0.0.1", 0))
        api = _api(f"http://127.0.0.1:{held.getsockname()[1]}", retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None))
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/")
        api.close()
    assert failure.value.status is None and isinstance(failure.value.cause, httpx.ConnectError)
    chain: list[BaseException] = [failure.value.cause]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
    assert any(isinstance(cause, ConnectionRefusedError) for cause in chain), chain  # the socket's own error, under httpx's


def test_a_complete_answer_within_the_bound_is_read_whole() -> None:
    def slow_but_complete(connection: socket.socket, stopping: threading.Event) -> None:
        body = json.dumps({"status": "green", "padding": "x" * 100_000}).encode()
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\n\r\n")
        for start in range(0, len(body), 20_000):
            time.sleep(0.05)
            connection.sendall(body[start:start + 20_000])

    with raw_server(slow_but_complete) as server:
        api = _api(server.url, timeout=5.0, retry=NO_SLEEP)
        answer = api.request("GET", "/").json()
        api.close()
    assert answer["status"] == "green" and len(answer["padding"]) == 100_000


def test_a_transport_that_answers_at_once_is_read_as_it_is() -> None:
    """httpx's MockTransport hands over a response already read: the bounded reader takes it as it is."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"path": request.url.path}))
    api = JsonApi("http://kibana.test", headers={}, transport=transport)
    assert api.request("GET", "/api/status").json() == {"path": "/api/status"}
    api.close()


def test_a_reason_over_several_lines_is_one_line() -> None:
    def forbidden(connection: socket.socket, stopping: threading.Event) -> None:
        body = b"<html>\n<body>\n  Forbidden\n</body>\n</html>\n"
        connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\n\r\n" + body)

    with raw_server(forbidden) as server:
        api = _api(server.url, retry=NO_SLEEP)
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/s/soc/api/detection_engine/rules/_find")
        api.close()
    assert str(failure.value) == "GET /s/soc/api/detection_engine/rules/_find: HTTP 403: <html> <body> Forbidden </body> </html>"


def test_the_deadline_stops_requests_and_retries() -> None:
    with raw_server(never_answers) as server:
        deadline = Deadline(1.5)
        api = _api(server.url, timeout=10.0, deadline=deadline, retry=RetryPolicy(attempts=5, sleep=lambda _s: None))
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/api/detection_engine/rules/_find")
        elapsed = time.monotonic() - started
        # A second target of the same deploy shares the deadline: it fails at once, sending nothing.
        second = _api(server.url, timeout=10.0, deadline=deadline, retry=NO_SLEEP)
        with pytest.raises(RequestFailed) as second_failure:
            second.request("GET", "/_plugins/_alerting/monitors/_search")
        api.close()
        second.close()
    assert 1.2 <= elapsed < 2.5, elapsed  # the deadline started a moment before the request
    assert re.fullmatch(r"GET /api/detection_engine/rules/_find: the deadline \(1\.5 s, --timeout\) was reached "
                        r"\(no complete answer within 1\.\d s\)", str(failure.value)), str(failure.value)
    assert api.requests_sent == 1
    assert str(second_failure.value) == "GET /_plugins/_alerting/monitors/_search: the deadline (1.5 s, --timeout) was reached"
    assert second.requests_sent == 0


def test_no_retry_waits_past_the_deadline() -> None:
    slept: list[float] = []
    with raw_server(answers_503) as server:
        # Backoff of 8 s between attempts: with 1 s left, waiting for a retry would only run into the deadline.
        api = _api(server.url, deadline=Deadline(1.0), retry=RetryPolicy(attempts=5, first_delay=8.0, sleep=slept.append))
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/")
        api.close()
    assert time.monotonic() - started < 0.9
    assert slept == [] and api.requests_sent == 1
    assert str(failure.value) == "GET /: the deadline (1 s, --timeout) was reached (HTTP 503)"


def test_target_api_takes_the_timeout_and_the_deadline() -> None:
    settings = TargetSettings("kibana", "http://127.0.0.1", Credentials(), Tls())
    deadline = Deadline(300)
    api = target_api(settings, settings.url, {}, timeout=12.0, deadline=deadline)
    assert (api.timeout, api.deadline) == (12.0, deadline)
    api.close()
    default = target_api(settings, settings.url, {})  # the targets' calls of today keep working
    assert (default.timeout, default.deadline) == (30.0, None)
    default.close()


# ------------------------------------------------------------------------------------------------------ secrets

PASSWORD = 'pa"ss\\w/rd+%&=é:Zq8vK2mN7xR4'  # needs URL-encoding and JSON escaping
API_KEY_ID, API_KEY_SECRET = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
API_KEY = base64.b64encode(f"{API_KEY_ID}:{API_KEY_SECRET}".encode()).decode()
BASIC_TOKEN = base64.b64encode(f"detect-ci:{PASSWORD}".encode()).decode()


def _echoes(*forms: str, prefix: int = 0, as_json: bool = True) -> Callable[[socket.socket, threading.Event], None]:
    """A server answering 401 with the given forms of the credentials in its reason, after `prefix` filler characters."""
    def behaviour(connection: socket.socket, stopping: threading.Event) -> None:
        reason = "x" * prefix + " ".join(forms)
        body = json.dumps({"statusCode": 401, "error": "Unauthorized", "message": reason}) if as_json else reason
        data = body.encode("utf-8")
        connection.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: " +
                           (b"application/json" if as_json else b"text/plain; charset=utf-8") +
                           b"\r\nConnection: close\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return behaviour


def _leaked(text: str, *secrets: str, window: int = 6) -> list[str]:
    """Pieces of `window` characters of any secret found in `text`."""
    return sorted({secret[start:start + window] for secret in secrets for start in range(len(secret) - window + 1)
                   if secret[start:start + window] in text})


def _settings(url: str, credentials: Credentials) -> TargetSettings:
    return TargetSettings("kibana", url, credentials, Tls())


BASIC = Credentials(username="detect-ci", password=PASSWORD)
KEYED = Credentials(api_key=API_KEY)
ALL_FORMS = {
    "raw password": (BASIC, [PASSWORD]),
    "basic token": (BASIC, [BASIC_TOKEN, f"Basic {BASIC_TOKEN}"]),
    "url-encoded password": (BASIC, [quote(PASSWORD, safe=""), quote(PASSWORD)]),
    "json-escaped password": (BASIC, [json.dumps(PASSWORD)[1:-1], json.dumps(PASSWORD, ensure_ascii=False)[1:-1]]),
    "api key": (KEYED, [API_KEY, f"ApiKey {API_KEY}"]),
    "api key id and key": (KEYED, [API_KEY_ID, API_KEY_SECRET, f"{API_KEY_ID}:{API_KEY_SECRET}"]),
}


@pytest.mark.parametrize("as_json", [True, False], ids=["json body", "text body"])
@pytest.mark.parametrize("prefix", [0, REASON_CHARS - 10, REASON_CHARS - 3], ids=lambda n: f"cut after {n}")
@pytest.mark.parametrize("form", sorted(ALL_FORMS))
def test_no_form_of_a_secret_survives_in_a_failure(form: str, prefix: int, as_json: bool) -> None:
    credentials, echoed = ALL_FORMS[form]
    with raw_server(_echoes(*echoed, prefix=prefix, as_json=as_json)) as server:
        api = target_api(_settings(server.url, credentials), server.url, {}, retry=NO_SLEEP)
        with pytest.raises(RequestFailed) as failure:
            api.request("GET", "/api/detection_engine/rules/_find")
        api.close()
    secrets = [PASSWORD, BASIC_TOKEN, API_KEY, API_KEY_ID, API_KEY_SECRET,
               *(echo.split(" ")[-1] for echo in echoed)]  # "Basic " and "ApiKey " are no secrets
    message, body = str(failure.value), json.dumps(failure.value.body, ensure_ascii=False)
    assert message.startswith("GET /api/detection_engine/rules/_find: HTTP 401: ")
    assert _leaked(message, *secrets) == [] and _leaked(body, *secrets) == [], message
    if prefix == 0:
        assert "***" in message  # masked, not dropped: the user sees that the server echoed a credential


def test_verbose_records_and_messages_mask_the_token(caplog: pytest.LogCaptureFixture) -> None:
    with raw_server(_echoes(BASIC_TOKEN)) as server:
        api = target_api(_settings(server.url, BASIC), server.url, {}, retry=NO_SLEEP)
        with caplog.at_level("DEBUG", logger="detect.http"), pytest.raises(RequestFailed):
            api.request("GET", "/")
        api.close()
    records = "\n".join(record.getMessage() for record in caplog.records)
    assert "headers=" in records and _leaked(records, BASIC_TOKEN, PASSWORD) == []


class _KibanaEcho(BaseHTTPRequestHandler):
    """An empty Kibana space whose rule creates answer 401 with the Authorization header echoed back."""

    def do_GET(self) -> None:
        self._answer(200, {"data": [], "total": 0, "page": 1, "per_page": 10000})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(401, {"statusCode": 401, "error": "Unauthorized",
                           "message": "x" * (REASON_CHARS - 12) + f"bad credentials: {self.headers['Authorization']}"})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("output", ["text", "json", "github"])
def test_deploy_prints_no_echoed_token_in_any_format(tmp_path: Path, output: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KibanaEcho)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "detections").mkdir()
        shutil.copy(DSL_RULE, tmp_path / "detections" / DSL_RULE.name)
        (tmp_path / "detect.toml").write_text(
            f'[environments.lab.kibana]\nurl = "http://127.0.0.1:{server.server_address[1]}"\n'
            'username_env = "TEST_HTTP_USER"\npassword_env = "TEST_HTTP_PASSWORD"\n')
        monkeypatch.setenv("TEST_HTTP_USER", "detect-ci")
        monkeypatch.setenv("TEST_HTTP_PASSWORD", PASSWORD)
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
        result = detect("deploy", "--env", "lab", "--format", output, "--verbose", cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    printed = result.stdout + result.stderr + (
        (tmp_path / "summary.md").read_text() if (tmp_path / "summary.md").exists() else "")
    assert result.returncode == 1, printed
    assert "HTTP 401" in printed and "***" in printed
    assert _leaked(printed, BASIC_TOKEN, PASSWORD) == [], printed

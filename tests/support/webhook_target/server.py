"""The webhook receiver the third target deploys to, on 127.0.0.1: it keeps the payloads PUT to it per channel,
adds its own `id` and `received_at` as a real service would, and records every request (method, path,
Authorization) so a test sees what was sent. Tests change `payloads` directly to play someone editing by hand."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ROUTE = re.compile(r"^/channels/([a-z0-9-]+)/payloads(?:/([^/?]+))?$")


@dataclass
class WebhookServer:
    url: str = ""
    payloads: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # channel -> rule_id -> payload
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Authorization header)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _received: int = 0

    def writes(self) -> list[tuple[str, str, str]]:
        return [request for request in self.requests if request[0] != "GET"]

    def answer(self, method: str, path: str, authorization: str, body: bytes) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, authorization))
            route = _ROUTE.match(path)
            if route is None:
                return 404, {"error": f"no route {path}"}
            channel, rule_id = route.groups()
            held = self.payloads.setdefault(channel, {})
            if rule_id is None:
                return (200, {"payloads": list(held.values())}) if method == "GET" else (405, {"error": "method"})
            if method == "PUT":
                self._received += 1
                held[rule_id] = {**json.loads(body), "id": f"{channel}-{rule_id}", "received_at": self._received}
                return 200, held[rule_id]
            if method == "DELETE":
                return (200, {"deleted": rule_id}) if held.pop(rule_id, None) is not None else (404, {"error": "missing"})
            return 405, {"error": "method"}


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = state.answer(self.command, self.path, self.headers.get("Authorization", ""),
                                          self.rfile.read(length))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not every request
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

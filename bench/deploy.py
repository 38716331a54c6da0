"""HTTP requests of `detect deploy` for many rules, counted by the test suite's Kibana (checked against Kibana's contract)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import DETECT, run

REPO = Path(__file__).resolve().parent.parent
CONTRACT_ENV = "DETECT_KIBANA_OPENAPI"
DEFAULT_CONTRACT = REPO.parent / "shared" / "contracts" / "kibana-detections-api.yaml"
_USER, _PASSWORD = "BENCH_KIBANA_USER", "BENCH_KIBANA_PASSWORD"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body_bytes: int


@dataclass(frozen=True)
class DeployRun:
    seconds: float
    requests: list[Request]

    @property
    def imports(self) -> list[Request]:
        return [request for request in self.requests if request.path.endswith("/_import")]

    @property
    def writes(self) -> int:
        return sum(request.method != "GET" for request in self.requests)


def contract() -> Path | None:
    """Kibana's OpenAPI description: $DETECT_KIBANA_OPENAPI, else the shared copy next to the repository if present."""
    named = os.environ.get(CONTRACT_ENV)
    if named:
        return Path(named)
    return DEFAULT_CONTRACT if DEFAULT_CONTRACT.is_file() else None


@contextmanager
def counting_kibana(spec: Path) -> Iterator[tuple[str, list[Request]]]:
    """The tests' Kibana server on a loopback port, behind a recorder of every request it receives."""
    from werkzeug.serving import make_server

    from tests.support.kibana_server import KibanaServer

    kibana = KibanaServer(str(spec))
    received: list[Request] = []

    def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        received.append(Request(environ["REQUEST_METHOD"], environ["PATH_INFO"], int(environ.get("CONTENT_LENGTH") or 0)))
        response: Iterable[bytes] = kibana(environ, start_response)
        return response

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on stderr
    server = make_server("127.0.0.1", 0, recorded, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        thread.join(timeout=10)


def deploy_runs(corpus: Path, workspace: Path, spec: Path) -> dict[str, DeployRun]:
    """Deploy `corpus` three times to one Kibana space: first (all created), again (no-op), all changed (updated)."""
    rules = workspace / "detections"
    shutil.copytree(corpus, rules)
    env = {**os.environ, _USER: "bench", _PASSWORD: "bench-password"}
    runs: dict[str, DeployRun] = {}
    with counting_kibana(spec) as (url, received):
        (workspace / "detect.toml").write_text(f'[environments.bench]\n[environments.bench.kibana]\nurl = "{url}"\n'
                                               f'username_env = "{_USER}"\npassword_env = "{_PASSWORD}"\n')
        for label in ("create", "unchanged", "update"):
            if label == "update":
                _change_every_rule(rules)
            before = len(received)
            result = run([*DETECT, "deploy", "--env", "bench", "--yes"], cwd=workspace, env=env)
            if result.returncode != 0:
                raise RuntimeError(f"detect deploy ({label}) exited {result.returncode}: {(result.stderr or result.stdout)[-500:]}")
            runs[label] = DeployRun(result.seconds, received[before:])
    return runs


def _change_every_rule(rules: Path) -> None:
    for path in sorted(rules.rglob("*.json")):
        document = json.loads(path.read_text("utf-8"))
        document["version"] += 1
        document["description"] += " Revised."
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")

"""Shared fixtures: the tests' own rules, temporary rule folders, the Kibana API contract, real nodes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.distribution import ensure_distribution
from deployer.cluster.node import RunningNode, throwaway_node

REPO = Path(__file__).resolve().parent.parent
# The tests' own rules, a repository layout (detections/, fixtures/): copies of the two Qakbot rules and their
# fixtures. The suite never reads REPO/detections or REPO/fixtures, which hold whatever rules a team keeps.
RULES = REPO / "tests" / "data"
DETECTIONS = RULES / "detections"
FIXTURES = RULES / "fixtures"
DATASOURCES = RULES / "datasources"


def detect(*arguments: str, cwd: Path = RULES) -> subprocess.CompletedProcess[str]:
    """Run the CLI as users do, in its own process, never waiting on a terminal; by default in the tests' rule
    repository (read it only: a test that writes copies it to tmp_path)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "deployer", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=environment)
DSL_RULE = DETECTIONS / "windows_app_layer_protocol_qakbot_namedpipe.json"
EQL_RULE = DETECTIONS / "windows_app_layer_protocol_qakbot_namedpipe_eql.json"
CONTRACT_ENV = "DETECT_KIBANA_OPENAPI"


@pytest.fixture(scope="session", autouse=True)
def _validation_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite keeps its record of valid rules to itself: a user's record is neither read nor written."""
    before = os.environ.get("DETECT_VALIDATION_CACHE")
    os.environ["DETECT_VALIDATION_CACHE"] = str(tmp_path_factory.mktemp("validated"))
    yield
    if before is None:
        os.environ.pop("DETECT_VALIDATION_CACHE", None)
    else:
        os.environ["DETECT_VALIDATION_CACHE"] = before


@pytest.fixture(scope="session", autouse=True)
def _data_sources() -> Iterator[None]:
    """The suite reads its own data sources (tests/data/datasources), never the team's datasources/ folder, wherever
    a test runs detect (in a temporary folder too)."""
    before = os.environ.get("DETECT_DATASOURCES")
    os.environ["DETECT_DATASOURCES"] = str(DATASOURCES)
    yield
    if before is None:
        os.environ.pop("DETECT_DATASOURCES", None)
    else:
        os.environ["DETECT_DATASOURCES"] = before


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside an empty folder, so error lines show short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def dsl_document() -> dict[str, Any]:
    return json.loads(DSL_RULE.read_text("utf-8"))


@pytest.fixture
def eql_document() -> dict[str, Any]:
    return json.loads(EQL_RULE.read_text("utf-8"))


@pytest.fixture
def write_rule(in_tmp: Path) -> Callable[..., Path]:
    """Write a rule document (or raw text) to rules/<name>.json and return the path."""

    def write(document: Any, name: str = "rule") -> Path:
        path = in_tmp / "rules" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        if isinstance(document, (str, bytes)):
            path.write_bytes(document.encode() if isinstance(document, str) else document)
        else:
            path.write_text(json.dumps(document, indent=2), "utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def kibana_contract() -> dict[str, Any]:
    """Kibana's official OpenAPI description of the detections API, from the path in $DETECT_KIBANA_OPENAPI."""
    location = os.environ.get(CONTRACT_ENV)
    if not location or not Path(location).is_file():
        pytest.skip(f"${CONTRACT_ENV} does not name Kibana's detections OpenAPI file ({location!r})")
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(location, encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)
    return spec


def mutated(document: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    change(copied)
    return copied


def _log(message: str) -> None:
    # stderr, so node timings show with `pytest -s` and in the logs of failures
    print(f"[cluster] {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def opensearch_home() -> Path:
    started = time.monotonic()
    home = ensure_distribution("opensearch", progress=_log)
    _log(f"opensearch home ready in {time.monotonic() - started:.1f}s")
    return home


@pytest.fixture(scope="session")
def opensearch_node(opensearch_home: Path) -> Iterator[RunningNode]:
    """One real OpenSearch node for the whole test session, stopped and removed at its end."""
    with throwaway_node("opensearch", home=opensearch_home, progress=_log) as node:
        yield node


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[RunningNode]:
    """One real Elasticsearch node for the whole test session, stopped and removed at its end."""
    with throwaway_node("elasticsearch", progress=_log) as node:
        yield node


@pytest.fixture(scope="session")
def local_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Path]]:
    """A private DETECT_CACHE_DIR in which the session's nodes are recorded as `detect cluster up` nodes, so a
    command that uses "the `detect cluster up` one" (`detect test` without --cluster-url, `cluster status`) runs
    on them instead of starting its own. Call it with the node fixtures to record; it returns the folder."""
    from deployer.cluster.state import clear_state, save_state

    cache = tmp_path_factory.mktemp("local-clusters")
    recorded: set[str] = set()

    def record(*nodes: RunningNode) -> Path:
        for node in nodes:
            save_state(node, cache_dir=cache)
            recorded.add(node.engine)
        return cache

    yield record
    for engine in recorded:  # the records only: the nodes belong to their own fixtures
        clear_state(engine, cache_dir=cache)


@pytest.fixture(scope="session")
def lucene() -> Any:
    """Real Lucene 9.12 (OpenSearch 2.19's) answering regexp and wildcard questions in one JVM."""
    from tests.support.lucene import get_oracle

    return get_oracle()


@pytest.fixture
def kibana(kibana_contract: dict[str, Any]) -> Iterator[Any]:
    """A stateful Kibana detection engine on loopback that validates every request against the official contract."""
    from tests.support.kibana_server import kibana_server

    with kibana_server(os.environ[CONTRACT_ENV]) as server:
        yield server
    assert server.contract_errors == [], server.contract_errors

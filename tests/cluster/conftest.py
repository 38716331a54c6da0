"""HTTP clients on the session's real nodes (the nodes themselves come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from deployer.cluster.node import RunningNode


@pytest.fixture(scope="session")
def os_client(opensearch_node: RunningNode) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=opensearch_node.url, timeout=60.0) as client:
        yield client


@pytest.fixture(scope="session")
def es_client(elasticsearch_node: RunningNode) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=elasticsearch_node.url, timeout=60.0) as client:
        yield client

"""The engines' distributions are fetched once into the cache."""

from __future__ import annotations

import time
from pathlib import Path

from deployer.cluster.distribution import ensure_distribution


def test_second_ensure_downloads_nothing(opensearch_home: Path) -> None:
    said: list[str] = []
    started = time.monotonic()
    assert ensure_distribution("opensearch", progress=said.append) == opensearch_home
    assert said == []
    assert time.monotonic() - started < 2.0

"""Which cluster a proof runs on: the user's (--cluster-url), a running `detect cluster up` node, or a throwaway one."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from deployer.errors import DetectError
from deployer.prove.engines import Connection, ElasticsearchEngine, OpenSearchEngine

ENGINES = ("opensearch", "elasticsearch")
Progress = Callable[[str], None]


def connect(engine: str, connection: Connection) -> OpenSearchEngine | ElasticsearchEngine:
    """A client for `engine` at `connection`; a one-line DetectError when the cluster does not answer."""
    try:
        return OpenSearchEngine(connection) if engine == "opensearch" else ElasticsearchEngine(connection)
    except Exception as error:  # the clients raise many transport types; all mean "cannot use this cluster"
        raise DetectError(f"cannot reach {engine} at {connection.url}: {type(error).__name__}: {_first_line(error)}") from None


@contextlib.contextmanager
def engine_cluster(engine: str, connection: Connection | None, progress: Progress,
                   timings: dict[str, float]) -> Iterator[OpenSearchEngine | ElasticsearchEngine]:
    """Yield a connected engine; a node started here is stopped and removed however the block ends."""
    if connection is not None:
        yield connect(engine, connection)
        return
    from deployer.cluster.errors import ClusterError
    from deployer.cluster.node import throwaway_node
    from deployer.cluster.state import load_state

    running = load_state(engine)
    if running is not None:
        progress(f"{engine}: reusing the local node at {running.url}")
        yield connect(engine, Connection(running.url))
        return
    started = time.monotonic()
    try:
        with throwaway_node(engine, progress=progress) as node:
            timings[f"{engine}_cluster_start"] = round(time.monotonic() - started, 3)
            yield connect(engine, Connection(node.url))
    except ClusterError as error:
        raise DetectError(f"{engine}: {error}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"

"""Which cluster a proof runs on: the user's (--cluster-url), a running `detect cluster up` node, or a throwaway one."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import time
from collections.abc import Iterator

from deployer.errors import DetectError, display_url
from deployer.prove.engines import Connection, ElasticsearchEngine, OpenSearchEngine
from deployer.report.progress import Progress

ENGINES = ("opensearch", "elasticsearch")


class EngineUnavailable(DetectError):
    """An engine that cannot be used at all: unreachable, refusing the connection, or its node would not start.

    One line naming the engine, the URL and the cause in words; a proof stops with it (exit 2) instead of
    failing every rule with the same reason.
    """


def connect(engine: str, connection: Connection) -> OpenSearchEngine | ElasticsearchEngine:
    """A client for `engine` at `connection`; EngineUnavailable (one line) when the cluster cannot be used."""
    try:
        return OpenSearchEngine(connection) if engine == "opensearch" else ElasticsearchEngine(connection)
    except DetectError as error:  # it answered, but not as that engine
        raise EngineUnavailable(str(error)) from None
    except Exception as error:  # the clients raise many transport types (and ValueError for a malformed URL)
        answered = _http_status(error) is not None or _not_the_product(error)
        verb = "cannot use" if answered else "cannot reach"
        raise EngineUnavailable(f"{verb} {engine} at {display_url(connection.url)}: {failure_in_words(error)}") from None


def client_errors() -> tuple[type[Exception], ...]:
    """What the two clients raise for a failed request (connection, TLS, timeout or an error answer)."""
    from elastic_transport import ApiError, TransportError
    from opensearchpy.exceptions import OpenSearchException

    return OpenSearchException, TransportError, ApiError


def failure_in_words(error: BaseException) -> str:
    """What went wrong talking to a cluster, in a few words ("connection refused"), never a client's repr.

    The clients wrap the cause several times (opensearch-py in `.info`, elasticsearch-py in `.errors`, both
    over urllib3's exceptions over the socket's): the innermost recognisable cause says the most.
    """
    if _not_the_product(error):
        return "it answers, but not as Elasticsearch"
    causes = list(_causes(error))
    status = _http_status(error)
    if status is not None:
        return _STATUS_WORDS.get(status, f"HTTP {status}")
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message or 'verify failed'})"
    for kind, words in _CAUSE_WORDS:
        if any(isinstance(cause, kind) for cause in causes):
            return words
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            reason = (cause.reason or "").replace("_", " ").lower()
            return f"TLS handshake failed ({reason})" if reason else "TLS handshake failed"
    if any("Timeout" in type(cause).__name__ for cause in causes):
        return "timed out"
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    if isinstance(error, ValueError):
        return "not a valid URL"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(error).__name__).lower()  # ConnectionError -> "connection error"


_CAUSE_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not found"),
    (ConnectionRefusedError, "connection refused"),
    (http.client.RemoteDisconnected, "the server closed the connection without answering"),  # a ConnectionResetError
    (ConnectionResetError, "connection reset by the server"),
    (TimeoutError, "timed out"),
)
_STATUS_WORDS = {401: "HTTP 401: the credentials were refused (DETECT_CLUSTER_USERNAME / DETECT_CLUSTER_PASSWORD or "
                      "DETECT_CLUSTER_API_KEY)",
                 403: "HTTP 403: these credentials may not use the cluster"}


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps, outermost first, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for name in ("__cause__", "__context__", "info", "reason"):
            wrapped = getattr(current, name, None)
            if isinstance(wrapped, BaseException):
                pending.append(wrapped)
        pending += [item for item in getattr(current, "errors", ()) or () if isinstance(item, BaseException)]


def _not_the_product(error: BaseException) -> bool:
    # elasticsearch-py refuses a server that does not say it is Elasticsearch (Kibana's URL, say).
    return any(type(cause).__name__ == "UnsupportedProductError" for cause in _causes(error))


def _http_status(error: BaseException) -> int | None:
    """The HTTP status of an answer the client refused (opensearch-py: status_code; elasticsearch-py: meta.status)."""
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "meta", None), "status", None)
    return status if isinstance(status, int) and status >= 400 else None


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
        raise EngineUnavailable(f"{engine}: {error}") from None

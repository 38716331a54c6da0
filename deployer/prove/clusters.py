"""Which cluster a proof runs on: the user's (--cluster-url), a running `detect cluster up` node, or a throwaway one."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import ssl
import time
from collections.abc import Iterator

from deployer.environments import TargetSettings
from deployer.errors import DetectError, display_url
from deployer.prove.engines import CLUSTER_URL, Engine, open_engine, settings_for_url
from deployer.report.progress import Progress
from deployer.targets.http import RequestFailed


class EngineUnavailable(DetectError):
    """An engine that cannot be used at all: unreachable, refusing the connection, or its node would not start.

    One line naming the engine, the URL and the cause in words; a proof stops with it (exit 2) instead of
    failing every rule with the same reason.
    """


def connect(engine: str, settings: TargetSettings) -> Engine:
    """A client for `engine` at `settings`; EngineUnavailable (one line) when the cluster cannot be used."""
    import httpx

    shown = display_url(settings.url)
    try:
        return open_engine(engine, settings)
    except RequestFailed as error:
        verb = "cannot use" if error.status is not None else "cannot reach"
        words = failure_in_words(error)
        if error.status == 401 and settings.name != CLUSTER_URL:  # an environment's cluster: its own variables
            words = "HTTP 401: the credentials were refused (the environment variables detect.toml names for this cluster)"
        raise EngineUnavailable(f"{verb} {engine} at {shown}: {words}") from None
    except DetectError as error:  # it answered, but not as that engine
        raise EngineUnavailable(str(error)) from None
    except (httpx.InvalidURL, ValueError):
        raise EngineUnavailable(f"cannot reach {engine} at {shown}: not a valid URL") from None


def failure_in_words(error: BaseException) -> str:
    """What went wrong talking to a cluster, in a few words ("connection refused"), never a client's repr.

    The HTTP layer wraps the cause (RequestFailed over httpx's exception over httpcore's over the socket's): the
    innermost recognisable cause says the most.
    """
    import httpx

    status = error.status if isinstance(error, RequestFailed) else None
    if status is not None:
        return _STATUS_WORDS.get(status, f"HTTP {status}")
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message or 'verify failed'})"
    for kind, words in _CAUSE_WORDS:
        if any(isinstance(cause, kind) for cause in causes):
            return words
    if any(isinstance(cause, httpx.RemoteProtocolError) and "without sending a response" in str(cause) for cause in causes):
        return "the server closed the connection without answering"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            reason = (cause.reason or "").replace("_", " ").lower()
            return f"TLS handshake failed ({reason})" if reason else "TLS handshake failed"
    if any(isinstance(cause, httpx.TimeoutException) for cause in causes):
        return "timed out"
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    if any(isinstance(cause, (httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError)) for cause in causes):
        return "not a valid URL"
    innermost = causes[-1] if causes else error
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(innermost).__name__).lower()  # ConnectError -> "connect error"


_CAUSE_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not found"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset by the server"),
    (TimeoutError, "timed out"),  # the HTTP layer's own bound on an attempt is one
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
        for name in ("cause", "__cause__", "__context__"):
            wrapped = getattr(current, name, None)
            if isinstance(wrapped, BaseException):
                pending.append(wrapped)


@contextlib.contextmanager
def engine_cluster(engine: str, settings: TargetSettings | None, progress: Progress,
                   timings: dict[str, float]) -> Iterator[Engine]:
    """Yield a connected engine: at `settings`, else on the `detect cluster up` node, else on a throwaway node, which
    is stopped and removed however the block ends. `url = "local"` (detect.toml) is the `detect cluster up` node."""
    if settings is not None and settings.url != "local":
        with _closing(connect(engine, settings)) as connected:
            yield connected
        return
    from deployer.cluster.errors import ClusterError
    from deployer.cluster.node import throwaway_node
    from deployer.cluster.state import load_state

    running = load_state(engine)
    if running is not None:
        progress(f"{engine}: reusing the local node at {running.url}")
        local = settings_for_url(running.url) if settings is None else dataclasses.replace(settings, url=running.url)
        with _closing(connect(engine, local)) as connected:
            yield connected
        return
    if settings is not None:
        raise EngineUnavailable(f"{engine}: the environment uses the local node, which is not running: start it with "
                                "`detect cluster up`")
    started = time.monotonic()
    try:
        with throwaway_node(engine, progress=progress) as node:
            timings[f"{engine}_cluster_start"] = round(time.monotonic() - started, 3)
            with _closing(connect(engine, settings_for_url(node.url))) as connected:
                yield connected
    except ClusterError as error:
        raise EngineUnavailable(f"{engine}: {error}") from None


@contextlib.contextmanager
def _closing(engine: Engine) -> Iterator[Engine]:
    try:
        yield engine
    finally:
        engine.close()

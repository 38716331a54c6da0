"""HTTP for deploys: retries with backoff on 429, 5xx and connection failures; every request bounded in wall-clock
time, all of a deploy's requests by one shared deadline; secrets kept out of messages."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import httpx

from deployer.errors import DetectError

if TYPE_CHECKING:
    from deployer.environments import TargetSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# One request (connect, send, every byte of the answer) may take this long before it counts as failed.
REQUEST_TIMEOUT = 30.0
# How much of a server's reason a message quotes; cut only after the secrets are masked.
REASON_CHARS = 300
MASK = "***"
# `detect deploy --verbose` shows these records; every one is scrubbed of the secrets before it is made.
log = logging.getLogger("detect.http")
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class RequestFailed(DetectError):
    """A request failed for good; `status` is None when no HTTP answer came back. `body` is scrubbed of secrets.

    `cause` is the last attempt's transport error when no answer came back, for saying what went wrong in words
    ("connection refused", as `detect test` does). It is not scrubbed: read its kind, never print its text.
    """

    def __init__(self, message: str, status: int | None = None, body: Any = None, *,
                 cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.cause = cause


@dataclass
class Deadline:
    """A point in time shared by every request of one deploy: once reached, no request is sent or waited for."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = self.clock() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self.clock())

    def reached(self) -> bool:
        return self.remaining() <= 0.0

    def describe(self) -> str:
        return f"the deadline ({self.seconds:g} s, --timeout) was reached"


@dataclass
class RetryPolicy:
    attempts: int = 5
    # A server that let a whole attempt run out is up but stuck: one more try, not four (each costs the full timeout).
    overdue_attempts: int = 2
    first_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_delay)
        return float(min(self.first_delay * 2 ** (attempt - 1), self.max_delay) * (0.5 + random.random() / 2))


class _Overdue(TimeoutError):
    """An attempt that did not complete within its time (a TimeoutError, so a cause read in words is "timed out")."""


def secret_forms(secret: str) -> set[str]:
    """Every spelling of a secret a server may echo back: raw, URL-encoded, JSON-escaped; for an Elastic API key
    (base64 of `id:api_key`) also its decoded id and key."""
    if not secret:
        return set()
    encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/")}
    encoded |= {re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), form) for form in encoded}
    forms = {secret, *encoded, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    try:
        decoded = base64.b64decode(secret, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        decoded = ""
    if ":" in decoded:
        for part in decoded.split(":", 1):
            if part:
                forms |= secret_forms(part)
    return {form for form in forms if form}


class JsonApi:
    """A small JSON-over-HTTP client; every failure message is scrubbed of the configured secrets.

    Each attempt is bounded by `timeout` seconds of wall-clock time however slowly the server sends (httpx's own
    timeouts bound each read, so a server dripping one byte at a time would never trip them), and all attempts by
    `deadline` when one is given.
    """

    def __init__(self, base_url: str, *, headers: dict[str, str], secrets: Iterable[str] = (), verify: bool | str = True,
                 cert: tuple[str, str] | None = None, timeout: float = REQUEST_TIMEOUT, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, deadline: Deadline | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        forms: set[str] = set()
        for secret in secrets:
            forms |= secret_forms(secret)
        # Longest first, so that a token is masked whole before a secret inside it is.
        self.secrets = tuple(sorted(forms, key=len, reverse=True))
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.deadline = deadline
        self.requests_sent = 0
        self.client = httpx.Client(base_url=self.base_url, headers=headers, verify=verify, cert=cert, timeout=timeout,
                                   transport=transport)

    def close(self) -> None:
        self.client.close()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self._scrub_value(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub(str(key)): self._scrub_value(item) for key, item in value.items()}
        return value

    def _log(self, message: str) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(self.scrub(message))

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200,), retry: RetryPolicy | None = None,
                timeout: float | None = None, **options: Any) -> httpx.Response:
        """Send with retries; return the response when its status is in `ok`, else raise RequestFailed.

        `retry` and `timeout` replace the client's own for this request only (a first probe that must fail fast)."""
        accepted = set(ok)
        policy = retry or self.retry
        attempt = overdue_attempts = 0
        while True:
            attempt += 1
            budget = self._budget(method, path, self.timeout if timeout is None else timeout)
            self.requests_sent += 1
            if log.isEnabledFor(logging.DEBUG):
                headers = {name: MASK if name.lower() in _SECRET_HEADERS else value for name, value in self.client.headers.items()}
                self._log(f"{method} {self.base_url}{path} params={options.get('params') or {}} headers={headers} "
                          f"(attempt {attempt})")
            try:
                response = self._send(method, path, budget, options)
            except (httpx.TransportError, _Overdue) as error:
                overdue = isinstance(error, (_Overdue, httpx.TimeoutException))
                reason = f"no complete answer within {round(budget, 1):g} s" if overdue else f"{type(error).__name__}: {error}"
                self._log(f"{method} {path}: {reason}")
                self._stop_at_deadline(method, path, reason)
                overdue_attempts += overdue
                if attempt < policy.attempts and overdue_attempts < policy.overdue_attempts:
                    self._pause(policy, policy.delay(attempt, None), method, path, reason)
                    continue
                raise RequestFailed(self._cut(f"{method} {path}: no answer after {attempt} attempts ({reason})"),
                                    cause=error) from None
            self._log(f"{method} {path}: HTTP {response.status_code}")
            if response.status_code in accepted:
                return response
            if response.status_code in RETRY_STATUSES and attempt < policy.attempts:
                self._pause(policy, policy.delay(attempt, response.headers.get("retry-after")), method, path,
                            f"HTTP {response.status_code}")
                continue
            body = self._scrub_value(_body(response))
            if isinstance(body, str):
                body = body[:500]
            raise RequestFailed(self._cut(f"{method} {path}: HTTP {response.status_code}: {_reason(body)}"),
                                response.status_code, body)

    def _cut(self, message: str) -> str:
        """The message masked first, then cut: a cut made before masking could keep most of a secret."""
        masked = self.scrub(message)
        return masked if len(masked) <= REASON_CHARS + 200 else masked[:REASON_CHARS + 200] + "..."

    def _budget(self, method: str, path: str, timeout: float) -> float:
        if self.deadline is None:
            return timeout
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise RequestFailed(f"{method} {path}: {self.deadline.describe()}")
        return min(timeout, remaining)

    def _stop_at_deadline(self, method: str, path: str, reason: str) -> None:
        if self.deadline is not None and self.deadline.reached():
            raise RequestFailed(self._cut(f"{method} {path}: {self.deadline.describe()} ({reason})"))

    def _pause(self, policy: RetryPolicy, delay: float, method: str, path: str, reason: str) -> None:
        """Wait before a retry, unless the deadline comes first: then there is no retry to wait for."""
        if self.deadline is not None and delay >= self.deadline.remaining():
            raise RequestFailed(self._cut(f"{method} {path}: {self.deadline.describe()} ({reason})"))
        policy.sleep(delay)

    def _send(self, method: str, path: str, budget: float, options: dict[str, Any]) -> httpx.Response:
        """One attempt, given up after `budget` seconds whatever the server does.

        The exchange runs in a worker thread that this one waits for at most `budget`: a server can hold a socket
        read open byte by byte (headers included) where no read timeout fires. A worker given up on stops at the
        next byte it reads, or at its own read timeout.
        """
        outcome: list[httpx.Response | Exception] = []
        given_up = threading.Event()

        def exchange() -> None:
            try:
                outcome.append(self._exchange(method, path, budget, options, given_up))
            except Exception as error:  # handed to the waiting thread, which raises it
                outcome.append(error)

        worker = threading.Thread(target=exchange, name=f"detect-http {method} {path}", daemon=True)
        worker.start()
        worker.join(budget)
        if not outcome:
            given_up.set()
            raise _Overdue()
        result = outcome[0]
        if isinstance(result, Exception):
            raise result
        return result

    def _exchange(self, method: str, path: str, budget: float, options: dict[str, Any],
                  given_up: threading.Event) -> httpx.Response:
        # httpx's own timeouts a little later than the waiting thread's bound, which is the one that decides.
        request = self.client.build_request(method, path, timeout=budget + 1.0, **options)
        response = self.client.send(request, stream=True)
        if response.is_stream_consumed:  # a transport that answered in full at once (httpx.MockTransport)
            return response
        raw: list[bytes] = []
        try:
            for chunk in response.iter_raw():
                if given_up.is_set():
                    break
                raw.append(chunk)
        finally:
            response.close()
        # The raw (still encoded) bytes make a complete response that decodes them once, as httpx would have.
        return httpx.Response(response.status_code, headers=response.headers, content=b"".join(raw), request=request)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "reason", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("reason") or value.get("type")
            if value:
                return _cut_reason(str(value)) or "no details"
    return _cut_reason(str(body)) or "no details"


def _cut_reason(text: str) -> str:
    """One line (a server's reason may hold newlines, and a message is one line), cut to length."""
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS] + "..."


def target_api(settings: TargetSettings, base_url: str, headers: dict[str, str], *, retry: RetryPolicy | None = None,
               transport: httpx.BaseTransport | None = None, timeout: float = REQUEST_TIMEOUT,
               deadline: Deadline | None = None) -> JsonApi:
    """A client for one target: its credentials as the Authorization header, its TLS settings, secrets scrubbed.

    `timeout` bounds each request, `deadline` (shared by every target of a deploy) all of them."""
    credentials, tls = settings.credentials, settings.tls
    headers = dict(headers)
    secrets = list(credentials.secrets())
    if credentials.api_key:
        headers["Authorization"] = f"ApiKey {credentials.api_key}"
    elif credentials.username and credentials.password:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        secrets.append(token)
    cert = (tls.client_cert, tls.client_key) if tls.client_cert and tls.client_key else None
    return JsonApi(base_url, headers=headers, secrets=secrets, verify=tls.ca_cert or tls.verify, cert=cert,
                   retry=retry, transport=transport, timeout=timeout, deadline=deadline)


def comma_batches(names: list[str], *, limit: int = 2048) -> list[str]:
    """Comma-joined names (indices, fields), each batch at most `limit` characters where one name allows: the
    engines refuse request lines over 4 KiB, and a URL path or query holding many names gets there fast."""
    batches: list[list[str]] = [[]]
    for name in names:
        if batches[-1] and len(",".join([*batches[-1], name])) > limit:
            batches.append([])
        batches[-1].append(name)
    return [",".join(batch) for batch in batches if batch]

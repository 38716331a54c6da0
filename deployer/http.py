"""HTTP for deploys: retries with backoff on 429, 5xx and connection failures; secrets kept out of messages."""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from deployer.errors import DetectError

if TYPE_CHECKING:
    from deployer.config import TargetSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# `detect deploy --verbose` shows these records; every one is scrubbed of the secrets before it is made.
log = logging.getLogger("detect.http")
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class RequestFailed(DetectError):
    """A request failed for good; `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_delay)
        return float(min(self.first_delay * 2 ** (attempt - 1), self.max_delay) * (0.5 + random.random() / 2))


class JsonApi:
    """A small JSON-over-HTTP client; every failure message is scrubbed of the configured secrets."""

    def __init__(self, base_url: str, *, headers: dict[str, str], secrets: Iterable[str] = (), verify: bool | str = True,
                 cert: tuple[str, str] | None = None, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.secrets = tuple(secret for secret in secrets if secret)
        self.retry = retry or RetryPolicy()
        self.requests_sent = 0
        self.client = httpx.Client(base_url=self.base_url, headers=headers, verify=verify, cert=cert, timeout=timeout,
                                   transport=transport)

    def close(self) -> None:
        self.client.close()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _log(self, message: str) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(self.scrub(message))

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200,), **options: Any) -> httpx.Response:
        """Send with retries; return the response when its status is in `ok`, else raise RequestFailed."""
        accepted = set(ok)
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            if log.isEnabledFor(logging.DEBUG):
                headers = {name: "***" if name.lower() in _SECRET_HEADERS else value for name, value in self.client.headers.items()}
                self._log(f"{method} {self.base_url}{path} params={options.get('params') or {}} headers={headers} "
                          f"(attempt {attempt})")
            try:
                response = self.client.request(method, path, **options)
            except httpx.TransportError as error:
                self._log(f"{method} {path}: {type(error).__name__}: {error}")
                if attempt < self.retry.attempts:
                    self.retry.sleep(self.retry.delay(attempt, None))
                    continue
                raise RequestFailed(self.scrub(f"{method} {path}: no answer after {attempt} attempts "
                                               f"({type(error).__name__}: {error})")) from None
            self._log(f"{method} {path}: HTTP {response.status_code}")
            if response.status_code in accepted:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self.retry.attempts:
                self.retry.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
                continue
            body = _body(response)
            raise RequestFailed(self.scrub(f"{method} {path}: HTTP {response.status_code}: {_reason(body)}"),
                                response.status_code, body)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "reason", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("reason") or value.get("type")
            if value:
                return str(value)[:300]
    return str(body)[:300] or "no details"


def target_api(settings: TargetSettings, base_url: str, headers: dict[str, str], *, retry: RetryPolicy | None = None,
               transport: httpx.BaseTransport | None = None) -> JsonApi:
    """A client for one target: its credentials as the Authorization header, its TLS settings, secrets scrubbed."""
    credentials, tls = settings.credentials, settings.tls
    headers = dict(headers)
    if credentials.api_key:
        headers["Authorization"] = f"ApiKey {credentials.api_key}"
    elif credentials.username and credentials.password:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    cert = (tls.client_cert, tls.client_key) if tls.client_cert and tls.client_key else None
    return JsonApi(base_url, headers=headers, secrets=(*credentials.secrets(), headers.get("Authorization", "")),
                   verify=tls.ca_cert or tls.verify, cert=cert, retry=retry, transport=transport)

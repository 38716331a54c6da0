"""Reading a server's answers defensively: any shape a server may send ends in one line, never in a crash.

A target reads its answers through these helpers. What they raise, `BadAnswer`, names the target, the request and
what was wrong with the answer; before any write it stops the deploy (exit 2), during apply it fails one rule.
"""

from __future__ import annotations

from typing import Any

import httpx

from deployer.errors import DetectError


class BadAnswer(DetectError):
    """A server answered, but not with what its API promises (HTML login page, invalid JSON, wrong shape)."""


def json_body(response: httpx.Response, where: str) -> Any:
    """The JSON body of a successful answer, or BadAnswer saying what came instead."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        kind = response.headers.get("content-type", "no Content-Type").split(";")[0].strip() or "no Content-Type"
        hint = " (a login page or a proxy in between?)" if "html" in kind else ""
        raise BadAnswer(f"{where}: HTTP {response.status_code} but the answer is not JSON ({kind}, "
                        f"{len(response.content)} bytes){hint}") from None


def need_object(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadAnswer(f"{where}: {what} is {_kind(value)}, expected an object")
    return value


def object_or_empty(container: dict[str, Any], key: str) -> dict[str, Any]:
    """`container[key]` when it is an object, else {}: for optional parts whose absence is an answer too."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def need_list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadAnswer(f"{where}: {what} is {_kind(value)}, expected a list")
    return value


def need_text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadAnswer(f"{where}: {what} is {_kind(value)}, expected a non-empty string")
    return value


def need_count(value: Any, where: str, what: str, *, minimum: int = 0) -> int:
    """A whole number (JSON integer, not a bool or a string like "two") of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadAnswer(f"{where}: {what} is {_kind(value)}, expected a whole number ≥ {minimum}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"

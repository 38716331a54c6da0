"""The engines a proof runs on, behind one small surface (Engine): index fixtures, search, and raw requests for what
only a target's executor knows to ask (Alerting's `_execute`, EQL). Both engines speak the same REST API for all of
it, through the one HTTP layer deploy uses (deployer.targets.http); they differ only in how they say who they are.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from deployer.environments import Credentials, TargetSettings, Tls
from deployer.errors import DetectError, display_url
from deployer.prove.fixtures import FixtureEvent
from deployer.targets.http import JsonApi, RequestFailed, RetryPolicy, comma_batches, target_api

# Far above any fixture file; a search never has to page.
_MAX_HITS = 10_000
# The first request only asks who answers: a cluster that takes longer is as good as unreachable, and a host that
# drops packets must not hold `detect test` for the minute the proof's own requests may take. One attempt: a
# refused connection is said at once, not after a round of retries.
_PROBE_SECONDS = 10
_PROBE = RetryPolicy(attempts=1)
# A proof's requests (a bulk of every fixture, a monitor run) may take a while on a busy cluster.
_REQUEST_SECONDS = 60
# A bulk request at most this large; fixture files are bounded, so a proof usually sends one.
_BULK_BYTES = 8 * 1024 * 1024


class Engine(Protocol):
    """What a proof and the targets' executors use of an engine."""

    name: str     # "opensearch", "elasticsearch": the engine a target's rules run on (TargetKind.engine)
    version: str

    def create_index(self, index: str, mappings: dict[str, Any]) -> None: ...
    def bulk_index(self, documents: Iterable[tuple[str, FixtureEvent]]) -> None: ...
    def refresh(self, indices: list[str]) -> None: ...
    def add_id_aliases(self, aliases: dict[str, tuple[str, list[str]]]) -> None: ...
    def matching_ids(self, index: str, query: dict[str, Any]) -> set[str]: ...
    def search(self, index: str, body: dict[str, Any]) -> Any: ...
    def request(self, method: str, path: str, *, body: Any = None, params: dict[str, str] | None = None) -> Any: ...
    def plugins(self) -> frozenset[str]: ...
    def delete_indices(self, indices: list[str]) -> None: ...
    def close(self) -> None: ...


# The name of the settings `--cluster-url` and a local node are given (an environment's are named after its table).
CLUSTER_URL = "cluster"


def connection_from_environment(url: str, ca_cert: Path | None, insecure: bool) -> TargetSettings:
    """The settings of `--cluster-url`: secrets from the DETECT_CLUSTER_* variables only, never from the command line.

    `--insecure` wins over `--ca-cert`, as it always has: nothing is verified."""
    return TargetSettings(
        name=CLUSTER_URL,
        url=url,
        credentials=Credentials(api_key=os.environ.get("DETECT_CLUSTER_API_KEY"),
                                username=os.environ.get("DETECT_CLUSTER_USERNAME"),
                                password=os.environ.get("DETECT_CLUSTER_PASSWORD")),
        tls=Tls(verify=not insecure, ca_cert=str(ca_cert) if ca_cert and not insecure else None),
    )


def settings_for_url(url: str) -> TargetSettings:
    """A cluster with no credentials and verified TLS: a local node."""
    return TargetSettings(name=CLUSTER_URL, url=url, credentials=Credentials(), tls=Tls())


def index_batches(indices: list[str]) -> list[str]:
    """Index names in batches short enough for a request line."""
    return comma_batches(indices)


class HttpEngine:
    """An engine reached through a JsonApi; every failed request raises RequestFailed (scrubbed of secrets)."""

    def __init__(self, name: str, api: JsonApi, version: str = "?", *, plugins: frozenset[str] | None = None) -> None:
        self.name = name
        self.api = api
        self.version = version
        self._plugins = plugins

    def request(self, method: str, path: str, *, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """The JSON answer of one request (200 only)."""
        options: dict[str, Any] = {"params": params} if params else {}
        if body is not None:
            options["json"] = body
        return _json(self.api.request(method, path, **options), method, path)

    def create_index(self, index: str, mappings: dict[str, Any]) -> None:
        self.api.request("DELETE", f"/{_path(index)}", params={"ignore_unavailable": "true"}, ok=(200, 404))
        self.request("PUT", f"/{_path(index)}", body={"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                                                       "mappings": mappings})

    def bulk_index(self, documents: Iterable[tuple[str, FixtureEvent]]) -> None:
        """Every document through `_bulk` (NDJSON), in as few requests as the size bound allows; DetectError naming
        the first event any of them refused."""
        refused: list[dict[str, Any]] = []
        for batch in _bulk_bodies(documents):
            answer = _json(self.api.request("POST", "/_bulk", content=batch,
                                            headers={"Content-Type": "application/x-ndjson"}), "POST", "/_bulk")
            items = answer.get("items") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise DetectError("POST /_bulk: the engine answered without items")
            refused += [item for item in items if isinstance(item, dict) and "error" in _action(item)]
        if refused:
            first = _action(refused[0])
            raise DetectError(f"{len(refused)} fixture event(s) could not be indexed; first: {first.get('_id')}: "
                              f"{first.get('error')}")

    def refresh(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            self.request("POST", f"/{_path(batch)}/_refresh")

    def add_id_aliases(self, aliases: dict[str, tuple[str, list[str]]]) -> None:
        """alias -> (index, ids): each alias shows only those documents of its index. One cluster-state update for
        all of them, where an index each would cost one per index."""
        actions = [{"add": {"index": index, "alias": alias, "filter": {"ids": {"values": ids}}}}
                   for alias, (index, ids) in aliases.items()]
        if actions:
            self.request("POST", "/_aliases", body={"actions": actions})

    def search(self, index: str, body: dict[str, Any]) -> Any:
        return self.request("POST", f"/{_path(index)}/_search", body=body)

    def matching_ids(self, index: str, query: dict[str, Any]) -> set[str]:
        answer = self.search(index, {"query": query, "size": _MAX_HITS, "_source": False})
        return hit_ids(answer, f"{self.name}: POST /{index}/_search", "hits")

    def plugins(self) -> frozenset[str]:
        """The components of the cluster's plugins (`_cat/plugins`), asked once per engine."""
        if self._plugins is None:
            listed = self.request("GET", "/_cat/plugins", params={"format": "json"})
            self._plugins = frozenset(str(plugin.get("component")) for plugin in listed if isinstance(plugin, dict)) \
                if isinstance(listed, list) else frozenset()
        return self._plugins

    def delete_indices(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            # Without ignore_unavailable one missing name makes Elasticsearch delete none of the batch.
            self.api.request("DELETE", f"/{_path(batch)}", params={"ignore_unavailable": "true"}, ok=(200, 404))

    def close(self) -> None:
        self.api.close()


def open_engine(name: str, settings: TargetSettings) -> Engine:
    """A connected engine: its first request asks who answers. RequestFailed when no answer or an error answer came
    back, DetectError (one line) when something answers but not as that engine."""
    base_url, credentials = _userinfo_as_credentials(settings)
    if name == "opensearch":
        # OpenSearch's security plugin authenticates users; an API key is Elasticsearch's, never sent to it.
        credentials = dataclasses.replace(credentials, api_key=None)
    api = target_api(dataclasses.replace(settings, credentials=credentials), base_url, {"Accept": "application/json"},
                     retry=RetryPolicy(attempts=3), timeout=_REQUEST_SECONDS)
    try:
        version = _VERSION_PROBES[name](api, display_url(settings.url))
    except BaseException:
        api.close()
        raise
    return HttpEngine(name, api, version)


def _opensearch_version(api: JsonApi, shown_url: str) -> str:
    answer = _maybe_json(api.request("GET", "/", retry=_PROBE, timeout=_PROBE_SECONDS))
    try:
        return str(answer["version"]["number"])
    except (KeyError, TypeError):
        raise DetectError(f"cannot use opensearch at {shown_url}: it answers, but not as OpenSearch "
                          "(no version number in GET /)") from None


def _elasticsearch_version(api: JsonApi, shown_url: str) -> str:
    # Not GET /: the integ-test distribution lacks the rest-root module that serves it.
    response = api.request("GET", "/_nodes/_local/_none", retry=_PROBE, timeout=_PROBE_SECONDS)
    # Elasticsearch names itself in every answer since 7.14; OpenSearch, Kibana and proxies do not.
    if response.headers.get("x-elastic-product") != "Elasticsearch":
        raise DetectError(f"cannot use elasticsearch at {shown_url}: it answers, but not as Elasticsearch")
    answer = _maybe_json(response)
    try:
        return str(next(iter(answer["nodes"].values()))["version"])
    except (KeyError, TypeError, StopIteration, AttributeError):
        raise DetectError(f"cannot use elasticsearch at {shown_url}: it answers, but not as Elasticsearch "
                          "(no node version)") from None


_VERSION_PROBES: dict[str, Callable[[JsonApi, str], str]] = {
    "opensearch": _opensearch_version,
    "elasticsearch": _elasticsearch_version,
}


def _userinfo_as_credentials(settings: TargetSettings) -> tuple[str, Credentials]:
    """The URL without `user:password@`, and those as the credentials when the environment gave none: the
    password is then masked like any other secret, and never rides in a logged URL."""
    parts = urlsplit(settings.url)
    if parts.username is None and parts.password is None:
        return settings.url, settings.credentials
    host = parts.netloc.rpartition("@")[2]
    base_url = urlunsplit(parts._replace(netloc=host))
    credentials = settings.credentials
    if not (credentials.username and credentials.password) and not credentials.api_key:
        credentials = Credentials(username=unquote(parts.username or ""), password=unquote(parts.password or ""))
    return base_url, credentials


def _bulk_bodies(documents: Iterable[tuple[str, FixtureEvent]]) -> Iterable[bytes]:
    lines: list[bytes] = []
    size = 0
    for index, event in documents:
        pair = (json.dumps({"index": {"_index": index, "_id": event.event_id}}) + "\n" +
                json.dumps(event.document) + "\n").encode()
        if lines and size + len(pair) > _BULK_BYTES:
            yield b"".join(lines)
            lines, size = [], 0
        lines.append(pair)
        size += len(pair)
    if lines:
        yield b"".join(lines)


def _action(item: dict[str, Any]) -> dict[str, Any]:
    """The result of one bulk action ({"index": {...}})."""
    result = item.get("index", item)
    return result if isinstance(result, dict) else {}


def _path(names: str) -> str:
    return quote(names, safe=",*")


def _maybe_json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: Any, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RequestFailed(f"{method} {path}: HTTP {response.status_code}: the engine's answer is not JSON",
                            response.status_code, response.text[:500]) from None


def hit_ids(answer: Any, where: str, list_key: str) -> set[str]:
    """The `_id`s of a search answer's `hits.<list_key>` ("hits", or "events" for EQL), read defensively: a
    malformed answer is one line (BadAnswer) naming the request, never a KeyError."""
    from deployer.targets.answers import need_list, need_object, need_text

    hits = need_object(need_object(answer, where, "the answer").get("hits"), where, "hits")
    listed = need_list(hits.get(list_key, []), where, f"hits.{list_key}")
    return {need_text(need_object(hit, where, "a hit").get("_id"), where, "a hit's _id") for hit in listed}

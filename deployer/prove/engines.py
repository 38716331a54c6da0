"""The two engines a proof runs on, behind one small surface: index fixtures, search, run a monitor."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deployer.errors import DetectError, display_url
from deployer.prove.fixtures import FixtureEvent
from deployer.prove.monitor_run import ALERTING, ON_ENGINE, MonitorRun, execute_on_engine, execute_with_alerting, one_line
from deployer.targets.http import comma_batches

# Far above any fixture file; a search never has to page.
_MAX_HITS = 10_000
# The first request only asks who answers: a cluster that takes longer is as good as unreachable, and a host that
# drops packets must not hold `detect test` for the minute the proof's own requests may take.
_PROBE_SECONDS = 10


@dataclass(frozen=True)
class Connection:
    """Where a cluster listens and how to authenticate; secrets never appear in repr or messages."""

    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    verify_certs: bool = True
    ca_certs: str | None = None

    def __repr__(self) -> str:
        return f"Connection(url={self.url!r}, auth={'yes' if self.password or self.api_key else 'no'})"


def connection_from_environment(url: str, ca_cert: Path | None, insecure: bool) -> Connection:
    """A connection whose secrets come from the environment only, never from the command line."""
    return Connection(
        url=url,
        username=os.environ.get("DETECT_CLUSTER_USERNAME"),
        password=os.environ.get("DETECT_CLUSTER_PASSWORD"),
        api_key=os.environ.get("DETECT_CLUSTER_API_KEY"),
        verify_certs=not insecure,
        ca_certs=str(ca_cert) if ca_cert else None,
    )


class Engine(Protocol):
    name: str
    version: str

    def create_index(self, index: str, mappings: dict[str, Any]) -> None: ...
    def bulk_index(self, documents: Iterable[tuple[str, FixtureEvent]]) -> None: ...
    def refresh(self, indices: list[str]) -> None: ...
    def matching_ids(self, index: str, query: dict[str, Any]) -> set[str]: ...
    def delete_indices(self, indices: list[str]) -> None: ...


def _bulk_actions(documents: Iterable[tuple[str, FixtureEvent]]) -> Iterable[dict[str, Any]]:
    for index, event in documents:
        yield {"_op_type": "index", "_index": index, "_id": event.event_id, "_source": event.document}


def _bulk_errors(errors: list[Any]) -> str:
    first = errors[0].get("index", errors[0]) if errors else {}
    return f"{len(errors)} fixture event(s) could not be indexed; first: {first.get('_id')}: {first.get('error')}"


class OpenSearchEngine:
    """OpenSearch through opensearch-py, with the Alerting plugin for monitors."""

    name = "opensearch"

    def __init__(self, connection: Connection) -> None:
        from opensearchpy import OpenSearch

        options: dict[str, Any] = {"hosts": [connection.url], "verify_certs": connection.verify_certs, "timeout": 60,
                                   "ssl_show_warn": False}
        if connection.ca_certs:
            options["ca_certs"] = connection.ca_certs
        if connection.username is not None and connection.password is not None:
            options["http_auth"] = (connection.username, connection.password)
        self.client = OpenSearch(**options)
        answer = self.client.info(request_timeout=_PROBE_SECONDS)
        try:
            self.version = str(answer["version"]["number"])
        except (KeyError, TypeError):
            raise DetectError(f"cannot use opensearch at {display_url(connection.url)}: it answers, but not as OpenSearch "
                              "(no version number in GET /)") from None

    def create_index(self, index: str, mappings: dict[str, Any]) -> None:
        self.client.indices.delete(index=index, ignore_unavailable=True)
        self.client.indices.create(index=index, body={"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                                                      "mappings": mappings})

    def bulk_index(self, documents: Iterable[tuple[str, FixtureEvent]]) -> None:
        from opensearchpy.helpers import bulk

        _, errors = bulk(self.client, _bulk_actions(documents), raise_on_error=False, refresh=False)
        if errors:
            raise DetectError(_bulk_errors(list(errors)))

    def refresh(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            self.client.indices.refresh(index=batch)

    def add_id_aliases(self, aliases: dict[str, tuple[str, list[str]]]) -> None:
        """alias -> (index, ids): each alias shows only those documents of its index. One cluster-state update for
        all of them, where an index each would cost one per index."""
        actions = [{"add": {"index": index, "alias": alias, "filter": {"ids": {"values": ids}}}}
                   for alias, (index, ids) in aliases.items()]
        if actions:
            self.client.indices.update_aliases(body={"actions": actions})

    def matching_ids(self, index: str, query: dict[str, Any]) -> set[str]:
        response = self.client.search(index=index, body={"query": query, "size": _MAX_HITS, "_source": False})
        return {hit["_id"] for hit in response["hits"]["hits"]}

    @functools.cached_property
    def has_alerting(self) -> bool:
        plugins = self.client.cat.plugins(format="json")
        return isinstance(plugins, list) and any(
            isinstance(plugin, dict) and plugin.get("component") == "opensearch-alerting" for plugin in plugins)

    def run_monitor(self, monitor: dict[str, Any], period_end_ms: int) -> MonitorRun:
        """Run an unsaved monitor as of `period_end_ms`; nothing is stored on the cluster. An engine error is a
        failed run with a one-line reason."""
        from opensearchpy.exceptions import OpenSearchException

        try:
            alerting = self.has_alerting
        except OpenSearchException as error:
            return MonitorRun("?", False, (), f"could not list the cluster's plugins (_cat/plugins): {_engine_error(error)}")
        try:
            if alerting:
                return execute_with_alerting(self.client, monitor, period_end_ms)
            return execute_on_engine(self.client, monitor, period_end_ms)
        except OpenSearchException as error:
            method, failed = (ALERTING, "Alerting _execute failed") if alerting else (ON_ENGINE, "the monitor's search failed")
            return MonitorRun(method, False, (), f"{failed}: {_engine_error(error)}")

    def delete_indices(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            self.client.indices.delete(index=batch, ignore_unavailable=True)


def _engine_error(error: Exception) -> str:
    """One line for an opensearch-py error: the status and the engine's root cause, not the exception's repr."""
    from opensearchpy.exceptions import TransportError

    if not isinstance(error, TransportError):
        return one_line(f"{type(error).__name__}: {error}")
    if not isinstance(error.status_code, int):
        return one_line(f"no answer: {error.error}", 200)
    info = error.info.get("error") if isinstance(error.info, dict) else None
    if isinstance(info, dict):
        causes = info.get("root_cause")
        cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else info
        return one_line(f"HTTP {error.status_code}: {info.get('type', error.error)}: {cause.get('reason', '')}")
    return one_line(f"HTTP {error.status_code}: {info if info is not None else error.error}")


def index_batches(indices: list[str]) -> list[str]:
    """Index names in batches short enough for a request line."""
    return comma_batches(indices)


class ElasticsearchEngine:
    """Elasticsearch through elasticsearch-py; EQL where the cluster has x-pack EQL."""

    name = "elasticsearch"

    def __init__(self, connection: Connection) -> None:
        from elasticsearch import Elasticsearch

        options: dict[str, Any] = {"hosts": [connection.url], "verify_certs": connection.verify_certs, "request_timeout": 60}
        if connection.ca_certs:
            options["ca_certs"] = connection.ca_certs
        if connection.api_key:
            options["api_key"] = connection.api_key
        elif connection.username is not None and connection.password is not None:
            options["basic_auth"] = (connection.username, connection.password)
        self.client = Elasticsearch(**options)
        # Not GET /: the integ-test distribution lacks the rest-root module that serves it.
        answer = self.client.options(request_timeout=_PROBE_SECONDS).nodes.info(node_id="_local", metric="_none")
        try:
            self.version = str(next(iter(answer["nodes"].values()))["version"])
        except (KeyError, TypeError, StopIteration, AttributeError):
            raise DetectError(f"cannot use elasticsearch at {display_url(connection.url)}: it answers, but not as Elasticsearch "
                              "(no node version)") from None

    def create_index(self, index: str, mappings: dict[str, Any]) -> None:
        self.client.options(ignore_status=404).indices.delete(index=index)
        self.client.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0}, mappings=mappings)

    def bulk_index(self, documents: Iterable[tuple[str, FixtureEvent]]) -> None:
        from elasticsearch.helpers import bulk

        _, errors = bulk(self.client, _bulk_actions(documents), raise_on_error=False, refresh=False)
        if errors:
            raise DetectError(_bulk_errors(list(errors) if isinstance(errors, list) else []))

    def refresh(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            self.client.indices.refresh(index=batch)

    def matching_ids(self, index: str, query: dict[str, Any]) -> set[str]:
        response = self.client.search(index=index, query=query, size=_MAX_HITS, source=False)
        return {hit["_id"] for hit in response["hits"]["hits"]}

    def eql_matching_ids(self, index: str, eql_query: str, filter_query: dict[str, Any]) -> set[str] | None:
        """Ids the EQL query returns, or None when the cluster has no EQL (no x-pack EQL plugin)."""
        from elasticsearch import ApiError

        try:
            response = self.client.eql.search(index=index, query=eql_query, filter=filter_query, size=_MAX_HITS)
        except ApiError as error:
            # A cluster without x-pack EQL has no handler for the endpoint; any other error is real.
            if error.meta.status in (400, 405) and "no handler found" in str(error.body):
                return None
            raise
        return {event["_id"] for event in response["hits"].get("events", [])}

    def delete_indices(self, indices: list[str]) -> None:
        for batch in index_batches(indices):
            # Without ignore_unavailable one missing name makes Elasticsearch delete none of the batch.
            self.client.indices.delete(index=batch, ignore_unavailable=True)

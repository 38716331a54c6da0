"""Real single-node OpenSearch and Elasticsearch: start, query, script, template, stop."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from deployer.cluster.distribution import ELASTICSEARCH_VERSION, OPENSEARCH_VERSION
from deployer.cluster.node import pid_alive, start_node, stop_node
from deployer.cluster.processes import _any_in_group
from deployer.cluster.state import clear_state, load_state, save_state
from tests.cluster.test_processes import processes_using

# Every fixture timestamp is relative to this instant, so the monitor window
# [period_end-70m, period_end-10m) is known without waiting for a scheduler.
PERIOD_END = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PERIOD_END_MS = int(PERIOD_END.timestamp() * 1000)
MINUTE_MS = 60_000

PIPE_REGEX = r"\\pipe\\[0-9a-f]{8}-[0-9a-f]{4}"
# Lucene's case_insensitive folds literals and [abc] sets but not [a-f] ranges
# (both engines, measured), so a case-insensitive rule must spell both cases.
PIPE_REGEX_CI = r"\\pipe\\[0-9a-fA-F]{8}-[0-9a-fA-F]{4}"

DOCS = [
    # id, host, pipe name, minutes before PERIOD_END
    ("in-1", "ws1", r"\pipe\1a2b3c4d-aaaa", 30),
    ("in-2", "ws1", r"\PIPE\DEADBEEF-0000", 20),
    ("in-3", "ws2", r"\pipe\0badf00d-1234", 40),
    ("miss", "ws2", r"\pipe\not-a-guid", 30),
    ("late", "ws3", r"\pipe\cafebabe-9999", 5),  # after the window
    ("early", "ws3", r"\pipe\cafebabe-8888", 90),  # before the window
]


def _doc(host: str, pipe: str, minutes_before: int) -> dict:
    ts = PERIOD_END_MS - minutes_before * MINUTE_MS
    return {
        "@timestamp": datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat(),
        "host": {"name": host},
        "file": {"name": pipe},
    }


def _load_fixture(client: httpx.Client, index: str) -> None:
    client.delete(f"/{index}")
    resp = client.put(
        f"/{index}",
        json={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "properties": {
                    "@timestamp": {"type": "date"},
                    "host": {"properties": {"name": {"type": "keyword"}}},
                    "file": {"properties": {"name": {"type": "keyword"}}},
                }
            },
        },
    )
    assert resp.status_code == 200, resp.text
    lines = []
    for doc_id, host, pipe, minutes in DOCS:
        lines.append(json.dumps({"index": {"_index": index, "_id": doc_id}}))
        lines.append(json.dumps(_doc(host, pipe, minutes)))
    resp = client.post(
        "/_bulk",
        params={"refresh": "true"},
        content="\n".join(lines) + "\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["errors"] is False, resp.text


def _regexp_ids(client: httpx.Client, index: str, regex: str) -> set[str]:
    resp = client.post(
        f"/{index}/_search",
        json={
            "size": 100,
            "query": {"regexp": {"file.name": {"value": regex, "case_insensitive": True}}},
        },
    )
    assert resp.status_code == 200, resp.text
    return {hit["_id"] for hit in resp.json()["hits"]["hits"]}


# -- OpenSearch ---------------------------------------------------------------------


def test_opensearch_version(os_client: httpx.Client) -> None:
    body = os_client.get("/").json()
    assert body["version"]["distribution"] == "opensearch"
    assert body["version"]["number"] == OPENSEARCH_VERSION


def test_opensearch_modules_and_plugins(os_client: httpx.Client) -> None:
    nodes = os_client.get("/_nodes/plugins").json()["nodes"]
    (info,) = nodes.values()
    modules = {m["name"] for m in info["modules"]}
    assert {"lang-painless", "lang-mustache", "transport-netty4"} <= modules
    cat = os_client.get("/_cat/plugins", params={"h": "component"}).text.split()
    assert "opensearch-job-scheduler" in cat


def test_opensearch_regexp_on_keyword(os_client: httpx.Client) -> None:
    _load_fixture(os_client, "detect-test-regexp")
    # \\PIPE\\DEADBEEF (in-2) only matches once the range spells both cases
    assert _regexp_ids(os_client, "detect-test-regexp", PIPE_REGEX) == {"in-1", "in-3", "late", "early"}
    assert _regexp_ids(os_client, "detect-test-regexp", PIPE_REGEX_CI) == {
        "in-1",
        "in-2",
        "in-3",
        "late",
        "early",
    }


def test_opensearch_painless_bucket_selector(os_client: httpx.Client) -> None:
    """Painless runs: a script query plus a bucket_selector, as Alerting's triggers need."""
    index = "detect-test-painless"
    _load_fixture(os_client, index)
    resp = os_client.post(
        f"/{index}/_search",
        json={
            "size": 0,
            "query": {
                "script": {
                    "script": {
                        "lang": "painless",
                        "source": "doc['host.name'].value.startsWith(params.prefix)",
                        "params": {"prefix": "ws"},
                    }
                }
            },
            "aggs": {
                "by_host": {
                    "terms": {"field": "host.name"},
                    "aggs": {
                        "keep": {
                            "bucket_selector": {
                                "buckets_path": {"c": "_count"},
                                "script": {"lang": "painless", "source": "params.c == 2"},
                            }
                        }
                    },
                }
            },
        },
    )
    assert resp.status_code == 200, resp.text
    buckets = {b["key"]: b["doc_count"] for b in resp.json()["aggregations"]["by_host"]["buckets"]}
    assert buckets == {"ws1": 2, "ws2": 2, "ws3": 2}
    resp = os_client.post(
        f"/{index}/_search",
        json={
            "size": 0,
            "aggs": {
                "by_host": {
                    "terms": {"field": "host.name"},
                    "aggs": {
                        "keep": {
                            "bucket_selector": {
                                "buckets_path": {"c": "_count"},
                                "script": {
                                    "lang": "painless",
                                    "source": "params.c > 1 && params.c < 2",
                                },
                            }
                        }
                    },
                }
            },
        },
    )
    assert resp.json()["aggregations"]["by_host"]["buckets"] == []


def test_opensearch_mustache_period_end_window(os_client: httpx.Client) -> None:
    """The exact templating Alerting applies to a monitor's search input."""
    index = "detect-test-mustache"
    _load_fixture(os_client, index)
    source = json.dumps(
        {
            "size": 100,
            "query": {
                "bool": {
                    "filter": [
                        {
                            "range": {
                                "@timestamp": {
                                    "gte": "{{period_end}}||-70m",
                                    "lt": "{{period_end}}||-10m",
                                    "format": "epoch_millis",
                                }
                            }
                        },
                        {"regexp": {"file.name": {"value": PIPE_REGEX_CI, "case_insensitive": True}}},
                    ]
                }
            },
        }
    )
    resp = os_client.post(
        f"/{index}/_search/template",
        json={"source": source, "params": {"period_end": PERIOD_END_MS}},
    )
    assert resp.status_code == 200, resp.text
    assert {h["_id"] for h in resp.json()["hits"]["hits"]} == {"in-1", "in-2", "in-3"}


def _alerting_installed(client: httpx.Client) -> bool:
    return "opensearch-alerting" in client.get("/_cat/plugins", params={"h": "component"}).text.split()


def test_opensearch_alerting_bucket_monitor(os_client: httpx.Client) -> None:
    if not _alerting_installed(os_client):
        pytest.skip(
            "opensearch-alerting is not installed: its zip is not served by Maven Central here; "
            "set DETECT_OPENSEARCH_PLUGIN_ZIPS to an alerting zip to run this"
        )
    index = "detect-test-alerting"
    _load_fixture(os_client, index)
    monitor = {
        "type": "monitor",
        "monitor_type": "bucket_level_monitor",
        "name": "detect:test-pipe:by-host",
        "enabled": False,
        "schedule": {"period": {"interval": 1, "unit": "HOURS"}},
        "inputs": [
            {
                "search": {
                    "indices": [index],
                    "query": {
                        "size": 0,
                        "query": {
                            "bool": {
                                "filter": [
                                    {
                                        "range": {
                                            "@timestamp": {
                                                "gte": "{{period_end}}||-70m",
                                                "lt": "{{period_end}}||-10m",
                                                "format": "epoch_millis",
                                            }
                                        }
                                    },
                                    {"regexp": {"file.name": {"value": PIPE_REGEX_CI, "case_insensitive": True}}},
                                ]
                            }
                        },
                        "aggregations": {"by_group": {"composite": {"sources": [{"host": {"terms": {"field": "host.name"}}}]}}},
                    },
                }
            }
        ],
        "triggers": [
            {
                "bucket_level_trigger": {
                    "id": "per-host",
                    "name": "per host",
                    "severity": "2",
                    "condition": {
                        "buckets_path": {"_count": "_count"},
                        "parent_bucket_path": "by_group",
                        "script": {"source": "params._count > 1", "lang": "painless"},
                    },
                    "actions": [],
                }
            }
        ],
    }
    resp = os_client.post(
        "/_plugins/_alerting/monitors/_execute",
        params={"dryrun": "true", "period_end": f"{PERIOD_END_MS}ms"},
        json=monitor,
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result.get("error") is None, result
    trigger = result["trigger_results"]["per-host"]
    assert trigger.get("error") is None, trigger
    keys = [b["bucket_keys"] for b in trigger["agg_result_buckets"].values()]
    # ws1 has two in-window matches, ws2 one (its other doc fails the regexp), ws3 none
    assert keys == [["ws1"]], trigger


# -- Elasticsearch ------------------------------------------------------------------


def test_elasticsearch_version(es_client: httpx.Client) -> None:
    # The integ-test-zip lacks the rest-root module, so `GET /` is not served.
    nodes = es_client.get("/_nodes/_local").json()["nodes"]
    (info,) = nodes.values()
    assert info["version"] == ELASTICSEARCH_VERSION


def test_elasticsearch_regexp_on_keyword(es_client: httpx.Client) -> None:
    _load_fixture(es_client, "detect-test-regexp")
    # \\PIPE\\DEADBEEF (in-2) only matches once the range spells both cases
    assert _regexp_ids(es_client, "detect-test-regexp", PIPE_REGEX) == {"in-1", "in-3", "late", "early"}
    assert _regexp_ids(es_client, "detect-test-regexp", PIPE_REGEX_CI) == {
        "in-1",
        "in-2",
        "in-3",
        "late",
        "early",
    }


# -- lifecycle -----------------------------------------------------------------------


def test_stop_removes_process_group_and_workdir(opensearch_home: Path, tmp_path: Path) -> None:
    node = start_node("opensearch", opensearch_home, die_with_parent=True)
    try:
        assert pid_alive(node.pid)
        assert node.workdir.is_dir()
        save_state(node, cache_dir=tmp_path)
        assert load_state("opensearch", cache_dir=tmp_path) == node
    finally:
        stop_node(node)
    assert not pid_alive(node.pid)
    assert not _any_in_group(node.pid)
    assert processes_using(node.workdir) == []
    assert not node.workdir.exists()
    # the record outlives the node, but no longer counts as running
    assert load_state("opensearch", cache_dir=tmp_path) is None
    assert load_state("opensearch", cache_dir=tmp_path, check=False) == node
    clear_state("opensearch", cache_dir=tmp_path)
    assert load_state("opensearch", cache_dir=tmp_path, check=False) is None


def test_node_outlives_its_starter_and_stops_from_elsewhere(opensearch_home: Path, tmp_path: Path) -> None:
    """The `detect cluster up` / `down` flow: start in one process, find and stop from another."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from deployer.cluster.node import start_node\n"
        "from deployer.cluster.state import save_state\n"
        "node = start_node('opensearch', Path(sys.argv[1]))\n"
        "save_state(node, cache_dir=Path(sys.argv[2]))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(opensearch_home), str(tmp_path)], cwd=repo, check=True, timeout=240)
    node = load_state("opensearch", cache_dir=tmp_path)
    assert node is not None, "the node died with the process that started it"
    try:
        assert httpx.get(node.url + "/_cluster/health").json()["status"] in ("green", "yellow")
    finally:
        stop_node(node)
    assert not pid_alive(node.pid)
    assert processes_using(node.workdir) == []
    assert not node.workdir.exists()
    assert load_state("opensearch", cache_dir=tmp_path) is None

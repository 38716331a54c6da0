"""`detect cluster up|status|down` on real nodes: a `cluster up` killed with SIGKILL while its node starts leaves a
record, and the next cluster command stops that node and removes its folder; readable lines, or JSON with --format.

Slow: real OpenSearch starts. Each test uses a private cache folder (DETECT_CACHE_DIR), so a node another engineer
keeps running with `detect cluster up` under the shared cache is neither seen nor touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster.distribution import OPENSEARCH_VERSION
from deployer.cluster.node import RunningNode
from deployer.cluster.state import clear_state, save_state
from tests.cluster.test_interrupt import Launched, alive, assert_nothing_left, launched, processes, wait_for_node
from tests.conftest import detect
from tests.report.test_progress import on_terminal

UP = [sys.executable, "-m", "deployer", "cluster", "up", "--engine", "opensearch"]


@pytest.fixture
def cluster_cache(opensearch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder holding only a link to the session's OpenSearch home, used by every detect run of the test."""
    # Not under pytest's tmp_path: the node runs as an unprivileged user that must traverse this folder.
    cache = Path(tempfile.mkdtemp(prefix="detect-cluster-cache-"))
    cache.chmod(0o755)
    (cache / "homes").mkdir(mode=0o755)
    (cache / "homes" / f"opensearch-{OPENSEARCH_VERSION}").symlink_to(opensearch_home)
    monkeypatch.setenv("DETECT_CACHE_DIR", str(cache))
    yield cache
    shutil.rmtree(cache)  # symlinks are removed, never followed


@contextlib.contextmanager
def kill_during_start(cache: Path, stderr: Path) -> Iterator[Launched]:
    """`detect cluster up` started, then SIGKILLed once its node's JVM runs: the node is left running, unhealthy."""
    with launched(UP, cache, stderr) as run:
        wait_for_node(run, serving=False)
        state = cache / "state" / "opensearch.json"
        deadline = time.monotonic() + 30
        while not (state.is_file() and json.loads(state.read_text()).get("pid")) and time.monotonic() < deadline:
            time.sleep(0.05)
        record = json.loads(state.read_text())
        assert record["status"] == "starting" and record["pid"] == run.node_leader, record
        assert Path(record["workdir"]) == run.folder and run.folder.parent == cache / "nodes", record
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(timeout=30)
        # What the cleanup is for: the JVM lives on without its starter, and its folder stays.
        assert any(found.pgid == run.node_leader and alive(found) for found in processes())
        assert run.folder.is_dir()
        yield run


@pytest.mark.parametrize("cleaner", [["cluster", "down", "--engine", "opensearch"], ["cluster", "status"]],
                         ids=["down", "status"])
def test_next_cluster_command_cleans_up_after_a_killed_cluster_up(cleaner: list[str], cluster_cache: Path,
                                                                  tmp_path: Path) -> None:
    with kill_during_start(cluster_cache, tmp_path / "stderr") as run:
        result = detect(*cleaner)
        assert result.returncode == (0 if "down" in cleaner else 1), result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"removed the folder of an orphaned node (its `detect cluster up` was killed): {run.folder}" in result.stdout
        assert_nothing_left(run)
        assert not (cluster_cache / "state" / "opensearch.json").exists()
        assert list((cluster_cache / "nodes").iterdir()) == []


def test_up_status_down_on_a_terminal_and_as_json(cluster_cache: Path, tmp_path: Path) -> None:
    with kill_during_start(cluster_cache, tmp_path / "stderr") as killed:
        code, screen = on_terminal(UP, env={"DETECT_CACHE_DIR": str(cluster_cache)}, timeout=300)
        assert code == 0, screen
        assert f"removed the folder of an orphaned node (its `detect cluster up` was killed): {killed.folder}\r\n" in screen
        assert_nothing_left(killed)  # `up` cleans up before it starts its own node
    try:
        result = detect("cluster", "status", "--format", "json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["running"] is True and report["cleaned"] == []
        opensearch, elasticsearch = report["engines"]
        assert (opensearch["engine"], opensearch["status"], elasticsearch["status"]) == ("opensearch", "running", "stopped")
        url, pid = opensearch["url"], opensearch["pid"]
        assert f"opensearch: running at {url} (pid {pid})\r\n" in screen  # what `up` printed on the terminal
        text = detect("cluster", "status")
        assert (text.returncode, text.stdout) == (0, f"opensearch: running at {url} (pid {pid})\nelasticsearch: not running\n")
        again = detect("cluster", "up", "--format", "json")
        assert json.loads(again.stdout)["engines"][0]["url"] == url
    finally:
        down = detect("cluster", "down")
    assert (down.returncode, down.stdout) == (0, "opensearch: stopped, its folder removed\n"), down.stderr
    assert not any(f"{cluster_cache}/nodes/".encode() in found.cmdline for found in processes() if alive(found))
    assert list((cluster_cache / "nodes").iterdir()) == []
    after = detect("cluster", "status", "--format", "json")
    assert after.returncode == 1
    assert [engine["status"] for engine in json.loads(after.stdout)["engines"]] == ["stopped", "stopped"]


def test_status_without_engine_reports_a_running_elasticsearch(elasticsearch_node: RunningNode, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETECT_CACHE_DIR", str(tmp_path))
    save_state(elasticsearch_node, cache_dir=tmp_path)  # as `detect cluster up --engine elasticsearch` records it
    try:
        result = detect("cluster", "status")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == (f"opensearch: not running\n"
                                 f"elasticsearch: running at {elasticsearch_node.url} (pid {elasticsearch_node.pid})\n")
        report = json.loads(detect("cluster", "status", "--format", "json").stdout)
        assert report["running"] is True
        assert [(engine["engine"], engine["running"]) for engine in report["engines"]] == [("opensearch", False),
                                                                                              ("elasticsearch", True)]
        only = detect("cluster", "status", "--engine", "opensearch")
        assert (only.returncode, only.stdout) == (1, "opensearch: not running\n")
    finally:
        clear_state("elasticsearch", cache_dir=tmp_path)
    assert os.path.isdir(elasticsearch_node.workdir), "status must never stop a running node"


def test_a_cluster_up_at_work_is_reported_starting_and_left_alone(cluster_cache: Path, tmp_path: Path) -> None:
    with launched(UP, cluster_cache, tmp_path / "stderr") as run:
        wait_for_node(run, serving=False)
        status = detect("cluster", "status", "--engine", "opensearch")
        assert (status.returncode, status.stdout) == (1, f"opensearch: starting by detect cluster up (pid {run.process.pid})\n")
        assert run.folder is not None and run.folder.is_dir()
        assert any(found.pgid == run.node_leader and alive(found) for found in processes())
        down = detect("cluster", "down")  # waits for the start to end, then stops the node it started
        assert (down.returncode, down.stdout) == (0, "opensearch: stopped, its folder removed\n"), down.stderr
        assert "waiting for the `detect cluster up --engine opensearch` at work to finish" in down.stderr
        assert run.process.wait(timeout=60) == 0, run.stderr.read_text()
        assert_nothing_left(run)

"""`detect cluster up|status|down`: one local node per engine that outlives a command.

Each of the three first cleans up what a `cluster up` killed mid-start left behind (see deployer.cluster.state):
its node's processes and its work folder under the cache.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.errors import DetectError
from deployer.report.progress import Progress

if TYPE_CHECKING:
    from deployer.cluster.node import RunningNode

STOPPED = "stopped"


@dataclass(frozen=True)
class EngineStatus:
    engine: str
    status: str  # "running", "starting" (another `cluster up` is at work) or STOPPED
    url: str | None = None
    pid: int | None = None  # the node's process group, or for "starting" the `cluster up` process when known

    @property
    def running(self) -> bool:
        return self.status == "running"

    def as_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "status": self.status, "running": self.running, "url": self.url, "pid": self.pid}

    def line(self) -> str:
        if self.running:
            return f"{self.engine}: running at {self.url} (pid {self.pid})"
        if self.status == "starting":
            by = f" by detect cluster up (pid {self.pid})" if self.pid else ""
            return f"{self.engine}: starting{by}"
        return f"{self.engine}: not running"


@dataclass(frozen=True)
class ClusterReport:
    """What one cluster command found or did, for --format text and json."""

    engines: list[EngineStatus]
    cleaned: list[Path] = field(default_factory=list)  # work folders of orphaned nodes removed on the way
    stopped: list[str] = field(default_factory=list)  # engines whose recorded node `down` stopped
    already_running: bool = False  # `up` found the node running

    @property
    def running(self) -> bool:
        return any(status.running for status in self.engines)

    def as_json(self) -> dict[str, Any]:
        return {"running": self.running, "engines": [status.as_json() for status in self.engines],
                "stopped": self.stopped, "cleaned": [str(path) for path in self.cleaned]}

    def lines(self) -> list[str]:
        """One line a person reads per removed orphan and per engine."""
        lines = [f"removed the folder of an orphaned node (its `detect cluster up` was killed): {path}" for path in self.cleaned]
        for status in self.engines:
            if status.engine in self.stopped:
                lines.append(f"{status.engine}: stopped, its folder removed")
            elif self.already_running:
                lines.append(f"{status.engine}: already running at {status.url} (pid {status.pid})")
            else:
                lines.append(status.line())
        return lines


def cluster_up(engine: str, progress: Progress) -> ClusterReport:
    from deployer.cluster.distribution import ensure_distribution
    from deployer.cluster.errors import ClusterError
    from deployer.cluster.node import start_node
    from deployer.cluster.processes import stop_workdir
    from deployer.cluster.state import (
        clean_orphans,
        clear_state,
        load_state,
        mark_spawned,
        mark_starting,
        new_workdir,
        read_record,
        save_state,
    )

    with contextlib.ExitStack() as lock:
        _hold_lock(engine, lock, progress, f"waiting for the other `detect cluster up --engine {engine}` to finish")
        try:
            cleaned = clean_orphans(holding=engine)
            running = load_state(engine)
            if running is not None:
                progress(f"{engine} is already running at {running.url}")
                return ClusterReport([_running(running)], cleaned, already_running=True)
            stale = read_record(engine)
            if stale is not None:  # its processes are there but it does not answer: replace it
                stop_workdir(stale.workdir, stale.pid)
                clear_state(engine)
            home = ensure_distribution(engine, progress=progress)
            # Recorded before the node exists, so that whatever kills us from here on, the next cluster command
            # finds the node and its folder.
            record = mark_starting(engine, new_workdir(engine))

            def spawned(pid: int) -> None:
                mark_spawned(record, pid)

            try:
                node = start_node(engine, home, progress=progress, workdir=record.workdir, on_spawn=spawned)
            except BaseException:
                # start_node has stopped the node; on a failed start it keeps the folder for the log its error
                # names, and the next cluster command removes it.
                clear_state(engine)
                raise
            save_state(node)
            return ClusterReport([_running(node)], cleaned)
        except ClusterError as error:
            raise DetectError(f"{engine}: {error}") from None


def cluster_status(engines: Sequence[str]) -> ClusterReport:
    """Every engine asked for: running (and answering), starting (a `cluster up` is at work) or not running."""
    from deployer.cluster.state import clean_orphans, load_state, read_record, start_in_progress

    cleaned = clean_orphans()
    statuses = []
    for engine in engines:
        if start_in_progress(engine):
            record = read_record(engine)
            statuses.append(EngineStatus(engine, "starting", pid=record.owner if record else None))
            continue
        node = load_state(engine)
        statuses.append(_running(node) if node else EngineStatus(engine, STOPPED))
    return ClusterReport(statuses, cleaned)


def cluster_down(engine: str, progress: Progress) -> ClusterReport:
    """Stop the recorded node (alive or not, its folder is removed), after any `cluster up` still at work."""
    from deployer.cluster.node import stop_node
    from deployer.cluster.state import clean_orphans, clear_state, load_state

    with contextlib.ExitStack() as lock:
        _hold_lock(engine, lock, progress, f"waiting for the `detect cluster up --engine {engine}` at work to finish")
        cleaned = clean_orphans(holding=engine)
        node = load_state(engine, check=False)
        stopped = []
        if node is not None:
            stop_node(node)
            clear_state(engine)
            stopped.append(engine)
    return ClusterReport([EngineStatus(engine, STOPPED)], cleaned, stopped=stopped)


def _running(node: RunningNode) -> EngineStatus:
    return EngineStatus(node.engine, "running", url=node.url, pid=node.pid)


def _hold_lock(engine: str, lock: contextlib.ExitStack, progress: Progress, waiting: str) -> None:
    """Take the engine's lock into `lock`, saying `waiting` if a `cluster up` at work holds it."""
    from deployer.cluster.state import engine_lock

    # Another cluster command checking for orphans holds it for a moment only: no need to say so.
    for _ in range(10):
        if lock.enter_context(engine_lock(engine, wait=False)):
            return
        time.sleep(0.1)
    progress(waiting)
    lock.enter_context(engine_lock(engine, wait=True))

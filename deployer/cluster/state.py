"""Remember a node started by `detect cluster up` so `status` and `down` can find it, and clean up what a killed
`cluster up` left behind.

One JSON record per engine under <cache>/state/, written *before* the node starts (status "starting", the work
folder, then the pid of the node's process group as soon as it runs) and marked "running" once the node is healthy.
The `cluster up` at work holds <cache>/state/<engine>.lock for the whole start; the kernel releases the lock when
that process dies, even by SIGKILL, so a "starting" record whose lock is free is an orphan.  The work folders of
these nodes live under <cache>/nodes/, so a folder there that no running record claims is one too.

A recorded node only counts as running if its pid is alive and its URL still answers: pids get reused, and a node
killed behind our back must not be reported as up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from deployer.cache import cache_root
from deployer.cluster import ENGINES
from deployer.targets.http import JsonApi, RequestFailed, RetryPolicy

from .node import RunningNode, has_processes, pid_alive, stop_workdir

STARTING = "starting"
RUNNING = "running"
# An orphan never became healthy, so nothing in it is worth a long graceful stop.
ORPHAN_GRACE = 10.0


@dataclass(frozen=True)
class NodeRecord:
    """What state/<engine>.json holds."""

    engine: str
    status: str  # STARTING or RUNNING
    workdir: Path
    pid: int | None = None  # the launcher's pid, which is the node's process group; None until it runs
    url: str | None = None  # None until the node answers
    owner: int | None = None  # the `detect cluster up` process that started it


def state_path(engine: str, *, cache_dir: Path | None = None) -> Path:
    return cache_root(cache_dir) / "state" / f"{engine}.json"


def nodes_root(cache_dir: Path | None = None) -> Path:
    """Where `detect cluster up` puts its nodes' work folders."""
    return cache_root(cache_dir) / "nodes"


def new_workdir(engine: str, *, cache_dir: Path | None = None) -> Path:
    """A not yet existing work folder under nodes_root, named like the throwaway nodes' folders."""
    root = nodes_root(cache_dir)
    # World-traversable: the node runs as an unprivileged user when detect runs as root.
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    return root / f"detect-{engine}-{secrets.token_hex(4)}"


def write_record(record: NodeRecord, *, cache_dir: Path | None = None) -> Path:
    path = state_path(record.engine, cache_dir=cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"engine": record.engine, "status": record.status, "url": record.url, "pid": record.pid,
                "workdir": str(record.workdir), "owner": record.owner}
    # Write-then-rename so a concurrent reader never sees half a file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_record(engine: str, *, cache_dir: Path | None = None) -> NodeRecord | None:
    """The record as written, alive or not; None if there is none or it cannot be read."""
    path = state_path(engine, cache_dir=cache_dir)
    try:
        document = json.loads(path.read_text())
        pid, url, owner = document.get("pid"), document.get("url"), document.get("owner")
        return NodeRecord(
            engine=str(document["engine"]),
            # Records written before the status existed were only ever written for running nodes.
            status=str(document.get("status", RUNNING)),
            workdir=Path(document["workdir"]),
            pid=None if pid is None else int(pid),
            url=None if url is None else str(url),
            owner=None if owner is None else int(owner),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_state(node: RunningNode, *, cache_dir: Path | None = None) -> Path:
    """Record a healthy node as running."""
    record = NodeRecord(engine=node.engine, status=RUNNING, workdir=node.workdir, pid=node.pid, url=node.url,
                        owner=os.getpid())
    return write_record(record, cache_dir=cache_dir)


def load_state(engine: str, *, cache_dir: Path | None = None, check: bool = True) -> RunningNode | None:
    """The recorded running node, or None if there is none or (with `check`) it is not alive.

    A node still starting is not returned. A dead record is left in place: `down` still wants its workdir to
    clean up (call with check=False), and clear_state removes it.
    """
    record = read_record(engine, cache_dir=cache_dir)
    if record is None or record.status != RUNNING or record.pid is None or record.url is None:
        return None
    node = RunningNode(engine=record.engine, url=record.url, pid=record.pid, workdir=record.workdir)
    if check and not is_alive(node):
        return None
    return node


def clear_state(engine: str, *, cache_dir: Path | None = None) -> None:
    state_path(engine, cache_dir=cache_dir).unlink(missing_ok=True)


def is_alive(node: RunningNode, *, timeout: float = 2.0) -> bool:
    if not pid_alive(node.pid):
        return False
    # One attempt, through the HTTP layer everything else uses: a node that does not answer at once is not up.
    api = JsonApi(node.url, headers={}, timeout=timeout, retry=RetryPolicy(attempts=1))
    try:
        api.request("GET", "/_cluster/health")
        return True
    except RequestFailed:
        return False
    finally:
        api.close()


@contextlib.contextmanager
def engine_lock(engine: str, *, cache_dir: Path | None = None, wait: bool = True) -> Iterator[bool]:
    """Hold the engine's lock: yields True once held, or False at once when `wait` is off and another holds it."""
    path = cache_root(cache_dir) / "state" / f"{engine}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_in_progress(engine: str, *, cache_dir: Path | None = None) -> bool:
    """True while another live `detect cluster up` holds the engine's lock (it is starting a node)."""
    # Another cluster command looking for orphans holds it for a moment only: ask a few times.
    for _ in range(5):
        with engine_lock(engine, cache_dir=cache_dir, wait=False) as held:
            if held:
                return False
        time.sleep(0.1)
    return True


def mark_starting(engine: str, workdir: Path, *, cache_dir: Path | None = None) -> NodeRecord:
    record = NodeRecord(engine=engine, status=STARTING, workdir=workdir, owner=os.getpid())
    write_record(record, cache_dir=cache_dir)
    return record


def mark_spawned(record: NodeRecord, pid: int, *, cache_dir: Path | None = None) -> NodeRecord:
    spawned = replace(record, pid=pid)
    write_record(spawned, cache_dir=cache_dir)
    return spawned


def clean_orphans(*, cache_dir: Path | None = None, holding: str | None = None) -> list[Path]:
    """Stop and remove what no live `detect cluster up` and no running node owns; the removed work folders.

    An orphan is a "starting" record whose starter is gone (its lock is free) and a "running" record with no
    process left, each with its node's processes and folder; and a folder under nodes_root that no running record
    claims. `holding` names an engine whose lock the caller already holds. Engines whose lock another process
    holds are left alone: their `cluster up` is at work.
    """
    removed: list[Path] = []
    with contextlib.ExitStack() as locks:
        # Every engine we inspect stays locked until we are done, so no `cluster up` starts a node under our feet.
        ours = [engine for engine in ENGINES
                if engine == holding or locks.enter_context(engine_lock(engine, cache_dir=cache_dir, wait=False))]
        claimed: set[Path] = set()
        for engine in ours:
            record = read_record(engine, cache_dir=cache_dir)
            if record is None:
                continue
            if record.status == RUNNING and has_processes(record.workdir):
                claimed.add(record.workdir)
                continue
            stop_workdir(record.workdir, record.pid, grace=ORPHAN_GRACE)
            clear_state(engine, cache_dir=cache_dir)
            removed.append(record.workdir)
        root = nodes_root(cache_dir)
        for workdir in sorted(root.iterdir()) if root.is_dir() else []:
            engine = workdir.name.removeprefix("detect-").rsplit("-", 1)[0]
            if engine in ours and workdir not in claimed and workdir.is_dir():
                stop_workdir(workdir, None, grace=ORPHAN_GRACE)
                removed.append(workdir)
    return removed

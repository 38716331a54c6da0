"""Remember a node started by `detect cluster up` so `status` and `down` can find it.

One JSON file per engine under <cache>/state/.  A recorded node only counts
if its pid is alive and its URL still answers: pids get reused, and a node
killed behind our back must not be reported as up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from .cache import cache_root
from .node import RunningNode, pid_alive


def state_path(engine: str, *, cache_dir: Path | None = None) -> Path:
    return cache_root(cache_dir) / "state" / f"{engine}.json"


def save_state(node: RunningNode, *, cache_dir: Path | None = None) -> Path:
    path = state_path(node.engine, cache_dir=cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"engine": node.engine, "url": node.url, "pid": node.pid, "workdir": str(node.workdir)}
    # Write-then-rename so a concurrent reader never sees half a file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_state(engine: str, *, cache_dir: Path | None = None, check: bool = True) -> RunningNode | None:
    """The recorded node, or None if there is none or (with `check`) it is not alive.

    A dead record is left in place: `down` still wants its workdir to clean up
    (call with check=False), and clear_state removes it.
    """
    path = state_path(engine, cache_dir=cache_dir)
    try:
        record = json.loads(path.read_text())
        node = RunningNode(
            engine=str(record["engine"]),
            url=str(record["url"]),
            pid=int(record["pid"]),
            workdir=Path(record["workdir"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check and not is_alive(node):
        return None
    return node


def clear_state(engine: str, *, cache_dir: Path | None = None) -> None:
    state_path(engine, cache_dir=cache_dir).unlink(missing_ok=True)


def is_alive(node: RunningNode, *, timeout: float = 2.0) -> bool:
    if not pid_alive(node.pid):
        return False
    try:
        return httpx.get(node.url + "/_cluster/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False

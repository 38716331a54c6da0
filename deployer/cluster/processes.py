"""Which processes are a node's, and stopping them.

A node is found by its process group (the launcher's pid, recorded when it started) and by the command lines that
name its work folder, so a node whose starter died before recording anything is found too. Zombies never count as
alive: a container whose pid 1 does not reap can keep them around forever.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import ClusterError

# Popen objects of nodes started by this process, so stopping them reaps them
# (a zombie child would otherwise still look alive to kill(pid, 0)).
_children: dict[int, subprocess.Popen[bytes]] = {}


def track(process: subprocess.Popen[bytes]) -> None:
    """Remember a node this process started: its group is its pid, and stopping it reaps it."""
    _children[process.pid] = process


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    if Path("/proc/self").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        # kill(pid, 0) would also succeed for a zombie; the state field tells.
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def has_processes(workdir: Path) -> bool:
    """True while a live process names `workdir` as its node's folder."""
    return bool(_node_processes(workdir))


def stop_workdir(workdir: Path, pgid: int | None, *, grace: float = 30.0) -> None:
    """Stop every process of the node that runs in `workdir`, then remove the folder.

    That is the recorded process group `pgid` (when its leader still names the
    folder) and any process whose command line names the folder as the node's
    data, log or crash path: a node whose starter was killed before it recorded
    the pid is found that way too.
    """
    groups = _node_groups(workdir)
    if pgid is not None and (pgid in _children or _leader_is_node(pgid, workdir)):
        groups.add(pgid)
    for group in sorted(groups):
        kill_group(group, grace=grace)
    for pid in _node_processes(workdir):
        # A node process outside any group of its own node (never seen; kept for the guarantee).
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process remains in the group."""
    child = _children.get(pgid)
    if child is not None:
        child.poll()  # reap our own leader so it does not count as a zombie member
    if Path("/proc/self/stat").is_file():
        return _any_in_group(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leader_is_node(pid: int, workdir: Path) -> bool:
    if not Path("/proc/self").exists():
        return pid_alive(pid)  # no /proc to check against: trust the record
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"path.data={workdir}/data".encode() in cmdline


def _node_arguments(workdir: Path) -> tuple[bytes, ...]:
    # The launcher gets the data path as a setting; every JVM (Elasticsearch forks a server JVM from its CLI JVM)
    # gets the crash and GC log paths of the folder's jvm.options.
    return (f"-Epath.data={workdir}/data".encode(), f"-XX:ErrorFile={workdir}/logs/".encode(),
            f"-Xlog:gc*:file={workdir}/logs/".encode())


def _processes() -> Iterator[tuple[int, int, bytes]]:
    """(pid, process group, command line) of every live process."""
    if not Path("/proc/self").exists():
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in ("Z", "X"):
            yield int(entry), int(fields[2]), cmdline


def _node_processes(workdir: Path) -> set[int]:
    markers = _node_arguments(workdir)
    return {pid for pid, _group, cmdline in _processes()
            if any(argument.startswith(markers) for argument in cmdline.split(b"\0"))}


def _node_groups(workdir: Path) -> set[int]:
    """Process groups led by a process of the folder's node, or whose leader is gone (nothing else can join them)."""
    node = _node_processes(workdir)
    live = {pid for pid, _group, _cmdline in _processes()}
    return {group for pid, group, _cmdline in _processes() if pid in node and (group in node or group not in live)}


def _any_in_group(pgid: int) -> bool:
    # kill(-pgid, 0) also succeeds for zombies, which a container whose pid 1
    # does not reap can keep around forever; /proc shows the state.
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command field may contain spaces and ')', so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def kill_group(pgid: int, *, grace: float) -> None:
    if not _group_alive(pgid):
        _children.pop(pgid, None)
        return
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            break
        time.sleep(0.2)
    else:
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            raise ClusterError(f"process group {pgid} survived SIGKILL")
    child = _children.pop(pgid, None)
    if child is not None:
        child.poll()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)

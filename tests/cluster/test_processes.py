"""Which processes are a node's: found by the command lines that name its folder, and never a stranger's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from deployer.cluster.node import RunningNode, stop_node
from deployer.cluster.processes import has_processes, pid_alive, stop_workdir


def processes_using(workdir: Path) -> list[int]:
    """Pids of live processes whose command line names `workdir` (-Epath.data=...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(workdir).encode() in cmdline and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def test_stop_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    """A stale record whose pid now belongs to another process must not kill it."""
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        workdir = tmp_path / "gone"
        workdir.mkdir()
        stop_node(RunningNode("opensearch", "http://127.0.0.1:9", sleeper.pid, workdir))
        assert sleeper.poll() is None
        assert not workdir.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_unrecorded_node_is_found_by_its_folder_and_stopped(tmp_path: Path) -> None:
    """A node whose starter died before recording its pid: its command line still names the folder."""
    workdir = tmp_path / "node"
    workdir.mkdir()
    assert not has_processes(workdir)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"-Epath.data={workdir}/data"],
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not has_processes(workdir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert has_processes(workdir)
        stop_workdir(workdir, None, grace=5.0)
        orphan.wait(timeout=10)  # raises if the process still runs
        assert not has_processes(workdir) and not workdir.exists()
    finally:
        orphan.kill()
        orphan.wait()

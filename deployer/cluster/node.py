"""Start and stop one throwaway single-node cluster on loopback.

Each node gets a fresh work folder (config copy, data, logs, tmp) so the cached
home stays read-only and two nodes never share state (launch.py lays it out).
The JVM is started in its own session: its pid is also its process-group id,
and stopping the group takes down every process the launcher spawned
(Elasticsearch runs a CLI JVM that forks the server JVM; processes.py finds
them). readiness.py waits for the node to answer.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from deployer.report.progress import Progress

from .errors import ClusterError
from .launch import check_readable_by, die_with_parent_hook, node_env, node_settings, node_user, prepare_workdir
from .processes import has_processes, kill_group, pid_alive, stop_workdir, track
from .readiness import wait_for_http, wait_for_yellow

# has_processes, pid_alive and stop_workdir live in processes.py; they are named here too, where callers
# (cluster/state.py) have always found them.
__all__ = ["RunningNode", "has_processes", "pid_alive", "start_node", "stop_node", "stop_workdir", "throwaway_node"]

CONSOLE_LOG = "console.log"
_LAUNCHER = {"opensearch": "opensearch", "elasticsearch": "elasticsearch"}


@dataclass(frozen=True)
class RunningNode:
    engine: str
    url: str
    pid: int
    workdir: Path

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"


def start_node(
    engine: str,
    home: Path,
    *,
    progress: Progress | None = None,
    timeout: float = 180.0,
    die_with_parent: bool = False,
    settings: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    on_spawn: Callable[[int], None] | None = None,
) -> RunningNode:
    """Start a node from an assembled home and wait until it is yellow.

    `die_with_parent` makes the kernel kill the launcher if the calling process
    dies (even by SIGKILL); leave it off for nodes meant to outlive the CLI.
    `settings` are extra `-E` node settings, applied after the defaults.
    `workdir` is the work folder to create (it must not exist yet; default: a
    fresh temporary folder), and `on_spawn` is called with the launcher's pid,
    which is also the node's process group, as soon as it runs: a caller that
    may be killed while waiting records it there so the node can be found.
    On a failed start the process group is killed and the work folder is kept
    so the log named in the error can be read.
    """
    say = progress or (lambda _msg: None)
    if engine not in _LAUNCHER:
        raise ClusterError(f"unknown engine {engine!r}")
    launcher = home / "bin" / _LAUNCHER[engine]
    if not launcher.is_file():
        raise ClusterError(f"{launcher} missing; run ensure_distribution({engine!r}) first")
    user = node_user()
    if user is not None:
        check_readable_by(user, home)
    workdir = prepare_workdir(engine, home, user, workdir)
    logs = workdir / "logs"
    console = logs / CONSOLE_LOG
    args = [str(launcher)] + [f"-E{k}={v}" for k, v in {**node_settings(engine, workdir), **(settings or {})}.items()]
    say(f"starting {engine} node in {workdir}")
    started = time.monotonic()
    with open(console, "ab") as out:
        try:
            proc = subprocess.Popen(
                args,
                cwd=workdir,
                env=node_env(engine, workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
                preexec_fn=die_with_parent_hook() if die_with_parent else None,
            )
        except OSError as exc:
            raise ClusterError(f"could not start {launcher}: {exc}") from exc
    track(proc)
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        url = wait_for_http(proc, logs, timeout, engine, console)
        wait_for_yellow(proc, url, started + timeout, engine, console)
    except ClusterError:
        kill_group(proc.pid, grace=5.0)
        raise
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM turned into an exception): leave nothing behind.
        kill_group(proc.pid, grace=5.0)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    say(f"{engine} node up at {url} (pid {proc.pid}) in {time.monotonic() - started:.1f}s")
    return RunningNode(engine=engine, url=url, pid=proc.pid, workdir=workdir)


def stop_node(node: RunningNode, *, grace: float = 30.0) -> None:
    """SIGTERM the node's process group, SIGKILL it after `grace`, remove the work folder.

    A node read back from a state file may be long gone and its pid reused, so
    the group is only signalled if its leader still names the work folder.
    """
    stop_workdir(node.workdir, node.pid, grace=grace)


@contextlib.contextmanager
def throwaway_node(
    engine: str,
    *,
    home: Path | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    timeout: float = 180.0,
    settings: Mapping[str, str] | None = None,
) -> Iterator[RunningNode]:
    """A node for the duration of a `with` block, stopped and removed however it ends."""
    if home is None:
        from .distribution import ensure_distribution

        home = ensure_distribution(engine, cache_dir=cache_dir, progress=progress)
    with _sigterm_as_interrupt():
        node = start_node(engine, home, progress=progress, timeout=timeout, die_with_parent=True, settings=settings)
        try:
            yield node
        finally:
            stop_node(node)


class _Terminated(KeyboardInterrupt):
    """SIGTERM delivered as an exception so `finally` blocks get to clean up."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

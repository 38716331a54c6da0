"""Start and stop one throwaway single-node cluster on loopback.

Each node gets a fresh work folder (config copy, data, logs, tmp) so the cached
home stays read-only and two nodes never share state.  The JVM is started in
its own session: its pid is also its process-group id, and stopping the group
takes down every process the launcher spawned (Elasticsearch runs a CLI JVM
that forks the server JVM).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from deployer.report.progress import Progress

from .errors import ClusterError
from .jdk import java_home_for

HEAP = "512m"
# The engines refuse to run as root; this user owns the work folder.
NODE_USER_ENV = "DETECT_NODE_USER"
DEFAULT_NODE_USER = "nobody"
CONSOLE_LOG = "console.log"

# Settings shared by both engines; testclusters in both code bases use the same.
_COMMON_SETTINGS: dict[str, str] = {
    "discovery.type": "single-node",
    "network.host": "127.0.0.1",
    "http.port": "0",
    "transport.port": "0",
    "node.portsfile": "true",
    # Tiny watermarks: a nearly full CI disk must not flip indices read-only.
    "cluster.routing.allocation.disk.watermark.low": "1b",
    "cluster.routing.allocation.disk.watermark.high": "1b",
    "cluster.routing.allocation.disk.watermark.flood_stage": "1b",
    "action.auto_create_index": "true",
}

_ENGINE_SETTINGS: dict[str, dict[str, str]] = {
    "opensearch": {
        "cluster.name": "detect-throwaway",
    },
    "elasticsearch": {
        "cluster.name": "detect-throwaway",
        # The integ-test-zip ships x-pack security; without this every call needs TLS + auth.
        "xpack.security.enabled": "false",
    },
}

_LAUNCHER = {"opensearch": "opensearch", "elasticsearch": "elasticsearch"}
_ENV_PREFIX = {"opensearch": "OPENSEARCH", "elasticsearch": "ES"}

# Popen objects of nodes started by this process, so stop_node can reap them
# (a zombie child would otherwise still look alive to kill(pid, 0)).
_children: dict[int, subprocess.Popen[bytes]] = {}


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
    user = _node_user()
    if user is not None:
        _check_readable_by(user, home)
    workdir = _prepare_workdir(engine, home, user, workdir)
    logs = workdir / "logs"
    console = logs / CONSOLE_LOG
    args = [str(launcher)] + [f"-E{k}={v}" for k, v in {**_settings(engine, workdir), **(settings or {})}.items()]
    say(f"starting {engine} node in {workdir}")
    started = time.monotonic()
    with open(console, "ab") as out:
        try:
            proc = subprocess.Popen(
                args,
                cwd=workdir,
                env=_node_env(engine, workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
                preexec_fn=_die_with_parent_hook() if die_with_parent else None,
            )
        except OSError as exc:
            raise ClusterError(f"could not start {launcher}: {exc}") from exc
    _children[proc.pid] = proc
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        url = _wait_for_http(proc, logs, timeout, engine, console)
        _wait_for_yellow(proc, url, started + timeout, engine, console)
    except ClusterError:
        _kill_group(proc.pid, grace=5.0)
        raise
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM turned into an exception): leave nothing behind.
        _kill_group(proc.pid, grace=5.0)
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
        _kill_group(group, grace=grace)
    for pid in _node_processes(workdir):
        # A node process outside any group of its own node (never seen; kept for the guarantee).
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)


def has_processes(workdir: Path) -> bool:
    """True while a live process names `workdir` as its node's folder."""
    return bool(_node_processes(workdir))


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


# -- start helpers --------------------------------------------------------------


def _node_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    name = os.environ.get(NODE_USER_ENV, DEFAULT_NODE_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(f"running as root but user {name!r} does not exist; create it or set {NODE_USER_ENV}") from None


def _check_readable_by(user: pwd.struct_passwd, home: Path) -> None:
    """Fail early and clearly instead of with a Java stack trace about lib/."""
    probe = subprocess.run(
        ["test", "-r", str(home / "lib"), "-a", "-x", str(home / "bin")],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    if probe.returncode != 0:
        raise ClusterError(f"user {user.pw_name} cannot read {home}; put the cache in a world-readable place (DETECT_CACHE_DIR)")


def _prepare_workdir(engine: str, home: Path, user: pwd.struct_passwd | None, workdir: Path | None) -> Path:
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix=f"detect-{engine}-"))
    else:
        workdir.mkdir(mode=0o700)
    try:
        shutil.copytree(home / "config", workdir / "config")
        for sub in ("data", "logs", "tmp"):
            (workdir / sub).mkdir()
        _rewrite_jvm_options(workdir)
        if user is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir


def _rewrite_jvm_options(workdir: Path) -> None:
    """Point GC log, heap dumps and crash files into the work folder.

    The stock options use paths relative to the home (the launcher cd's there),
    which the node user cannot write, and a heap dump of a test node is only
    disk churn.
    """
    options = workdir / "config" / "jvm.options"
    kept = [
        line
        for line in options.read_text().splitlines()
        if not any(key in line for key in ("-Xlog:gc", "-Xloggc", "HeapDump", "ErrorFile", "GCLog", "PrintGC", "PrintTenuring"))
    ]
    kept += [
        f"-XX:ErrorFile={workdir}/logs/hs_err_pid%p.log",
        f"-Xlog:gc*:file={workdir}/logs/gc.log:utctime,pid,tags:filecount=2,filesize=8m",
    ]
    options.write_text("\n".join(kept) + "\n")


def _settings(engine: str, workdir: Path) -> dict[str, str]:
    return {
        **_COMMON_SETTINGS,
        **_ENGINE_SETTINGS[engine],
        "path.data": str(workdir / "data"),
        "path.logs": str(workdir / "logs"),
    }


def _node_env(engine: str, workdir: Path) -> dict[str, str]:
    prefix = _ENV_PREFIX[engine]
    java_home = str(java_home_for(engine))
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(
        {
            # The node user has no usable home; the JVM and CLIs look there.
            "HOME": str(workdir),
            "JAVA_HOME": java_home,
            f"{prefix}_JAVA_HOME": java_home,
            f"{prefix}_PATH_CONF": str(workdir / "config"),
            f"{prefix}_TMPDIR": str(workdir / "tmp"),
            # Appended after jvm.options, so these win over the stock 1g.
            f"{prefix}_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
        }
    )
    return env


def _die_with_parent_hook() -> Callable[[], None]:
    """A preexec_fn asking the kernel to SIGKILL the child when we die.

    ctypes is loaded here, in the parent: the child has already switched to the
    node user, which cannot read an interpreter installed under /root.
    """
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigkill)

    return hook


def _wait_for_http(proc: subprocess.Popen[bytes], logs: Path, timeout: float, engine: str, console: Path) -> str:
    ports = logs / "http.ports"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ClusterError(_failure(engine, f"exited with code {proc.returncode} during startup", logs, console))
        if ports.is_file():
            text = ports.read_text().split()
            # Written before being filled on some versions; wait for a line.
            if text:
                return "http://" + text[0]
        time.sleep(0.2)
    raise ClusterError(_failure(engine, f"did not bind HTTP within {timeout:.0f}s", logs, console))


def _wait_for_yellow(proc: subprocess.Popen[bytes], url: str, deadline: float, engine: str, console: Path) -> None:
    last = "no answer"
    with httpx.Client(base_url=url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ClusterError(_failure(engine, f"exited with code {proc.returncode} during startup", console.parent, console))
            try:
                resp = client.get("/_cluster/health", params={"wait_for_status": "yellow", "timeout": "5s"})
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.5)
    raise ClusterError(_failure(engine, f"not yellow before the deadline ({last})", console.parent, console))


def _failure(engine: str, what: str, logs: Path, console: Path) -> str:
    """One line: what went wrong, the node's own last error, and where to read more."""
    hint = ""
    main_log = logs / "detect-throwaway.log"
    for path in (main_log, console):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        errors = [ln.strip() for ln in lines if "ERROR" in ln or "Exception" in ln or "error:" in ln.lower()]
        if errors:
            hint = f": {errors[-1][:240]}"
            break
    log = main_log if main_log.is_file() else console
    return f"{engine} node {what}{hint} (log: {log})"


# -- stop helpers ---------------------------------------------------------------


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


def _kill_group(pgid: int, *, grace: float) -> None:
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

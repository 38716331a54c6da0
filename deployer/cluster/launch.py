"""How a node is laid out before it starts: its own work folder (a copy of the home's config, data, logs, tmp), its
settings, its environment, and the unprivileged user it runs as when detect runs as root."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import ClusterError
from .jdk import java_home_for

HEAP = "512m"
# The engines refuse to run as root; this user owns the work folder.
NODE_USER_ENV = "DETECT_NODE_USER"
DEFAULT_NODE_USER = "nobody"

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

_ENV_PREFIX = {"opensearch": "OPENSEARCH", "elasticsearch": "ES"}


def node_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    name = os.environ.get(NODE_USER_ENV, DEFAULT_NODE_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(f"running as root but user {name!r} does not exist; create it or set {NODE_USER_ENV}") from None


def check_readable_by(user: pwd.struct_passwd, home: Path) -> None:
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


def prepare_workdir(engine: str, home: Path, user: pwd.struct_passwd | None, workdir: Path | None) -> Path:
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


def node_settings(engine: str, workdir: Path) -> dict[str, str]:
    return {
        **_COMMON_SETTINGS,
        **_ENGINE_SETTINGS[engine],
        "path.data": str(workdir / "data"),
        "path.logs": str(workdir / "logs"),
    }


def node_env(engine: str, workdir: Path) -> dict[str, str]:
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


def die_with_parent_hook() -> Callable[[], None]:
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

"""Real nodes, interrupted: Ctrl-C (SIGINT) or SIGTERM leaves no OpenSearch process and no node folder behind.

Slow: each case starts a real OpenSearch node. The node is always a throwaway one of the process under test:
its cache folder is a private one whose `homes/` links to the session's OpenSearch home, so a node another
engineer keeps running with `detect cluster up` (recorded under the shared cache's state/) is neither reused
nor touched. Only processes this test started are ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deployer.cluster.distribution import OPENSEARCH_VERSION
from tests.conftest import DSL_RULE, FIXTURES, REPO

# A node folder is named by the `-Epath.data=<folder>/data` argument of its launcher and JVM.
PATH_DATA = b"-Epath.data="
STARTUP_TIMEOUT = 240.0
EXIT_TIMEOUT = 90.0
# Run as a user would run detect, holding a throwaway node open until it is interrupted.
HOLD_NODE = """
import sys, time
from deployer.cluster.node import throwaway_node
try:
    with throwaway_node("opensearch", progress=lambda line: print(line, file=sys.stderr, flush=True)):
        time.sleep(3600)
except KeyboardInterrupt:
    sys.exit(130)
"""


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    cmdline: bytes


def processes() -> Iterator[Proc]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
        yield Proc(int(entry), int(fields[1]), int(fields[2]), fields[0], cmdline)


def alive(found: Proc) -> bool:
    return found.state not in ("Z", "X")


def node_folder(cmdline: bytes) -> Path:
    argument = next(part for part in cmdline.split(b"\0") if part.startswith(PATH_DATA))
    return Path(os.fsdecode(argument[len(PATH_DATA):])).parent


@pytest.fixture
def private_cache(opensearch_home: Path) -> Iterator[Path]:
    """A cache folder with the session's OpenSearch home and no state/: whoever uses it starts its own node."""
    # Not under pytest's tmp_path: the node runs as an unprivileged user that must traverse this folder.
    cache = Path(tempfile.mkdtemp(prefix="detect-interrupt-cache-"))
    cache.chmod(0o755)
    (cache / "homes").mkdir(mode=0o755)
    (cache / "homes" / f"opensearch-{OPENSEARCH_VERSION}").symlink_to(opensearch_home)
    yield cache
    shutil.rmtree(cache)  # symlinks are removed, never followed


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    stderr: Path
    node_leader: int = 0  # pid (and process group) of the node's launcher, once seen
    folder: Path | None = None  # the node's work folder, once seen


def _default_interrupt() -> None:
    # A suite started in the background by a non-interactive shell (`./.ci/run &`) inherits SIGINT ignored, and
    # Python then never raises KeyboardInterrupt; Ctrl-C at a terminal always arrives with the default action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def launched(arguments: list[str], cache: Path, stderr: Path) -> Iterator[Launched]:
    """Start `arguments` in its own session; however the test ends, nothing it started is left running."""
    environment = {**os.environ, "DETECT_CACHE_DIR": str(cache),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with stderr.open("wb") as errors:
        process = subprocess.Popen(arguments, cwd=REPO, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=errors, start_new_session=True, preexec_fn=_default_interrupt)
    run = Launched(process, stderr)
    try:
        yield run
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if run.folder is not None:
            # Only the node our process started, recognised by its group and folder (pids get reused).
            for left in processes():
                if left.pgid == run.node_leader and bytes(run.folder) in left.cmdline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(left.pid, signal.SIGKILL)
            shutil.rmtree(run.folder, ignore_errors=True)


def wait_for_node(run: Launched, *, serving: bool) -> None:
    """Wait until the process under test has a node: its JVM started (or, with `serving`, answering on HTTP)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert run.process.poll() is None, f"exited early ({run.process.returncode}): {run.stderr.read_text()}"
        if run.folder is None:
            leader = next((found for found in processes() if found.ppid == run.process.pid and PATH_DATA in found.cmdline), None)
            if leader is not None:
                run.node_leader, run.folder = leader.pid, node_folder(leader.cmdline)
        if run.folder is not None:
            jvm_up = any(found.pgid == run.node_leader and b"java" in found.cmdline.split(b"\0")[0] and alive(found)
                         for found in processes())
            if jvm_up and (not serving or "node up at" in run.stderr.read_text()):
                return
        time.sleep(0.2)
    pytest.fail(f"no node within {STARTUP_TIMEOUT:.0f}s: {run.stderr.read_text()}")


def assert_nothing_left(run: Launched) -> None:
    assert run.folder is not None and run.folder.name.startswith("detect-opensearch-"), run.folder
    group = [found.pid for found in processes() if found.pgid == run.node_leader and alive(found)]
    assert group == [], f"node processes left in group {run.node_leader}: {group}"
    named = [found.pid for found in processes() if bytes(run.folder) in found.cmdline and alive(found)]
    assert named == [], f"processes still naming {run.folder}: {named}"
    assert not run.folder.exists(), f"{run.folder} was left behind"


def interrupt(run: Launched, signum: signal.Signals) -> int:
    run.process.send_signal(signum)  # the process under test only, as Ctrl-C or a supervisor's stop would
    try:
        return run.process.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_TIMEOUT:.0f}s after {signum.name}: {run.stderr.read_text()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_detect_test_interrupted_while_its_node_starts_leaves_nothing(signum: signal.Signals, private_cache: Path,
                                                                      tmp_path: Path) -> None:
    arguments = [sys.executable, "-m", "deployer", "test", str(DSL_RULE), "--fixtures", str(FIXTURES)]
    with launched(arguments, private_cache, tmp_path / "stderr") as run:
        wait_for_node(run, serving=False)
        code = interrupt(run, signum)
        errors = run.stderr.read_text()
        assert code == 130, errors
        assert "Traceback" not in errors and "internal error" not in errors, errors
        assert_nothing_left(run)
    assert not (private_cache / "state").exists(), "a throwaway node must not be recorded as the local cluster"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_throwaway_node_interrupted_while_serving_leaves_nothing(signum: signal.Signals, private_cache: Path,
                                                                  tmp_path: Path) -> None:
    with launched([sys.executable, "-c", HOLD_NODE], private_cache, tmp_path / "stderr") as run:
        wait_for_node(run, serving=True)
        code = interrupt(run, signum)
        errors = run.stderr.read_text()
        assert code == 130, errors
        assert "Traceback" not in errors
        assert_nothing_left(run)

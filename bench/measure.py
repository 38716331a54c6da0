"""Run a command in its own process and measure its wall time and peak memory (that child's own rusage)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DETECT = (sys.executable, "-m", "deployer")  # the real CLI, as `detect` runs it, without a shell wrapper
PYTHON = (sys.executable,)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # peak resident set size of the child process
    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
    """Run `argv` to completion; its output goes to files, so a chatty command cannot block on a pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the maximum over every child so far).
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss / 1024, process.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


def median_run(argv: Sequence[str], runs: int, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
    """The run of median wall time among `runs` (one warm-up run first fills the OS file cache); each must exit 0."""
    run(argv, cwd=cwd, env=env)
    results = sorted((run(argv, cwd=cwd, env=env) for _ in range(runs)), key=lambda result: result.seconds)
    failed = [result for result in results if result.returncode != 0]
    if failed:
        raise RuntimeError(f"{' '.join(argv)} exited {failed[0].returncode}: {failed[0].stderr.strip() or failed[0].stdout[-500:]}")
    middle = results[len(results) // 2]
    return Run(statistics.median(result.seconds for result in results), max(result.peak_mib for result in results),
               middle.returncode, middle.stdout, middle.stderr)

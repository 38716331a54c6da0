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
REPO = Path(__file__).resolve().parent.parent


def child_env(env: Mapping[str, str] | None = None, *, tree: Path = REPO) -> dict[str, str]:
    """`env` (default: this process's) with `tree` first on PYTHONPATH: the commands run in temporary folders, where
    `-m deployer` would otherwise import whichever detect is installed (an editable install of another checkout)."""
    chosen = dict(os.environ if env is None else env)
    chosen["PYTHONPATH"] = os.pathsep.join(part for part in (str(tree), chosen.get("PYTHONPATH", "")) if part)
    return chosen


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # peak resident set size of the child process
    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None, tree: Path = REPO) -> Run:
    """Run `argv` to completion with the detect of `tree` (default: this repository's); its output goes to files, so
    a chatty command cannot block on a pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, env=child_env(env, tree=tree), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the maximum over every child so far).
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss / 1024, process.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


# Which of the timed runs a measure reports: their median (default), or the fastest, which on a machine shared with
# other jobs is the run least disturbed by them (`python3 -m bench --fastest`).
_report_fastest = False


def report_fastest(enabled: bool) -> None:
    global _report_fastest
    _report_fastest = enabled


def statistic() -> str:
    """What a timed measure shows, for its label."""
    return "fastest" if _report_fastest else "median"


def timed_run(argv: Sequence[str], runs: int, *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
              tree: Path = REPO) -> Run:
    """The median run (or the fastest: `report_fastest`) of `runs` runs, after one warm-up run that fills the OS
    file cache; each must exit 0. Peak memory is the largest of the runs'."""
    run(argv, cwd=cwd, env=env, tree=tree)
    results = sorted((run(argv, cwd=cwd, env=env, tree=tree) for _ in range(runs)), key=lambda result: result.seconds)
    failed = [result for result in results if result.returncode != 0]
    if failed:
        raise RuntimeError(f"{' '.join(argv)} exited {failed[0].returncode}: {failed[0].stderr.strip() or failed[0].stdout[-500:]}")
    chosen = results[0] if _report_fastest else results[len(results) // 2]
    seconds = chosen.seconds if _report_fastest else statistics.median(result.seconds for result in results)
    return Run(seconds, max(result.peak_mib for result in results), chosen.returncode, chosen.stdout, chosen.stderr)

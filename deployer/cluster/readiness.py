"""Waiting for a starting node: its HTTP port (from the ports file it writes), then a yellow cluster, or a one-line
failure naming the node's own last error and its log."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from .errors import ClusterError


def wait_for_http(proc: subprocess.Popen[bytes], logs: Path, timeout: float, engine: str, console: Path) -> str:
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


def wait_for_yellow(proc: subprocess.Popen[bytes], url: str, deadline: float, engine: str, console: Path) -> None:
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

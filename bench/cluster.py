"""`detect cluster up` from cold, and `detect test` on the warm node for growing numbers of rules."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import write_provable
from bench.measure import DETECT, Run, run


@dataclass(frozen=True)
class ClusterResults:
    cold_start: Run | None  # None: a node was already running (not ours), so it was reused and left running
    proofs: dict[int, Run]  # number of rules -> the `detect test` run


def _running() -> bool:
    return run([*DETECT, "cluster", "status", "--engine", "opensearch"]).returncode == 0


def proof_run(count: int) -> Run:
    """`detect test` of `count` provable rules (each with its fixtures) in a fresh folder; exit 0 = all proven."""
    with tempfile.TemporaryDirectory(prefix="detect-bench-") as folder:
        write_provable(Path(folder), count)
        return run([*DETECT, "test"], cwd=Path(folder))


def cluster_results(counts: tuple[int, ...]) -> ClusterResults:
    """Start OpenSearch unless one runs already (then only use it), prove, and stop only the node started here."""
    cold_start: Run | None = None
    if not _running():
        cold_start = run([*DETECT, "cluster", "up"])
        if cold_start.returncode != 0:
            raise RuntimeError(f"detect cluster up exited {cold_start.returncode}: {cold_start.stderr.strip()[-500:]}")
        if "already running" in cold_start.stdout + cold_start.stderr:
            cold_start = None  # someone else's node came up meanwhile: theirs to stop
    try:
        proof_run(1)  # warm-up: the node's first searches compile and load what later ones reuse
        return ClusterResults(cold_start, {count: proof_run(count) for count in counts})
    finally:
        if cold_start is not None:
            run([*DETECT, "cluster", "down"])

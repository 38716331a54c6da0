"""Before and after, like for like: `detect validate` of the generated corpus by an earlier commit's detect and by this
repository's, run in turn on the same machine, so both see the same load (`python3 -m bench.compare [REV]`).

The earlier detect is that commit's files (`git archive`), in a temporary folder; this one is the working tree."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.corpus import write_corpus, write_datasources
from bench.measure import DETECT, REPO, run

# The commit whose figures bench/README.md records as "After issue 11" (before issues 12 and 13).
BEFORE = "18d6f64"


def extract(revision: str, folder: Path) -> str:
    """The files of `revision` into folder; its full commit id."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{revision}^{{commit}}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return commit


def _valid(tree: Path, workdir: Path, target: str) -> int:
    checked = run([*DETECT, "validate", "--format", "json", target], cwd=workdir, tree=tree,
                  env={**os.environ, "DETECT_VALIDATION_CACHE": "off"})
    return len(json.loads(checked.stdout)["rules"]) if checked.stdout.strip() else 0


def compare(revision: str, count: int, runs: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="detect-bench-compare-"))
    try:
        before = workdir / "before"
        commit = extract(revision, before)
        write_corpus(workdir / "corpus", count)
        write_datasources(workdir)  # today's detect reads the data sources from the repository; the earlier one ignores them
        trees = {f"before ({commit[:7]})": before, "now (working tree)": REPO}
        targets = {f"{count} rules": ("corpus", count), f"{count // 2} DSL rules": ("corpus/dsl", count // 2),
                   f"{count - count // 2} EQL rules": ("corpus/eql", count - count // 2)}
        for label, tree in trees.items():
            valid = _valid(tree, workdir, "corpus")
            if valid != count:
                raise RuntimeError(f"{label}: {valid} of the {count} generated rules are valid")
        seconds: dict[tuple[str, str, str], list[float]] = {}
        for round_ in range(runs + 1):  # the first round warms the OS file cache and is not counted
            for what, (target, _count) in targets.items():
                for mode in ("cold", "warm"):
                    if mode == "warm" and target != "corpus":
                        continue
                    for label, tree in trees.items():
                        cache = "off" if mode == "cold" else str(workdir / f"validated-{tree.name}")
                        result = run([*DETECT, "validate", target], cwd=workdir, tree=tree,
                                     env={**os.environ, "DETECT_VALIDATION_CACHE": cache})
                        if result.returncode != 0:
                            raise RuntimeError(f"{label}: detect validate {target} exited {result.returncode}: {result.stderr[-500:]}")
                        if round_:
                            seconds.setdefault((what, mode, label), []).append(result.seconds)
            print(f"... round {round_} of {runs}", file=sys.stderr, flush=True)
        lines = [f"| `detect validate`, {runs} runs each, in turn | " + " | ".join(trees) + " | now / before |",
                 "|---|---|---|---|"]
        for what, (_target, rules) in targets.items():
            for mode in ("cold", "warm"):
                if (what, mode, next(iter(trees))) not in seconds:
                    continue
                cells, fastest = [], []
                for label in trees:
                    times = seconds[(what, mode, label)]
                    fastest.append(min(times))
                    cells.append(f"fastest {min(times):.2f} s = {min(times) / rules * 1000:.2f} ms per rule "
                                 f"(median {statistics.median(times):.2f} s)")
                lines.append(f"| {what}, {mode} | " + " | ".join(cells) + f" | {fastest[1] / fastest[0]:.2f}x |")
        return "\n".join(lines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.compare", description=__doc__)
    parser.add_argument("revision", nargs="?", default=BEFORE, help=f"the earlier commit (default {BEFORE})")
    parser.add_argument("--rules", type=int, default=2000, help="size of the generated corpus (default 2000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each measure and detect (default 5)")
    options = parser.parse_args(argv)
    print(compare(options.revision, options.rules, options.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

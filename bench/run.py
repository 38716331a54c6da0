"""The benchmarks of issue 6, one command: `python3 -m bench [--skip-cluster]` from the repository root."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.corpus import DSL_TEMPLATE, write_corpus
from bench.measure import DETECT, PYTHON, Run, median_run, run

# The floor: one interpreter that reads and parses every rule file, nothing else.
FLOOR = "import json, pathlib, sys\nfor path in sorted(pathlib.Path(sys.argv[1]).rglob('*.json')):\n    json.loads(path.read_bytes())"
PROOF_COUNTS = (1, 10, 50, 100)
HANDFUL = 5  # requests of a no-op deploy, whatever the number of rules
IMPORT_LIMIT_BYTES = 10_000_000  # Kibana's default xpack.securitySolution.maxRuleImportPayloadBytes


@dataclass(frozen=True)
class Row:
    what: str
    result: str
    target: str = ""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def validation_rows(workdir: Path, count: int, runs: int, bare: Run) -> list[Row]:
    corpus = workdir / "corpus"
    write_corpus(corpus, count)
    checked = run([*DETECT, "validate", "--format", "json", "corpus"], cwd=workdir)
    valid = len(json.loads(checked.stdout)["rules"]) if checked.stdout.strip() else 0
    if checked.returncode != 0 or valid != count:
        raise RuntimeError(f"the generated corpus must be valid: {valid} of {count} rules are; {checked.stdout[-800:]}")
    floor = median_run([*PYTHON, "-c", FLOOR, "corpus"], runs, cwd=workdir)
    # Cold: no record of rules found valid before, every rule checked in full (what a fresh CI checkout pays).
    cold = {**os.environ, "DETECT_VALIDATION_CACHE": "off"}
    every = median_run([*DETECT, "validate", "corpus"], runs, cwd=workdir, env=cold)
    one = median_run([*DETECT, "validate", str(DSL_TEMPLATE)], runs, cwd=workdir, env=cold)
    halves = {language: median_run([*DETECT, "validate", f"corpus/{language}"], runs, cwd=workdir, env=cold)
              for language in ("dsl", "eql")}
    # Warm: the repository unchanged since the last validate (its warm-up run writes the record).
    warm = median_run([*DETECT, "validate", "corpus"], runs, cwd=workdir,
                      env={**os.environ, "DETECT_VALIDATION_CACHE": str(workdir / "validated")})
    per_rule = every.seconds / count
    ratio = every.seconds / floor.seconds
    warm_ratio = warm.seconds / floor.seconds
    rows = [
        Row(f"corpus: {count} generated rules ({count // 2} query DSL, {count - count // 2} EQL)", f"{valid} valid"),
        Row("bare interpreter start (`python -c pass`)", _ms(bare.seconds)),
        Row(f"floor: one python reads and json.loads the {count} files", f"{_ms(floor.seconds)}, {floor.peak_mib:.0f} MiB"),
        Row(f"`detect validate` of the {count} rules, cold (every rule checked)", f"{_ms(every.seconds)} = {ratio:.1f}x the floor",
            f"≤ 3x: {_verdict(ratio <= 3)}"),
        Row("... per rule (total / rules)", f"{per_rule * 1000:.2f} ms", f"< 1 ms: {_verdict(per_rule < 0.001)}"),
        Row("... per rule without start-up ((total - one rule) / rules)", f"{(every.seconds - one.seconds) / count * 1000:.2f} ms"),
        Row("... peak memory (RSS)", f"{every.peak_mib:.0f} MiB", f"< 150 MiB: {_verdict(every.peak_mib < 150)}"),
    ]
    rows += [
        Row(f"`detect validate` of the {count} rules, warm (unchanged since the last run)",
            f"{_ms(warm.seconds)} = {warm_ratio:.1f}x the floor, {warm.seconds / count * 1000:.2f} ms per rule, {warm.peak_mib:.0f} MiB",
            f"≤ 3x: {_verdict(warm_ratio <= 3)}; < 1 ms: {_verdict(warm.seconds / count < 0.001)}"),
    ]
    for language, result in halves.items():
        share = count // 2 if language == "dsl" else count - count // 2
        rows.append(Row(f"... only the {share} {language.upper()} rules", f"{_ms(result.seconds)}, "
                        f"{(result.seconds - one.seconds) / share * 1000:.2f} ms per rule without start-up, {result.peak_mib:.0f} MiB"))
    return rows


def startup_rows(runs: int, bare: Run) -> list[Row]:
    rows = [Row("`python -c pass` (median)", _ms(bare.seconds))]
    commands = {"`detect --help`": [*DETECT, "--help"], "`detect validate` of one rule": [*DETECT, "validate", str(DSL_TEMPLATE)]}
    for label, argv in commands.items():
        result = median_run(argv, runs)
        rows.append(Row(f"{label} (median)", f"{_ms(result.seconds)} = {result.seconds / bare.seconds:.1f}x bare python, "
                        f"{result.peak_mib:.0f} MiB"))
    return rows


def deploy_rows(workdir: Path) -> list[Row]:
    from bench.deploy import contract, deploy_runs

    spec = contract()
    if spec is None:
        return [Row("deploy", "skipped: no Kibana contract ($DETECT_KIBANA_OPENAPI unset, no ../shared/contracts copy)")]
    workspace = workdir / "deploy"
    workspace.mkdir()
    runs = deploy_runs(workdir / "corpus", workspace, spec)
    rows = []
    for label, what in (("create", "first deploy (every rule created)"), ("unchanged", "no-op rerun (every rule unchanged)"),
                        ("update", "every rule changed (version raised)")):
        result = runs[label]
        largest = max((request.body_bytes for request in result.imports), default=0)
        if label == "unchanged":
            target = f"a constant handful (≤ {HANDFUL}): {_verdict(len(result.requests) <= HANDFUL)}"
        else:
            batched = result.writes == len(result.imports) and largest < IMPORT_LIMIT_BYTES
            target = f"only _import writes, each < 10 MB: {_verdict(batched)}"
        rows.append(Row(f"{what}: HTTP requests", f"{len(result.requests)} ({len(result.requests) - result.writes} GET _find, "
                        f"{len(result.imports)} _import, largest body {largest / 2**20:.1f} MiB), {_ms(result.seconds)}", target))
    return rows


def cluster_rows() -> list[Row]:
    from bench.cluster import cluster_results

    results = cluster_results(PROOF_COUNTS)
    rows = [Row("`detect cluster up` (OpenSearch, engine already in the cache)",
                _ms(results.cold_start.seconds) if results.cold_start else "not measured: a node was already running (reused, left up)")]
    proven = {count: result for count, result in results.proofs.items() if result.returncode == 0}
    for count, result in results.proofs.items():
        outcome = (f"{_ms(result.seconds)} = {result.seconds / count * 1000:.0f} ms per rule" if count in proven else
                   f"**failed** (exit {result.returncode}): {(result.stderr.strip() or result.stdout.strip()).splitlines()[-1][:200]}")
        rows.append(Row(f"`detect test` of {count} rule(s), warm node", outcome))
    if len(proven) > 1:
        low, high = min(proven), max(proven)
        marginal = (proven[high].seconds - proven[low].seconds) / (high - low)
        rows.append(Row(f"... marginal cost of one more rule ({low} → {high})", f"{marginal * 1000:.0f} ms"))
    return rows


def table(sections: dict[str, list[Row]]) -> str:
    lines = ["| measure | result | target |", "|---|---|---|"]
    for section, rows in sections.items():
        lines.append(f"| **{section}** | | |")
        lines += [f"| {row.what} | {row.result} | {row.target} |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__)
    parser.add_argument("--rules", type=int, default=2000, help="size of the generated corpus (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure, the median is shown (default 3)")
    parser.add_argument("--skip-cluster", action="store_true", help="skip `detect cluster up` and `detect test` (minutes)")
    options = parser.parse_args(argv)
    print(f"detect benchmarks, {date.today()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPU(s)", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="detect-bench-"))
    # The record of valid rules lives with the bench, never in the user's cache; measures that want none say so.
    os.environ["DETECT_VALIDATION_CACHE"] = str(workdir / "validated")
    sections: dict[str, list[Row]] = {}
    try:
        bare = median_run([*PYTHON, "-c", "pass"], max(options.runs, 7))
        steps: list[tuple[str, Callable[[], list[Row]]]] = [
            ("validation", lambda: validation_rows(workdir, options.rules, options.runs, bare)),
            ("start-up", lambda: startup_rows(max(options.runs, 7), bare)),
            ("deploy planning", lambda: deploy_rows(workdir)),
        ]
        if not options.skip_cluster:
            steps.append(("proof on OpenSearch", cluster_rows))
        for section, step in steps:
            print(f"... {section}", file=sys.stderr, flush=True)
            sections[section] = step()
            print(table({section: sections[section]}), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table(sections))
    return 0

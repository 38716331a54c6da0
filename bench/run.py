"""The benchmarks of issues 6 and 13, one command: `python3 -m bench [--skip-cluster]` from the repository root."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.corpus import DSL_TEMPLATE, write_corpus, write_datasources
from bench.measure import DETECT, PYTHON, Run, report_fastest, run, statistic, timed_run

# The floor: one interpreter that reads and parses every rule file, nothing else.
FLOOR = "import json, pathlib, sys\nfor path in sorted(pathlib.Path(sys.argv[1]).rglob('*.json')):\n    json.loads(path.read_bytes())"
PROOF_COUNTS = (1, 10, 50, 100)
HANDFUL = 5  # requests of a no-op deploy, whatever the number of rules
IMPORT_LIMIT_BYTES = 10_000_000  # Kibana's default xpack.securitySolution.maxRuleImportPayloadBytes
# Cold validation per rule before issue 13 (README.md, "After issue 11": `python3 -m bench --skip-cluster`, 2026-12-01):
# the 2,000 generated rules, and their 1,000 EQL rules alone (3.05 s, start-up included).
BEFORE_MS_PER_RULE = 1.85
BEFORE_EQL_MS_PER_RULE = 3.05


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
    write_datasources(workdir)  # detect runs in workdir: the corpus's repository
    checked = run([*DETECT, "validate", "--format", "json", "corpus"], cwd=workdir)
    valid = len(json.loads(checked.stdout)["rules"]) if checked.stdout.strip() else 0
    if checked.returncode != 0 or valid != count:
        raise RuntimeError(f"the generated corpus must be valid: {valid} of {count} rules are; {checked.stdout[-800:]}")
    floor = timed_run([*PYTHON, "-c", FLOOR, "corpus"], runs, cwd=workdir)
    # Cold: no record of rules found valid before, every rule checked in full (what a fresh CI checkout pays).
    cold = {**os.environ, "DETECT_VALIDATION_CACHE": "off"}
    every = timed_run([*DETECT, "validate", "corpus"], runs, cwd=workdir, env=cold)
    one = timed_run([*DETECT, "validate", str(DSL_TEMPLATE)], runs, cwd=workdir, env=cold)
    halves = {language: timed_run([*DETECT, "validate", f"corpus/{language}"], runs, cwd=workdir, env=cold)
              for language in ("dsl", "eql")}
    # Warm: the repository unchanged since the last validate (its warm-up run writes the record).
    warm = timed_run([*DETECT, "validate", "corpus"], runs, cwd=workdir,
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
    rows = [Row(f"`python -c pass` ({statistic()})", _ms(bare.seconds))]
    commands = {"`detect --help`": [*DETECT, "--help"], "`detect validate` of one rule": [*DETECT, "validate", str(DSL_TEMPLATE)]}
    for label, argv in commands.items():
        result = timed_run(argv, runs)
        rows.append(Row(f"{label} ({statistic()})", f"{_ms(result.seconds)} = {result.seconds / bare.seconds:.1f}x bare python, "
                        f"{result.peak_mib:.0f} MiB"))
    return rows


def deploy_rows(workdir: Path, count: int) -> list[Row]:
    from bench.deploy import contract, deploy_runs

    if not (workdir / "corpus").is_dir():  # the validation section writes it; without that section (--only)
        write_corpus(workdir / "corpus", count)

    spec = contract()
    if spec is None:
        return [Row("deploy", "skipped: no Kibana contract ($DETECT_KIBANA_OPENAPI unset, no ../shared/contracts copy)")]
    workspace = workdir / "deploy"
    workspace.mkdir()
    write_datasources(workspace)
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


def elastic_rows(workdir: Path, count: int, runs: int) -> list[Row]:
    from bench.elastic import SAMPLE, elastic_results, mean_query_chars

    if not SAMPLE.is_file():
        return [Row("Elastic EQL rules", f"skipped: no sample of Elastic's rules at {SAMPLE}")]
    results = elastic_results(workdir, count, runs)
    imported = results.imported
    write_corpus(workdir / "generated", 2000)
    missing = sorted({message.split("'")[1] if "'" in message else message for message in imported.invalid.values()})
    strings, distinct = results.strings
    rows = [
        Row(f"`detect import` of the sample ({SAMPLE.name})", f"{imported.written} EQL rules written, {imported.skipped} skipped"),
        Row("... valid as imported: the templates", f"{len(imported.templates)} of {imported.written}"
            + (f" (the others name fields ECS lacks: {', '.join(missing)})" if missing else "")),
        Row("... their queries", f"{results.variants[0].query_chars:.0f} characters on average (the generated EQL rules: "
            f"{mean_query_chars(workdir / 'generated' / 'eql'):.0f}), {strings} strings of which {distinct} distinct"),
    ]
    for variant in results.variants:
        label = "every string value varied" if variant.distinct_values else "string values repeated"
        per_rule = variant.cold.seconds / count * 1000
        rows += [
            Row(f"`detect validate` of {count} copies, {label}, cold", f"{_ms(variant.cold.seconds)}, {variant.cold.peak_mib:.0f} MiB"),
            Row("... per rule (total / rules)", f"{per_rule:.2f} ms",
                f"≤ {BEFORE_MS_PER_RULE} ms (before, 2,000 generated): {_verdict(per_rule <= BEFORE_MS_PER_RULE)}; "
                f"≤ {BEFORE_EQL_MS_PER_RULE} ms (before, 1,000 generated EQL): {_verdict(per_rule <= BEFORE_EQL_MS_PER_RULE)}"),
            Row("... per rule without start-up ((total - one rule) / rules)",
                f"{(variant.cold.seconds - variant.one.seconds) / count * 1000:.2f} ms (one rule: {_ms(variant.one.seconds)})"),
            Row("... warm (unchanged since the last run)",
                f"{_ms(variant.warm.seconds)}, {variant.warm.seconds / count * 1000:.2f} ms per rule, {variant.warm.peak_mib:.0f} MiB"),
        ]
    seconds = [cost for cost, _value in results.wildcards]
    slowest, slowest_value = results.wildcards[0]
    rows.append(Row(f"Lucene wildcard check of the templates' {len(seconds)} distinct wildcard values, uncached, in one process",
                    f"median {statistics.median(seconds) * 1000:.1f} ms, mean {statistics.mean(seconds) * 1000:.1f} ms, "
                    f"slowest {slowest * 1000:.0f} ms (`{slowest_value}`); "
                    f"{sum(seconds) / len(imported.templates) * 1000:.1f} ms per template rule"))
    profiles = " / ".join(f"{variant.profiled_seconds:.1f} s" for variant in results.variants)
    rows.append(Row(f"where the cold time goes (cProfile, one run each: {profiles} profiled)",
                    "share of the command: values repeated / varied"))
    for index, (what, _share) in enumerate(results.variants[0].shares):
        rows.append(Row(what, " / ".join(f"{variant.shares[index][1]:.0%}" for variant in results.variants)))
    return rows


def table(sections: dict[str, list[Row]]) -> str:
    lines = ["| measure | result | target |", "|---|---|---|"]
    for section, rows in sections.items():
        lines.append(f"| **{section}** | | |")
        lines += [f"| {row.what} | {row.result} | {row.target} |" for row in rows]
    return "\n".join(lines)


# Section title -> its name for --only.
SECTIONS = {"validation": "validation", "start-up": "start-up", "Elastic EQL rules": "elastic-eql", "deploy planning": "deploy",
            "proof on OpenSearch": "proof"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__)
    parser.add_argument("--rules", type=int, default=2000, help="size of the generated corpus (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure, their median is shown (default 3)")
    parser.add_argument("--skip-cluster", action="store_true", help="skip `detect cluster up` and `detect test` (minutes)")
    parser.add_argument("--elastic-eql", type=int, default=1000, metavar="N",
                        help="size of the corpus of copies of Elastic's EQL rules (default 1000; 0 skips the case)")
    parser.add_argument("--only", choices=list(SECTIONS.values()), action="append", help="run only this section (repeatable)")
    parser.add_argument("--fastest", action="store_true",
                        help="show the fastest of the timed runs, not their median (for a machine shared with other jobs)")
    options = parser.parse_args(argv)
    report_fastest(options.fastest)
    print(f"detect benchmarks, {date.today()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPU(s)", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="detect-bench-"))
    # The record of valid rules lives with the bench, never in the user's cache; measures that want none say so.
    os.environ["DETECT_VALIDATION_CACHE"] = str(workdir / "validated")
    sections: dict[str, list[Row]] = {}
    try:
        bare = timed_run([*PYTHON, "-c", "pass"], max(options.runs, 7))
        steps: list[tuple[str, Callable[[], list[Row]]]] = [
            ("validation", lambda: validation_rows(workdir, options.rules, options.runs, bare)),
            ("start-up", lambda: startup_rows(max(options.runs, 7), bare)),
            # Before deploy planning, which loads the test Kibana into this process: a child's peak memory (ru_maxrss)
            # counts the pages it had from this process when it started.
            ("Elastic EQL rules", lambda: elastic_rows(workdir, options.elastic_eql, options.runs)),
            ("deploy planning", lambda: deploy_rows(workdir, options.rules)),
            ("proof on OpenSearch", cluster_rows),
        ]
        skipped = {"proof on OpenSearch"} if options.skip_cluster else set()
        if options.elastic_eql <= 0:
            skipped.add("Elastic EQL rules")
        wanted = set(options.only or SECTIONS.values())
        steps = [(section, step) for section, step in steps if SECTIONS[section] in wanted and section not in skipped]
        for section, step in steps:
            print(f"... {section}", file=sys.stderr, flush=True)
            sections[section] = step()
            print(table({section: sections[section]}), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table(sections))
    return 0

"""`--format text`: each step's result for people. Lines a tool may parse (problems, diffs) go to stdout unstyled;
verdicts and summaries are styled with rich (imported when something is shown, never at start-up).

Each function renders one result type, under the name report.as_json and report.github give that type too (see
deployer.report.emit); `plan`, `exported` and `scaffolded` are shown by the commands that have no --format.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from deployer.authoring.adopt import ImportReport
    from deployer.cluster.local import ClusterReport
    from deployer.deploy.run import DeployReport, RuleDiff
    from deployer.errors import Problem
    from deployer.prove import ProofReport
    from deployer.rules.ruleset import Validation
    from deployer.targets.base import PlanEntry, TargetKind

# Field changes listed under one plan line; `detect diff` has the rest.
_SHOWN_CHANGES = 8


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # emoji=False: rich reads `:100:` as an emoji code, and file:line: text (export.ndjson:100: ...) is full of them.
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def problem_lines(problems: Iterable[Problem]) -> None:
    """One `file: /pointer: message` line per problem on stdout, unstyled, so that editors and CI can parse them."""
    for problem in problems:
        sys.stdout.write(f"{problem}\n")


def validation(validation: Validation) -> None:
    problem_lines(validation.problems)
    from rich.console import Console

    console = Console(stderr=True, highlight=False, emoji=False)
    if validation.ok:
        console.print(f"[green]✓[/green] {len(validation.rules)} rule(s) valid in {validation.files} file(s)")
    else:
        files = len({problem.file for problem in validation.problems})
        console.print(f"[red]✗[/red] {len(validation.problems)} problem(s) in {files} file(s); "
                      f"{len(validation.rules)} rule(s) valid")


def proof(report: ProofReport) -> None:
    from rich.markup import escape

    from deployer.prove.verdict import proof_summary

    console = _console()
    for proof in report.proofs:
        mark = "[green]✓[/green]" if proof.ok else "[red]✗[/red]"
        head = f"{mark} {escape(proof.rule_file)} on {proof.engine} {proof.engine_version}"
        if proof.error:
            console.print(f"{head}: [red]{escape(proof.error)}[/red]")
            continue
        matches = proof.matches
        if matches is not None:
            console.print(f"{head}: {len(set(matches.actual) & set(matches.expected))}/{len(matches.expected)} expected "
                          f"events alerted, {len(matches.unexpected)} unexpected ({matches.method})")
            folder = Path(proof.rule_file).stem
            for event_id in matches.missing:
                console.print(f"    missing: fixtures/{escape(folder)}/{escape(event_id)} should alert but did not")
            for event_id in matches.unexpected:
                console.print(f"    unexpected: fixtures/{escape(folder)}/{escape(event_id)} alerted but should not")
        for group in proof.groups:
            state = "ok" if group.ok else "[red]WRONG[/red]"
            detail = f" — {escape(group.error)}" if group.error else ""
            console.print(f"    monitor ({group.case}, {group.method}): triggered={group.triggered}, "
                          f"{len(group.actual_groups)} alert group(s), expected {len(group.expected_groups)}: {state}{detail}")
        for note in proof.notes:
            console.print(f"    [yellow]note:[/yellow] {escape(note)}")
    for unproven in report.not_proven:
        console.print(f"[yellow]○[/yellow] {escape(unproven.rule_file)}: {escape(unproven.message)}")
    timings = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in report.seconds.items())
    verdict = proof_summary(report.ok, report.proofs, report.not_proven)
    style = "red" if not report.ok else "yellow" if report.not_proven else "green"
    console.print(f"[{style}]{verdict}[/{style}] ({timings})")


def plan(entries: list[PlanEntry], *, header: str) -> None:
    """The plan on stderr, one line per rule and target, with the first field changes under each."""
    from rich.markup import escape

    console = _console(stderr=True)
    console.print(f"[bold]{escape(header)}[/bold]")
    styles = {"create": "green", "update": "yellow", "adopt": "yellow bold", "delete": "red", "refuse": "red bold",
              "conflict": "red bold", "drift": "red bold", "unchanged": "dim"}
    for entry in entries:
        style = styles[entry.action.value]
        console.print(f"  [{style}]{entry.action.value:9}[/{style}] {entry.target:18} {escape(entry.rule_id)}  {escape(entry.reason)}")
        for change in entry.changes[:_SHOWN_CHANGES]:
            console.print(f"      {escape(change.describe())}")
        if len(entry.changes) > _SHOWN_CHANGES:
            console.print(f"      … {len(entry.changes) - _SHOWN_CHANGES} more (`detect diff` shows them all)")


def deploy(report: DeployReport) -> None:
    from rich.markup import escape

    if not report.outcomes:
        plan(report.entries, header=f"Plan for {report.environment}" + (" (dry run: nothing changed)" if report.dry_run else ""))
    console = _console()
    for outcome in report.outcomes:
        mark = "[green]✓[/green]" if outcome.applied else "[red]✗[/red]"
        console.print(f"{mark} {outcome.entry.target} {escape(outcome.entry.rule_id)}: {outcome.entry.action.value}: "
                      f"{escape(outcome.message)}")
    counts: dict[str, int] = {}
    for entry in report.entries:
        counts[entry.action.value] = counts.get(entry.action.value, 0) + 1
    summary = ", ".join(f"{count} {action}" for action, count in sorted(counts.items())) or "no rules"
    if report.refused:
        console.print(f"[red]not applied:[/red] {summary}; nothing was changed ({len(report.refused)} refused, conflicting "
                      "or drifted rule(s) above)")
    elif report.failed:
        applied = len(report.outcomes) - len(report.failed)
        console.print(f"[red]partial failure:[/red] {applied} change(s) applied, {len(report.failed)} failed; rerun to converge")
    elif report.dry_run:
        console.print(f"dry run: {summary}")
    else:
        console.print(f"[green]deployed[/green] to {escape(report.environment)}: {summary}")


def diffs(diffs: list[RuleDiff]) -> None:
    """Unified diffs on stdout, uncoloured (for patch tools and pagers); a summary on stderr."""
    for item in diffs:
        if item.text:
            sys.stdout.write(f"# {item.entry.target} {item.entry.rule_id}: {item.entry.action.value}: {item.entry.reason}\n")
            sys.stdout.write(item.text if item.text.endswith("\n") else item.text + "\n")
    from rich.console import Console

    differing = sum(1 for item in diffs if item.text)
    Console(stderr=True, highlight=False, emoji=False).print(
        f"{differing} of {len(diffs)} rule-target pair(s) differ" if differing else f"no differences ({len(diffs)} compared)")


def imported(report: ImportReport) -> None:
    """A line per rule file written and per rule skipped, then the counts: written, unchanged, skipped (by reason)
    and problems. Paths, rule ids and reasons are the export's own text: never read as markup or emoji codes."""
    from rich.markup import escape

    problem_lines(report.problems)
    console = _console(stderr=True)
    for path in report.written:
        console.print(f"[green]✓[/green] wrote {escape(str(path))}")
    for skipped in report.skipped:
        console.print(f"[red]✗[/red] {escape(skipped.where)}: {escape(skipped.rule_id)}: skipped: {escape(skipped.reason)}")
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    verdict = "[green]imported:[/green]" if report.ok else "[red]incomplete:[/red]"
    console.print(f"{verdict} {len(report.written)} written, {len(report.unchanged)} unchanged, {len(report.skipped)} "
                  f"skipped, {len(report.problems)} problem(s) in the written files")
    for cause, count in report.skipped_by_cause():
        console.print(f"  {count:>5} skipped: {escape(cause)}")


def cluster(report: ClusterReport) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in report.lines()))


def exported(output: Path, ndjson: str, target: TargetKind) -> None:
    """What `detect export --output FILE` wrote, in the target's words, and whether the target's importer would
    refuse a file that size."""
    payloads = ndjson.count("\n")
    sys.stderr.write(f"wrote {payloads} {target.payload_noun}(s) to {output}\n")
    limit = target.import_limit_bytes
    if limit is not None and len(ndjson.encode("utf-8")) > limit:
        sys.stderr.write(f"warning: {output} is over {target.title}'s default {limit // (1024 * 1024)} MB import limit: "
                         "export fewer rules per file\n")


def scaffolded(rule_path: Path, fixture_folder: Path) -> None:
    """The files `detect new` wrote, one per line on stdout, and what to do next on stderr."""
    sys.stdout.write(f"{rule_path}\n{fixture_folder / 'match.ndjson'}\n{fixture_folder / 'nomatch.ndjson'}\n")
    sys.stderr.write(f"next: edit the query and the fixtures together, then `detect validate {rule_path}` and "
                     f"`detect test {rule_path}`\n")

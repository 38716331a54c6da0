"""Rendering step results for people (rich text) and for machines (--format json)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.errors import Problem
from deployer.report.progress import Progress, as_line, no_progress
from deployer.rules.ruleset import Validation

if TYPE_CHECKING:
    from deployer.authoring.adopt import ImportReport
    from deployer.deploy.run import DeployReport, RuleDiff
    from deployer.prove import ProofReport
    from deployer.prove.verdict import EngineProof
    from deployer.targets.base import PlanEntry


def dump_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def problem_json(problem: Problem) -> dict[str, Any]:
    """`line` appears for problems in line-oriented files (NDJSON fixtures and exports), as a number."""
    document: dict[str, Any] = {"file": problem.file, "pointer": problem.pointer, "message": problem.message}
    if problem.line is not None:
        document["line"] = problem.line
    return document


def validation_json(validation: Validation) -> dict[str, Any]:
    return {
        "ok": validation.ok,
        "files": validation.files,
        "rules": [{"rule_id": rule.rule_id, "version": rule.version, "file": str(rule.path), "language": rule.language}
                  for rule in validation.rules],
        "problems": [problem_json(problem) for problem in validation.problems],
    }


def validation_text(validation: Validation) -> None:
    # Problem lines go to stdout unstyled so that editors and CI can parse `file: /pointer: message`.
    for problem in validation.problems:
        sys.stdout.write(f"{problem}\n")
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    if validation.ok:
        console.print(f"[green]✓[/green] {len(validation.rules)} rule(s) valid in {validation.files} file(s)")
    else:
        files = len({problem.file for problem in validation.problems})
        console.print(f"[red]✗[/red] {len(validation.problems)} problem(s) in {files} file(s); "
                      f"{len(validation.rules)} rule(s) valid")


def progress_printer(*, enabled: bool, verbose: bool = False) -> Progress:
    """Progress lines on stderr, one per step. Silent for --format json (stdout stays one document) and in CI (where
    the `CI` variable is set, as GitHub Actions sets it) unless --verbose asks for them."""
    if not enabled or (in_ci() and not verbose):
        return no_progress
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def line(step: str, done: int | None = None, total: int | None = None) -> None:
        console.print(f"[dim]… {escape(as_line(step, done, total))}[/dim]")

    return line


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def progress_display(*, enabled: bool, verbose: bool = False) -> Iterator[Progress]:
    """Progress for long work: on a terminal a live bar (spinner, step, count, elapsed time) that clears when done;
    elsewhere the plain lines of `progress_printer`."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not enabled or not console.is_terminal or (in_ci() and not verbose):
        yield progress_printer(enabled=enabled, verbose=verbose)
        return
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Count(ProgressColumn):
        """done/total for counted work, and nothing for work of unknown size (rich's own column shows `0/?`)."""

        def render(self, task: Task) -> Text:
            return Text("" if task.total is None else f"{int(task.completed)}/{int(task.total)}", style="progress.download")

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Count(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def advance(step: str, done: int | None = None, total: int | None = None) -> None:
            if total is not None and done is not None:
                bar.update(task, description=escape(step), completed=done - 1, total=total)
            else:
                bar.update(task, description=escape(step), completed=0)
                # update() reads total=None as "keep the total": an uncounted step after a counted one would show
                # the old count. The task itself can be told its size is unknown again (the bar then pulses).
                for shown in bar.tasks:
                    if shown.id == task:
                        shown.total = None
            if verbose:
                bar.console.print(f"[dim]… {escape(as_line(step, done, total))}[/dim]")

        yield advance


def proof_json(report: ProofReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "instant": report.instant,
        "seconds": report.seconds,
        "proofs": [_engine_proof_json(proof) for proof in report.proofs],
    }


def _engine_proof_json(proof: EngineProof) -> dict[str, Any]:
    matches = proof.matches
    return {
        "rule_id": proof.rule_id, "file": proof.rule_file, "engine": proof.engine, "engine_version": proof.engine_version,
        "ok": proof.ok, "error": proof.error, "notes": proof.notes, "seconds": proof.seconds,
        "matches": None if matches is None else {
            "method": matches.method, "ok": matches.ok, "expected": list(matches.expected), "actual": sorted(matches.actual),
            "missing": list(matches.missing), "unexpected": list(matches.unexpected)},
        "monitor": [{"case": group.case, "method": group.method, "ok": group.ok, "triggered": group.triggered, "error": group.error,
                     "expected_groups": [list(key) for key in group.expected_groups],
                     "actual_groups": [list(key) for key in group.actual_groups]} for group in proof.groups],
    }


def proof_text(report: ProofReport) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
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
    timings = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in report.seconds.items())
    verdict = "[green]all rules proven[/green]" if report.ok else "[red]proof failed[/red]"
    console.print(f"{verdict} ({timings})")


def plan_text(entries: list[PlanEntry], *, header: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
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


# Field changes listed under one plan line; `detect diff` has the rest.
_SHOWN_CHANGES = 8


def deploy_json(report: DeployReport) -> dict[str, Any]:
    outcomes = {(outcome.entry.rule_id, outcome.entry.target): outcome for outcome in report.outcomes}
    plan = []
    for entry in report.entries:
        outcome = outcomes.get((entry.rule_id, entry.target))
        plan.append({"rule_id": entry.rule_id, "target": entry.target, "action": entry.action.value, "reason": entry.reason,
                     "changes": [change.as_json() for change in entry.changes],
                     "outcome": None if outcome is None else {"applied": outcome.applied, "message": outcome.message}})
    return {"environment": report.environment, "dry_run": report.dry_run, "ok": report.ok, "requests": report.requests,
            "plan": plan}


def deploy_text(report: DeployReport) -> None:
    from rich.console import Console
    from rich.markup import escape

    if not report.outcomes:
        plan_text(report.entries, header=f"Plan for {report.environment}" + (" (dry run: nothing changed)" if report.dry_run else ""))
    console = Console(highlight=False, soft_wrap=True)
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


def import_text(report: ImportReport) -> None:
    from rich.console import Console
    from rich.markup import escape

    for problem in report.problems:
        sys.stdout.write(f"{problem}\n")
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for path in report.written:
        console.print(f"[green]✓[/green] wrote {escape(str(path))}")
    for skipped in report.skipped:
        console.print(f"[red]✗[/red] {escape(skipped.where)}: {escape(skipped.rule_id)}: skipped: {escape(skipped.reason)}")
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    verdict = "[green]imported[/green]" if report.ok else "[red]incomplete:[/red]"
    console.print(f"{verdict} {len(report.written)} rule file(s) written, {len(report.skipped)} rule(s) skipped, "
                  f"{len(report.problems)} problem(s) in the written files")


def diff_json(diffs: list[RuleDiff]) -> dict[str, Any]:
    return {"differs": any(item.text for item in diffs), "rules": [
        {"rule_id": item.entry.rule_id, "target": item.entry.target, "action": item.entry.action.value,
         "reason": item.entry.reason, "changes": [change.as_json() for change in item.entry.changes], "diff": item.text}
        for item in diffs]}


def diff_text(diffs: list[RuleDiff]) -> None:
    """Unified diffs on stdout, uncoloured (for patch tools and pagers); a summary on stderr."""
    for item in diffs:
        if item.text:
            sys.stdout.write(f"# {item.entry.target} {item.entry.rule_id}: {item.entry.action.value}: {item.entry.reason}\n")
            sys.stdout.write(item.text if item.text.endswith("\n") else item.text + "\n")
    from rich.console import Console

    differing = sum(1 for item in diffs if item.text)
    Console(stderr=True, highlight=False).print(
        f"{differing} of {len(diffs)} rule-target pair(s) differ" if differing else f"no differences ({len(diffs)} compared)")

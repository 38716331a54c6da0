"""Rendering for GitHub Actions (`--format github`): workflow-command annotations on the rule file and line, and a
Markdown summary appended to the job summary ($GITHUB_STEP_SUMMARY) when the runner provides one.

Each of `validation`, `proof` and `deploy` renders the result type report.text and report.as_json give the same
name (see deployer.report.emit), which then shows the text as well; other results have nothing to annotate."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from deployer.errors import Problem, display_path

if TYPE_CHECKING:
    from deployer.deploy.run import DeployReport
    from deployer.prove import ProofReport
    from deployer.rules.ruleset import Validation


def annotation(level: str, message: str, *, file: str | None = None, line: int | None = None, title: str = "detect") -> str:
    """One workflow command, escaped as the runner expects (`%`, CR and LF everywhere; `:` and `,` in properties)."""
    properties = [f"file={_property(file)}"] if file else []
    if file and line:
        properties.append(f"line={line}")
    properties.append(f"title={_property(title)}")
    return f"::{level} {','.join(properties)}::{_data(message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def line_of(file: str, pointer: str) -> int | None:
    """The 1-based line where the value at `pointer` (or its nearest existing parent) starts in a JSON file."""
    positions = _source_map(file)
    if not positions:
        return None
    parts = pointer.split("/") if pointer else [""]
    while parts:
        entry = positions.get("/".join(parts))
        if entry is not None:
            start = entry.key_start or entry.value_start  # type: ignore[attr-defined]
            return int(start.line) + 1
        parts.pop()
    return None


@cache
def _source_map(file: str) -> dict[str, object] | None:
    from json_source_map import calculate  # type: ignore[import-untyped]
    from json_source_map.errors import BaseError  # type: ignore[import-untyped]

    try:
        text = Path(file).read_text("utf-8")
        positions: dict[str, object] = calculate(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, IndexError, KeyError, BaseError):
        # A file that is not JSON has no lines to point into: its problem is annotated on the file itself.
        return None
    return positions


def problem_annotation(problem: Problem, title: str) -> str:
    line = problem.line if problem.line is not None else line_of(problem.file, problem.pointer)
    return annotation("error", f"{problem.pointer or '/'}: {problem.message}", file=problem.file, line=line, title=title)


def validation(validation: Validation) -> None:
    for problem in validation.problems:
        sys.stdout.write(problem_annotation(problem, "detect validate") + "\n")
    verdict = "all rules valid" if validation.ok else f"{len(validation.problems)} problem(s)"
    summary(f"### detect validate: {verdict}\n\n{len(validation.rules)} valid rule(s) in {validation.files} file(s).\n")


def proof(report: ProofReport, fixtures_root: Path = Path("fixtures")) -> None:
    rows = ["| rule | engine | result |", "|---|---|---|"]
    for proof in report.proofs:
        rows.append(f"| `{proof.rule_file}` | {proof.engine} {proof.engine_version} | {'proven' if proof.ok else 'FAILED'} |")
        if proof.ok:
            continue
        if proof.error:
            sys.stdout.write(annotation("error", f"{proof.engine}: {proof.error}", file=proof.rule_file, line=1,
                                        title="detect test") + "\n")
        folder = fixtures_root / Path(proof.rule_file).stem
        matches = proof.matches
        for event_id, wrong in [(event, "should alert but did not") for event in (matches.missing if matches else ())] + \
                               [(event, "alerted but should not") for event in (matches.unexpected if matches else ())]:
            name, _, line = event_id.partition(":")
            sys.stdout.write(annotation("error", f"{proof.engine}: this event {wrong}", file=str(folder / name),
                                        line=int(line) if line.isdigit() else None, title="detect test") + "\n")
        for group in proof.groups:
            if not group.ok:
                sys.stdout.write(annotation("error", f"{proof.engine}: monitor ({group.case}) gave {len(group.actual_groups)} "
                                            f"alert group(s), expected {len(group.expected_groups)}"
                                            + (f": {group.error}" if group.error else ""),
                                            file=proof.rule_file, line=1, title="detect test") + "\n")
    for unproven in report.not_proven:
        rows.append(f"| `{unproven.rule_file}` | — | not proven: {unproven.reason} |")
        sys.stdout.write(annotation("warning", unproven.message, file=unproven.rule_file, line=1, title="detect test") + "\n")
    from deployer.prove.verdict import proof_summary

    summary(f"### detect test: {proof_summary(report.ok, report.proofs, report.not_proven)}\n\n" + "\n".join(rows) + "\n")


def deploy(report: DeployReport) -> None:
    """Annotate refusals and failures on the rule file; the plan and its outcome go to the job summary."""
    outcomes = {(outcome.entry.rule_id, outcome.entry.target): outcome for outcome in report.outcomes}
    rows = ["| rule | target | action | outcome |", "|---|---|---|---|"]
    for entry in report.entries:
        outcome = outcomes.get((entry.rule_id, entry.target))
        result = "not applied" if outcome is None else ("applied" if outcome.applied else f"FAILED: {outcome.message}")
        if entry.action.value == "unchanged":
            result = "—"
        rows.append(f"| `{entry.rule_id}` | {entry.target} | {entry.action.value} | {_cell(result)} — {_cell(entry.reason)} |")
        file = display_path(entry.desired.rule.path) if entry.desired else None
        if entry.action.blocks:
            # refuse is about the file's version; conflict and drift are about the target, annotated on the rule's id
            refused = entry.action.value == "refuse"
            pointer, word = ("/version", "refused") if refused else ("/rule_id", entry.action.value)
            sys.stdout.write(annotation("error", f"{entry.target}: {word}: {entry.reason}", file=file,
                                        line=line_of(file, pointer) if file else None, title="detect deploy") + "\n")
        elif outcome is not None and not outcome.applied:
            sys.stdout.write(annotation("error", f"{entry.target}: {entry.action.value} failed: {outcome.message}", file=file,
                                        line=1 if file else None, title="detect deploy") + "\n")
    state = "not applied (refused, conflict or drift)" if report.refused else "partial failure" if report.failed else \
        "dry run" if report.dry_run else "deployed"
    summary(f"### detect deploy to `{report.environment}`: {state}\n\n" + "\n".join(rows) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary(markdown: str) -> None:
    """Append to the job summary; outside GitHub Actions (no GITHUB_STEP_SUMMARY) there is none to write."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as error:
        sys.stderr.write(f"warning: cannot write the job summary {path}: {error.strerror or error}\n")

"""`--format json`: each step's result as one JSON document on stdout, for machines.

Named as_json, not json, so that readers (and `import json` here) never confuse it with the standard library's;
the result types' own `as_json()` methods use the same word. Each function turns one result type into its document,
under the name report.text and report.github give that type too (see deployer.report.emit).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deployer.authoring.adopt import ImportReport
    from deployer.cluster.local import ClusterReport
    from deployer.deploy.run import DeployReport, RuleDiff
    from deployer.errors import Problem
    from deployer.prove import ProofReport
    from deployer.prove.verdict import EngineProof
    from deployer.rules.model import JSON
    from deployer.rules.ruleset import Validation


def dump(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def problem(problem: Problem) -> dict[str, Any]:
    """`line` appears for problems in line-oriented files (NDJSON fixtures and exports), as a number."""
    document: dict[str, Any] = {"file": problem.file, "pointer": problem.pointer, "message": problem.message}
    if problem.line is not None:
        document["line"] = problem.line
    return document


def validation(validation: Validation) -> dict[str, Any]:
    return {
        "ok": validation.ok,
        "files": validation.files,
        "rules": [{"rule_id": rule.rule_id, "version": rule.version, "file": str(rule.path), "language": rule.language}
                  for rule in validation.rules],
        "problems": [problem(found) for found in validation.problems],
    }


def payload(payload: JSON) -> JSON:
    """A target's payload (`detect show`) is a JSON document already."""
    return payload


def proof(report: ProofReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "instant": report.instant,
        "seconds": report.seconds,
        "proofs": [_engine_proof(proof) for proof in report.proofs],
        "not_proven": [{"rule_id": unproven.rule_id, "file": unproven.rule_file, "reason": unproven.reason,
                        "fixtures": unproven.fixtures, "message": unproven.message} for unproven in report.not_proven],
    }


def _engine_proof(proof: EngineProof) -> dict[str, Any]:
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


def deploy(report: DeployReport) -> dict[str, Any]:
    outcomes = {(outcome.entry.rule_id, outcome.entry.target): outcome for outcome in report.outcomes}
    plan = []
    for entry in report.entries:
        outcome = outcomes.get((entry.rule_id, entry.target))
        plan.append({"rule_id": entry.rule_id, "target": entry.target, "action": entry.action.value, "reason": entry.reason,
                     "changes": [change.as_json() for change in entry.changes],
                     "outcome": None if outcome is None else {"applied": outcome.applied, "message": outcome.message}})
    return {"environment": report.environment, "dry_run": report.dry_run, "ok": report.ok, "requests": report.requests,
            "plan": plan}


def diffs(diffs: list[RuleDiff]) -> dict[str, Any]:
    return {"differs": any(item.text for item in diffs), "rules": [
        {"rule_id": item.entry.rule_id, "target": item.entry.target, "action": item.entry.action.value,
         "reason": item.entry.reason, "changes": [change.as_json() for change in item.entry.changes], "diff": item.text}
        for item in diffs]}


def imported(report: ImportReport) -> dict[str, Any]:
    """`summary` holds the counts text shows: written, unchanged, skipped by cause, problems."""
    return {
        "ok": report.ok,
        "written": [str(path) for path in report.written],
        "unchanged": [str(path) for path in report.unchanged],
        "skipped": [{"where": skipped.where, "rule_id": skipped.rule_id, "reason": skipped.reason, "cause": skipped.cause}
                    for skipped in report.skipped],
        "notes": report.notes,
        "problems": [problem(found) for found in report.problems],
        "summary": {"written": len(report.written), "unchanged": len(report.unchanged), "skipped": len(report.skipped),
                    "skipped_by_cause": dict(report.skipped_by_cause()), "problems": len(report.problems)},
    }


def cluster(report: ClusterReport) -> dict[str, Any]:
    return report.as_json()

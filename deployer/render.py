"""Rendering step results for people (rich text) and for machines (--format json)."""

from __future__ import annotations

import json
import sys
from typing import Any

from deployer.errors import Problem
from deployer.validate import Validation


def dump_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def problem_json(problem: Problem) -> dict[str, str]:
    return {"file": problem.file, "pointer": problem.pointer, "message": problem.message}


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

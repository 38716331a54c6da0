"""Versioning against git: a rule whose content differs from the base revision must carry a higher version."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import DetectError, Problem, display_path
from deployer.rules.model import Rule, content_hash


@dataclass(frozen=True)
class BaseRule:
    path: str
    version: int
    content_hash: str


def version_problems(rules: list[Rule], base: str) -> list[Problem]:
    """Compare each rule with the rule of the same rule_id at `base` (renames are followed by rule_id)."""
    if not rules:
        return []
    at_base = rules_at_revision(rules[0].path.resolve().parent, base, [rule.path for rule in rules])
    problems = []
    for rule in rules:
        before = at_base.get(rule.rule_id)
        if before is None:
            continue
        if rule.version < before.version:
            problems.append(Problem(display_path(rule.path), "/version",
                                    f"version {rule.version} is lower than {before.version} at {base}"))
        elif rule.content_hash != before.content_hash and rule.version == before.version:
            problems.append(Problem(display_path(rule.path), "/version",
                                    f"content changed since {base} but version is still {rule.version}: "
                                    f"set it to {before.version + 1}"))
    return problems


def rules_at_revision(folder: Path, revision: str, paths: list[Path]) -> dict[str, BaseRule]:
    """rule_id -> version and hash of every rule file at `revision` in the folders holding `paths`.

    Two git processes whatever the number of rules: ls-tree to list, cat-file --batch to read.
    """
    top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    if _git_status(folder, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}") != 0:
        raise DetectError(f"--base {revision}: no such git revision")
    folders = sorted({str(path.resolve().parent.relative_to(top)) for path in paths})
    listing = _git(top, "ls-tree", "-r", "-z", "--name-only", revision, "--", *folders)
    names = [name for name in listing.split("\0") if name.endswith(".json")]
    if not names:
        return {}
    request = "".join(f"{revision}:{name}\n" for name in names).encode("utf-8")
    output = subprocess.run(["git", "-C", str(top), "cat-file", "--batch"], input=request,
                            capture_output=True, check=True).stdout
    found: dict[str, BaseRule] = {}
    offset = 0
    for name in names:
        header_end = output.index(b"\n", offset)
        size = int(output[offset:header_end].split()[2])
        body = output[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        try:
            document = json.loads(body)
            found[document["rule_id"]] = BaseRule(name, int(document["version"]), content_hash(document))
        except (ValueError, KeyError, TypeError):
            continue  # a file that was not a valid rule at base has no version to compare with
    return found


def _git(folder: Path, *arguments: str) -> str:
    try:
        completed = subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise DetectError("--base needs git, which is not installed") from None
    except subprocess.CalledProcessError as error:
        reason = error.stderr.strip().splitlines()[-1] if error.stderr.strip() else str(error)
        raise DetectError(f"git {arguments[0]} failed: {reason}") from None
    return completed.stdout


def _git_status(folder: Path, *arguments: str) -> int:
    return subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True).returncode

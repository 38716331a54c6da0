"""Step 2: validate loaded rule files — schema, semantics, fixtures, uniqueness, versions — into Rules or Problems;
and the rules a command names (find_rule, select_rules), valid or refused with their problems."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import DetectError, InvalidRules, Problem, display_path
from deployer.prove.fixtures import check_fixtures, fixture_bytes
from deployer.rules.cache import load_valid, record_key, record_valid
from deployer.rules.datasource import catalog
from deployer.rules.files import DEFAULT_RULES_DIR, load_rules
from deployer.rules.model import Rule
from deployer.rules.schema import schema_problems
from deployer.rules.semantics import rule_findings
from deployer.rules.versions import version_problems


@dataclass(frozen=True)
class Validation:
    rules: list[Rule]  # the rules with no problem
    problems: list[Problem]
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_paths(paths: Iterable[Path], *, base: str | None = None, fixtures: Path | None = None) -> Validation:
    """Load and check every rule file under `paths`; `base` is a git revision to check versions against.

    With `fixtures` (a fixtures root), each rule's folder <fixtures>/<rule file stem>/, where there is one, is checked
    as `detect test` would check it before any node starts."""
    loaded = load_rules(paths)
    problems = list(loaded.problems)
    rules: list[Rule] = []
    known_valid = load_valid()
    found_valid: set[str] = set()
    # The team's data sources decide validity too: a rule valid under one set of them is checked again under another.
    data_sources = catalog().digest.encode()
    for source in loaded.sources:
        key = record_key(source.digest, data_sources) if source.digest else ""
        if key and fixtures is not None:
            # The record is keyed by the fixtures too: changing a fixture file must check the rule again.
            contents = fixture_bytes(source.path, fixtures)
            key = record_key(key, contents) if contents is not None else ""
        if key and key in known_valid:
            rules.append(Rule.from_document(source.path, source.document))
            continue
        found = schema_problems(source.display, source.document)
        if found:
            problems += found
            continue
        rule = Rule.from_document(source.path, source.document)
        semantic = [Problem(source.display, pointer, message) for pointer, message in rule_findings(rule)]
        if not semantic and fixtures is not None:
            semantic = check_fixtures(rule, fixtures)
        problems += semantic
        if not semantic:
            rules.append(rule)
            if key:
                found_valid.add(key)
    record_valid(found_valid, known_valid)
    problems += _duplicate_ids(rules)
    if base is not None:
        problems += version_problems(rules, base)
    bad_files = {problem.file for problem in problems}
    valid = [rule for rule in rules if display_path(rule.path) not in bad_files] if bad_files else rules
    return Validation(valid, problems, len(loaded.sources) + len(loaded.problems))


def require_valid(paths: Iterable[Path]) -> list[Rule]:
    """The rules under `paths`, all valid, or InvalidRules with every problem: the steps that ship or run rules
    (show, test, export, deploy, diff) act on a valid rule set or not at all."""
    validation = validate_paths(paths)
    if validation.problems:
        raise InvalidRules(validation.problems, where="in the rules")
    return validation.rules


def _duplicate_ids(rules: list[Rule]) -> list[Problem]:
    first_seen: dict[str, Rule] = {}
    problems = []
    for rule in rules:
        if rule.rule_id in first_seen:
            problems.append(Problem(display_path(rule.path), "/rule_id",
                                    f"rule_id {rule.rule_id!r} is also used by {display_path(first_seen[rule.rule_id].path)}"))
        else:
            first_seen[rule.rule_id] = rule
    return problems


def find_rule(reference: str, rules_dir: Path = DEFAULT_RULES_DIR) -> Rule:
    """A rule by file path, file stem or rule_id under `rules_dir`; raises InvalidRules with the file's problems."""
    path = Path(reference)
    if not path.is_file() and (rules_dir / f"{reference}.json").is_file():
        path = rules_dir / f"{reference}.json"
    validation = validate_paths([path] if path.is_file() else [rules_dir])
    if path.is_file():
        if validation.problems:
            raise InvalidRules(validation.problems, where="in the rules")
        return validation.rules[0]
    for rule in validation.rules:
        if rule.rule_id == reference:
            return rule
    declaring = _files_declaring(reference, rules_dir)
    own = [problem for problem in validation.problems if problem.file in declaring]
    if own:
        raise InvalidRules(own, where="in the rules")
    raise DetectError(f"no rule file {reference!r} and no valid rule with that rule_id under {display_path(rules_dir)}")


def select_rules(references: list[str], rules_dir: Path = DEFAULT_RULES_DIR) -> list[Rule]:
    """The named rules (files, stems or rule_ids), or every rule under `rules_dir`; all must be valid."""
    if not references:
        rules = require_valid([rules_dir])
        if not rules:
            raise DetectError(f"no rules under {display_path(rules_dir)}")
        return rules
    return [find_rule(reference, rules_dir) for reference in references]


def _files_declaring(rule_id: str, rules_dir: Path) -> set[str]:
    """The rule files whose JSON says this rule_id, valid or not (shown as problems name them)."""
    return {source.display for source in load_rules([rules_dir]).sources
            if isinstance(source.document, dict) and source.document.get("rule_id") == rule_id}

"""`detect show`: find one rule, validate it, compile it for a target."""

from __future__ import annotations

from pathlib import Path

from deployer.errors import DetectError, InvalidRules, Problem, UnsupportedByTarget, display_path
from deployer.rules.files import DEFAULT_RULES_DIR
from deployer.rules.model import JSON, Rule
from deployer.rules.ruleset import require_valid, validate_paths
from deployer.targets import target_kind


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


def payload_for(reference: str, target: str) -> JSON:
    rule = find_rule(reference)
    try:
        payload: JSON = target_kind(target).compile_rule(rule)
    except UnsupportedByTarget as error:
        raise InvalidRules([Problem(display_path(rule.path), error.pointer, str(error))], where="in the rules") from None
    return payload


def _files_declaring(rule_id: str, rules_dir: Path) -> set[str]:
    """The rule files whose JSON says this rule_id, valid or not (shown as problems name them)."""
    from deployer.rules.files import load_rules

    return {source.display for source in load_rules([rules_dir]).sources
            if isinstance(source.document, dict) and source.document.get("rule_id") == rule_id}

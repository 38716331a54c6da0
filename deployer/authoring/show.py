"""`detect show`: one rule (found by rules.ruleset.find_rule), compiled for a target."""

from __future__ import annotations

from deployer.errors import InvalidRules, Problem, UnsupportedByTarget, display_path
from deployer.rules.model import JSON
from deployer.rules.ruleset import find_rule
from deployer.targets import target_kind


def payload_for(reference: str, target: str) -> JSON:
    rule = find_rule(reference)
    try:
        payload: JSON = target_kind(target).compile_rule(rule)
    except UnsupportedByTarget as error:
        raise InvalidRules([Problem(display_path(rule.path), error.pointer, str(error))], where="in the rules") from None
    return payload

"""The plan is pure: what is deployed, what the repository wants, and the options decide every action."""

from __future__ import annotations

import pytest

from deployer.deploy.plan import PlanOptions, plan_target
from deployer.rules.model import payload_hash
from deployer.rules.ruleset import validate_paths
from deployer.targets.base import Action, Deployed, Desired
from deployer.targets.opensearch import compile_rule, desired_rule
from deployer.targets.opensearch.stored import comparable
from tests.conftest import DSL_RULE


@pytest.fixture
def wanted() -> Desired:
    [rule] = validate_paths([DSL_RULE]).rules
    return desired_rule(rule)


def _deployed(content: dict, stored_hash: str, *, managed: bool = True, version: int = 1) -> Deployed:
    return Deployed("4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11", "m1", version, "", stored_hash, "Qakbot", managed=managed,
                    observed_hash=payload_hash(content), content=content)


def test_a_monitor_deployed_with_an_older_form_of_hash_is_unchanged(wanted: Desired) -> None:
    # Before the hash covered Alerting's spelling, the marker held the hash of the monitor as sent.
    sent = compile_rule(wanted.rule)
    del sent["ui_metadata"]["detect"]["payload_hash"]
    legacy_hash = payload_hash(sent)
    assert legacy_hash != wanted.payload_hash
    held = comparable(wanted.payload)
    [entry] = plan_target("opensearch", [wanted], {wanted.rule.rule_id: _deployed(held, legacy_hash)}, PlanOptions())
    assert entry.action is Action.unchanged
    changed = {**held, "enabled": not held["enabled"]}
    [entry] = plan_target("opensearch", [wanted], {wanted.rule.rule_id: _deployed(changed, legacy_hash)}, PlanOptions())
    assert entry.action is Action.drift and [change.pointer for change in entry.changes] == ["/enabled"]


def test_actions_follow_management_drift_and_options(wanted: Desired) -> None:
    held = comparable(wanted.payload)
    edited = {**held, "name": "renamed in the UI"}
    rule_id = wanted.rule.rule_id
    cases = [
        (_deployed(held, wanted.payload_hash), PlanOptions(), Action.unchanged),
        (_deployed(held, "", managed=False), PlanOptions(), Action.conflict),
        (_deployed(held, "", managed=False), PlanOptions(adopt={rule_id}), Action.adopt),
        (_deployed(edited, wanted.payload_hash), PlanOptions(), Action.drift),
        (_deployed(edited, wanted.payload_hash), PlanOptions(overwrite_drift=True), Action.update),
    ]
    for deployed, options, action in cases:
        [entry] = plan_target("opensearch", [wanted], {rule_id: deployed}, options)
        assert entry.action is action, (options, entry.reason)
    assert plan_target("opensearch", [], {rule_id: _deployed(held, "", managed=False)}, PlanOptions(prune=True)) == []
    [pruned] = plan_target("opensearch", [], {rule_id: _deployed(edited, wanted.payload_hash)}, PlanOptions(prune=True))
    assert pruned.action is Action.drift

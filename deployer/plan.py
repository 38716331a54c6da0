"""Step 4: the plan — what a deploy would do to each rule on each target, computed without any I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from deployer.model import JSON, Rule


class Action(str, Enum):
    create = "create"
    update = "update"
    unchanged = "unchanged"
    delete = "delete"
    refuse = "refuse"


@dataclass(frozen=True)
class Deployed:
    """A rule this tool manages, as a target reports it: its remote id and the marker detect stored."""

    rule_id: str
    remote_id: str
    version: int
    content_hash: str
    payload_hash: str
    name: str = ""


@dataclass(frozen=True)
class Desired:
    """A rule compiled for one target of one environment."""

    rule: Rule
    payload: JSON
    payload_hash: str


@dataclass(frozen=True)
class PlanEntry:
    rule_id: str
    target: str  # "kibana:default", "opensearch"
    action: Action
    reason: str
    desired: Desired | None = None
    deployed: Deployed | None = None

    @property
    def writes(self) -> bool:
        return self.action in (Action.create, Action.update, Action.delete)


def plan_target(target: str, desired: list[Desired], deployed: Mapping[str, Deployed], *, prune: bool,
                force: bool) -> list[PlanEntry]:
    """Compare what the repository wants on `target` with what is there (only rules detect manages)."""
    entries = []
    for item in desired:
        current = deployed.get(item.rule.rule_id)
        entries.append(_entry(target, item, current, force))
    wanted = {item.rule.rule_id for item in desired}
    for rule_id in sorted(set(deployed) - wanted):
        current = deployed[rule_id]
        if prune:
            entries.append(PlanEntry(rule_id, target, Action.delete, "managed by detect, no longer in the repository",
                                     deployed=current))
        else:
            entries.append(PlanEntry(rule_id, target, Action.unchanged,
                                     "managed by detect, no longer in the repository: --prune deletes it", deployed=current))
    return entries


def _entry(target: str, item: Desired, current: Deployed | None, force: bool) -> PlanEntry:
    rule = item.rule
    if current is None:
        return PlanEntry(rule.rule_id, target, Action.create, f"new (version {rule.version})", item)
    if current.payload_hash == item.payload_hash:
        return PlanEntry(rule.rule_id, target, Action.unchanged, f"version {rule.version} is deployed", item, current)
    if not current.content_hash:
        return PlanEntry(rule.rule_id, target, Action.update, "changed outside detect (its marker is gone): restoring",
                         item, current)
    if current.version > rule.version:
        if force:
            return PlanEntry(rule.rule_id, target, Action.update,
                             f"downgrade from version {current.version} to {rule.version} (--force)", item, current)
        return PlanEntry(rule.rule_id, target, Action.refuse,
                         f"deployed version {current.version} is newer than {rule.version}: a downgrade needs --force", item, current)
    if current.version == rule.version and current.content_hash != rule.content_hash:
        return PlanEntry(rule.rule_id, target, Action.refuse,
                         f"content differs from the deployed version {rule.version} but the version was not raised", item, current)
    if current.version < rule.version:
        return PlanEntry(rule.rule_id, target, Action.update, f"version {current.version} → {rule.version}", item, current)
    return PlanEntry(rule.rule_id, target, Action.update, "environment settings changed (same rule version)", item, current)


@dataclass(frozen=True)
class Outcome:
    """What applying one plan entry did: `applied` False means the target was left as it was for this rule."""

    entry: PlanEntry
    applied: bool
    message: str = ""

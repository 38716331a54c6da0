"""Step 4: the plan — what a deploy would do to each rule on each target, computed without any I/O.

The values it compares and produces (Deployed, Desired, PlanEntry and its Action) are the targets' contract, in
deployer.targets.base."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from deployer.deploy.diff import FieldChange, field_changes
from deployer.targets.base import Action, Deployed, Desired, PlanEntry


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    force: bool = False
    overwrite_drift: bool = False
    adopt: Collection[str] = ()


def plan_target(target: str, desired: list[Desired], deployed: Mapping[str, Deployed], options: PlanOptions) -> list[PlanEntry]:
    """Compare what the repository wants on `target` with what is there. Rules detect does not manage are only ever
    reported (conflict) when the repository names their rule_id, and taken over only with --adopt."""
    entries = [_entry(target, item, deployed.get(item.rule.rule_id), options) for item in desired]
    wanted = {item.rule.rule_id for item in desired}
    for rule_id in sorted(set(deployed) - wanted):
        current = deployed[rule_id]
        if not current.managed or current.marker_lost:
            continue
        if not options.prune:
            entries.append(PlanEntry(rule_id, target, Action.unchanged,
                                     "managed by detect, no longer in the repository: --prune deletes it", deployed=current))
        elif current.drifted and not options.overwrite_drift:
            entries.append(PlanEntry(rule_id, target, Action.drift,
                                     "no longer in the repository, but changed outside detect since it was deployed: "
                                     "--prune --overwrite-drift deletes it", deployed=current))
        else:
            entries.append(PlanEntry(rule_id, target, Action.delete, "managed by detect, no longer in the repository",
                                     deployed=current))
    return entries


def _entry(target: str, item: Desired, current: Deployed | None, options: PlanOptions) -> PlanEntry:
    rule = item.rule
    if current is None:
        return PlanEntry(rule.rule_id, target, Action.create, f"new (version {rule.version})", item)
    if not current.managed:
        if rule.rule_id in options.adopt:
            return PlanEntry(rule.rule_id, target, Action.adopt,
                             f'takes over "{current.name}" (version {current.version}, made outside detect) as version '
                             f"{rule.version} (--adopt)", item, current, _changes(current, item))
        return PlanEntry(rule.rule_id, target, Action.conflict,
                         f'"{current.name}" (version {current.version}) has this rule_id but was not deployed by detect: '
                         f"left as it is; --adopt {rule.rule_id} replaces it with the repository's rule", item, current)
    if current.content is not None and current.content == item.comparable:
        # The target holds exactly what the repository wants, whatever form of hash its marker carries (written by
        # an older detect whose hash covered another spelling, or for a payload spelling a field at the target's default).
        return PlanEntry(rule.rule_id, target, Action.unchanged, f"version {rule.version} is deployed", item, current)
    if current.drifted:
        changes = _changes(current, item)
        since = "" if current.payload_hash == item.payload_hash else " (the repository's rule changed too)"
        if options.overwrite_drift:
            return PlanEntry(rule.rule_id, target, Action.update,
                             f"overwrites changes made outside detect{since} (--overwrite-drift)", item, current, changes)
        what = ", ".join(change.pointer for change in changes[:5]) or "its detect marker"
        return PlanEntry(rule.rule_id, target, Action.drift,
                         f"changed outside detect since it was deployed{since}: {what}; left as it is "
                         "(`detect diff` shows it; --overwrite-drift replaces it)", item, current, changes)
    if current.payload_hash == item.payload_hash:
        return PlanEntry(rule.rule_id, target, Action.unchanged, f"version {rule.version} is deployed", item, current)
    if current.version > rule.version:
        if options.force:
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


def _changes(current: Deployed, item: Desired) -> tuple[FieldChange, ...]:
    if current.content is None:
        return ()
    return tuple(field_changes(current.content, item.comparable if item.comparable is not None else item.payload))

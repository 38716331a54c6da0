"""Step 5: deploy — the rules adapted to an environment, compiled per target, planned against what is deployed, applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deployer.deploy.diff import ABSENT, unified_diff
from deployer.deploy.plan import PlanOptions, plan_target
from deployer.environments import Environment, TargetSettings, adapt_rule, load_environment
from deployer.errors import DetectError, UnsupportedByTarget
from deployer.report.progress import Progress
from deployer.rules.model import Rule
from deployer.rules.ruleset import require_valid
from deployer.targets import target_kind
from deployer.targets.base import Action, Desired, Outcome, PlanEntry, Target
from deployer.targets.http import Deadline


@dataclass
class DeployReport:
    environment: str
    dry_run: bool
    entries: list[PlanEntry] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0

    @property
    def refused(self) -> list[PlanEntry]:
        """Entries that keep the whole plan from being applied: refusals, conflicts, drift."""
        return [entry for entry in self.entries if entry.action.blocks]

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.applied]

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


# A deploy that has not finished by then stops, with what it did and did not do (`--timeout`).
DEFAULT_TIMEOUT = 300.0
Factory = Callable[..., Target]  # (settings, location, *, deadline) -> Target


def open_targets(environment: Environment, factory: Factory, deadline: Deadline | None = None) -> list[Target]:
    targets: list[Target] = []
    for settings in environment.targets:
        for location in target_kind(settings.name).locations(settings):
            targets.append(factory(settings, location, deadline=deadline))
    return targets


def default_factory(settings: TargetSettings, location: str | None, *, deadline: Deadline | None = None) -> Target:
    """The target named by the settings (its descriptor in the registry) opens its client for one location."""
    target: Target = target_kind(settings.name).open(settings, location, deadline=deadline)
    return target


@contextmanager
def connected(environment: Environment, factory: Factory = default_factory,
              deadline: Deadline | None = None) -> Iterator[list[Target]]:
    targets = open_targets(environment, factory, deadline)
    try:
        yield targets
    finally:
        for target in targets:
            target.close()


def plan_deploy(rules: list[Rule], environment: Environment, targets: list[Target], options: PlanOptions,
                progress: Progress) -> list[PlanEntry]:
    """Read each target once and plan every rule against it; nothing is written."""
    adapted = [adapt_rule(rule, environment) for rule in rules]
    entries: list[PlanEntry] = []
    for target in targets:
        progress(f"{target.label}: reading deployed rules")
        deployed = target.read_deployed()
        desired_rule = target_kind(target.name).desired_rule
        desired: list[Desired] = []
        refused: list[PlanEntry] = []
        for rule in adapted:
            try:
                desired.append(desired_rule(rule))
            except UnsupportedByTarget as error:
                refused.append(PlanEntry(rule.rule_id, target.label, Action.refuse, str(error)))
        entries += refused + target.preflight(plan_target(target.label, desired, deployed, options))
    return entries


def apply_plan(entries: list[PlanEntry], targets: list[Target], progress: Progress) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for done, target in enumerate(targets, start=1):
        mine = [entry for entry in entries if entry.target == target.label and entry.writes]
        if mine:
            progress(f"{target.label}: applying {len(mine)} change(s)", done, len(targets))
            outcomes += target.apply(mine)
    return outcomes


def deploy_environment(environment_name: str, *, config_path: Path, rules_dir: Path, dry_run: bool,
                       options: PlanOptions, confirm: Callable[[Environment, list[PlanEntry]], bool], progress: Progress,
                       factory: Factory = default_factory, timeout: float = DEFAULT_TIMEOUT) -> DeployReport:
    """Validate every rule and detect.toml, then plan; apply only when nothing blocks the plan and the user agrees.
    Every request of the deploy shares one deadline, `timeout` seconds from the start."""
    rules = require_valid([rules_dir])
    environment = load_environment(environment_name, config_path, rules)
    unknown = sorted(set(options.adopt) - {rule.rule_id for rule in rules})
    if unknown:
        raise DetectError(f"--adopt {unknown[0]}: no rule in {rules_dir} has this rule_id")
    report = DeployReport(environment.name, dry_run)
    with connected(environment, factory, Deadline(timeout)) as targets:
        report.entries = plan_deploy(rules, environment, targets, options, progress)
        if not dry_run and not report.refused and any(entry.writes for entry in report.entries):
            if not confirm(environment, report.entries):
                raise DetectError("deploy cancelled: nothing was changed")
            report.outcomes = apply_plan(report.entries, targets, progress)
        report.requests = sum(target.requests_sent for target in targets)
    return report


@dataclass(frozen=True)
class RuleDiff:
    """What differs for one rule on one target: `text` is a unified diff (deployed → repository), "" when equal."""

    entry: PlanEntry
    text: str


def diff_environment(environment_name: str, *, config_path: Path, rules_dir: Path, rule_ids: list[str],
                     progress: Progress, factory: Factory = default_factory, timeout: float = DEFAULT_TIMEOUT) -> list[RuleDiff]:
    """Per rule and target, the deployed rule (as the target holds it, normalised) against the repository's."""
    every_rule = rules = require_valid([rules_dir])
    if rule_ids:
        known = {rule.rule_id for rule in rules} | {rule.path.stem for rule in rules}
        missing = [rule_id for rule_id in rule_ids if rule_id not in known]
        if missing:
            raise DetectError(f"no rule {missing[0]!r} in {rules_dir} (give a rule_id or a rule file stem)")
        rules = [rule for rule in rules if rule.rule_id in rule_ids or rule.path.stem in rule_ids]
    environment = load_environment(environment_name, config_path, every_rule)
    with connected(environment, factory, Deadline(timeout)) as targets:
        entries = plan_deploy(rules, environment, targets, PlanOptions(), progress)
    wanted = {rule.rule_id for rule in rules}
    diffs = []
    for entry in entries:
        if entry.rule_id not in wanted:
            continue
        deployed = entry.deployed.content if entry.deployed and entry.deployed.content is not None else ABSENT
        desired = entry.desired.comparable if entry.desired else ABSENT
        label = f"{entry.target}/{entry.rule_id}"
        diffs.append(RuleDiff(entry, unified_diff(deployed, desired, deployed_label=f"deployed {label}",
                                                  expected_label=f"repository {label}")))
    return diffs

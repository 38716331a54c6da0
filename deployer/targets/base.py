"""The contract every target meets: a descriptor (TargetKind) saying what it is, and one client per location.

A target declares itself with class attributes and a few methods, as a pySigma backend does; the registry
(deployer.targets) finds it by name. deploy/, prove/, authoring/ and the CLI use only this surface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from deployer.targets.http import JsonApi

if TYPE_CHECKING:
    from deployer.deploy.plan import Deployed, Desired, Outcome, PlanEntry
    from deployer.environments import TargetSettings
    from deployer.rules.model import JSON, Rule
    from deployer.targets.http import Deadline


class Target(Protocol):
    """What deploy needs of a target: one per location (a Kibana space, an OpenSearch cluster)."""

    name: str   # the target module's name in deployer.targets
    label: str  # where it is, for people: "kibana:soc", "opensearch"

    @property
    def requests_sent(self) -> int: ...

    def read_deployed(self) -> dict[str, Deployed]: ...
    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]: ...
    def apply(self, entries: list[PlanEntry]) -> list[Outcome]: ...
    def close(self) -> None: ...


class TargetKind(ABC):
    """What one kind of target is. Subclasses set the class attributes and implement the methods; every method
    imports its module lazily, so the registry and `detect --help` stay cheap."""

    name: ClassVar[str]          # its detect.toml table and --target value: "kibana"
    title: ClassVar[str]         # for people: "Kibana"
    engine: ClassVar[str]        # the engine its rules run on, which `detect test` proves them on: "elasticsearch"
    payload_noun: ClassVar[str]  # what one compiled rule is called there: "rule", "monitor"
    has_spaces: ClassVar[bool] = False  # one client per space (Kibana) rather than one per URL

    @abstractmethod
    def compile_rule(self, rule: Rule) -> JSON:
        """The payload a deploy sends for `rule` (UnsupportedByTarget when the target cannot express it)."""

    @abstractmethod
    def desired_rule(self, rule: Rule) -> Desired:
        """The payload with its hash and comparable form, for the plan."""

    @abstractmethod
    def locations(self, settings: TargetSettings) -> tuple[str | None, ...]:
        """Where one detect.toml table deploys to: its spaces, or (None,) for the URL itself."""

    @abstractmethod
    def open(self, settings: TargetSettings, location: str | None, *, deadline: Deadline | None = None,
             **client_options: Any) -> Target:
        """A client for one location."""

    @abstractmethod
    def prove_rule(self, engine: Any, case: Any) -> None:
        """Run `case.rule` on `engine` the way this target's production would run it (the query, its window,
        the alerting step) and record the verdicts on `case.proof`. The executor lives in the target's folder."""


class ApiTarget:
    """A target location talking to its server through `self.api` (set by the subclass)."""

    name: str
    label: str
    api: JsonApi

    def close(self) -> None:
        self.api.close()

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

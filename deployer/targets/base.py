"""The contract every target meets: a descriptor (TargetKind) saying what it is, one client per location, and the
values they exchange with deploy (what is deployed, what is desired, the plan's entries and what applying them did).

A target declares itself with class attributes and a few methods, as a pySigma backend does; the registry
(deployer.targets) finds it by name. deploy/, prove/, authoring/ and the CLI use only this surface, and
environments.py builds detect.toml's schema for a target's table from its `settings_schema` and `has_spaces`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from deployer.errors import DetectError, UnsupportedByTarget

if TYPE_CHECKING:
    from pathlib import Path

    from deployer.deploy.diff import FieldChange
    from deployer.environments import TargetSettings
    from deployer.prove.case import ProofCase
    from deployer.prove.engines import Engine
    from deployer.rules.model import JSON, Rule
    from deployer.targets.http import Deadline, JsonApi


class Action(str, Enum):
    create = "create"
    update = "update"
    adopt = "adopt"          # take over a rule made outside detect (--adopt RULE_ID)
    unchanged = "unchanged"
    delete = "delete"
    refuse = "refuse"        # the repository's own state forbids it (version not raised, downgrade)
    conflict = "conflict"    # the target holds a rule with this rule_id that detect does not manage
    drift = "drift"          # a rule detect deployed was changed outside detect (UI, API)

    @property
    def writes(self) -> bool:
        return self in (Action.create, Action.update, Action.adopt, Action.delete)

    @property
    def blocks(self) -> bool:
        """A plan holding any of these is not applied at all: a deploy never half-decides on someone's work."""
        return self in (Action.refuse, Action.conflict, Action.drift)


@dataclass(frozen=True)
class Deployed:
    """A rule as a target reports it.

    `managed` says whether it carries detect's mark; `payload_hash` is the hash detect stored when it deployed the
    rule, `observed_hash` the same hash computed over what the target holds now (normalised: server-managed fields
    removed), so the two differ exactly when someone changed the rule outside detect. `content` is that normalised
    rule, for field-level diffs.
    """

    rule_id: str
    remote_id: str
    version: int
    content_hash: str
    payload_hash: str
    name: str = ""
    managed: bool = True
    observed_hash: str = ""
    content: JSON | None = None
    # Known as detect's only by a trace it leaves (an OpenSearch trigger named after the rule_id): it counts as
    # detect's when the repository names that rule_id, and is never pruned.
    marker_lost: bool = False

    @property
    def drifted(self) -> bool:
        return self.managed and (not self.payload_hash or self.observed_hash != self.payload_hash)


@dataclass(frozen=True)
class Desired:
    """A rule compiled for one target of one environment; `payload_hash` is over its comparable form."""

    rule: Rule
    payload: JSON
    payload_hash: str
    comparable: JSON | None = None


@dataclass(frozen=True)
class PlanEntry:
    rule_id: str
    target: str  # the label of the Target it is planned on
    action: Action
    reason: str
    desired: Desired | None = None
    deployed: Deployed | None = None
    changes: tuple[FieldChange, ...] = field(default=())

    @property
    def writes(self) -> bool:
        return self.action.writes


@dataclass(frozen=True)
class Outcome:
    """What applying one plan entry did: `applied` False means the target was left as it was for this rule."""

    entry: PlanEntry
    applied: bool
    message: str = ""


class Target(Protocol):
    """What deploy needs of a target: one per location (a Kibana space, an OpenSearch cluster)."""

    name: str   # the target's name in the registry
    label: str  # where it is, for people: "kibana:soc", "opensearch"

    @property
    def requests_sent(self) -> int: ...

    def read_deployed(self) -> dict[str, Deployed]: ...
    def preflight(self, entries: list[PlanEntry]) -> list[PlanEntry]: ...
    def apply(self, entries: list[PlanEntry]) -> list[Outcome]: ...
    def close(self) -> None: ...


# The keys of a detect.toml target table, as JSON schema: where the target is and how to reach it. Each target's
# table holds these, `spaces` when it has spaces, and the target's own `settings_schema` (which may replace one).
_ENV_NAME: Mapping[str, Any] = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
CONNECTION_SETTINGS: Mapping[str, Any] = {
    "url": {"type": "string", "pattern": "^https?://"},
    "username_env": _ENV_NAME,
    "password_env": _ENV_NAME,
    "allow_plain_http": {"type": "boolean", "default": False,
                         "description": "Send credentials over plain http:// to a host that is not loopback (refused otherwise)."},
    "tls": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "verify": {"type": "boolean", "default": True},
            "ca_cert": {"type": "string", "minLength": 1},
            "client_cert": {"type": "string", "minLength": 1},
            "client_key": {"type": "string", "minLength": 1},
        },
    },
}
API_KEY_SETTING: Mapping[str, Any] = {"api_key_env": _ENV_NAME}
SPACES_SETTING: Mapping[str, Any] = {
    "type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"}}


class TargetKind(ABC):
    """What one kind of target is. Subclasses set the class attributes and implement the methods; every method
    imports its module lazily, so the registry and `detect --help` stay cheap."""

    name: ClassVar[str]          # its detect.toml table and --target value: "kibana"
    title: ClassVar[str]         # for people: "Kibana"
    engine: ClassVar[str]        # the engine its rules run on, which `detect test` proves them on: "elasticsearch"
    payload_noun: ClassVar[str]  # what one compiled rule is called there: "rule", "monitor"
    has_spaces: ClassVar[bool] = False  # one client per space (its table's `spaces`) rather than one per URL
    # Its table's keys beyond CONNECTION_SETTINGS (JSON schema per key; a key named there is replaced): an API key,
    # a URL form of its own, settings only it reads (they reach it in TargetSettings.options).
    settings_schema: ClassVar[Mapping[str, Any]] = {}
    # The key of its table naming the cluster its rules run on, when that is not the target's own URL (Kibana's
    # Elasticsearch): a connection table of its own, optional, for `detect test --env`.
    engine_table: ClassVar[str | None] = None
    # The largest file its own import screen takes, for `detect export` to warn about (None: no such limit).
    import_limit_bytes: ClassVar[int | None] = None

    @classmethod
    def table_schema(cls) -> dict[str, Any]:
        """The JSON schema of this target's table in detect.toml (`[environments.NAME.<name>]`)."""
        properties = {**CONNECTION_SETTINGS, **({"spaces": SPACES_SETTING} if cls.has_spaces else {}), **cls.settings_schema}
        if cls.engine_table:
            properties[cls.engine_table] = {
                "type": "object", "additionalProperties": False, "required": ["url"],
                "properties": {**CONNECTION_SETTINGS, **API_KEY_SETTING},
                "description": f"The {cls.engine} cluster this target's rules run on (detect test --env)."}
        return {"type": "object", "additionalProperties": False, "required": ["url"], "properties": properties}

    @abstractmethod
    def compile_rule(self, rule: Rule) -> JSON:
        """The payload a deploy sends for `rule` (UnsupportedByTarget when the target cannot express it)."""

    @abstractmethod
    def desired_rule(self, rule: Rule) -> Desired:
        """The payload with its hash and comparable form, for the plan."""

    def locations(self, settings: TargetSettings) -> tuple[str | None, ...]:
        """Where one detect.toml table deploys to: its spaces, or (None,) for the URL itself."""
        return settings.spaces if self.has_spaces else (None,)

    @abstractmethod
    def open(self, settings: TargetSettings, location: str | None, *, deadline: Deadline | None = None,
             **client_options: Any) -> Target:
        """A client for one location."""

    def read_export(self, export: Path) -> list[tuple[int, JSON]]:
        """The rules of a file this target exports (line number, payload), for `detect import`; DetectError or
        InvalidRules (file and line) for a file that is not one."""
        raise DetectError(f"detect import cannot read {self.title} exports")

    def decompile_rule(self, payload: JSON) -> tuple[JSON, list[str]]:
        """A rule document from one of its payloads, and notes on what was dropped; UnsupportedByTarget (pointer
        into the payload) for what detect cannot express."""
        raise UnsupportedByTarget("", f"detect cannot read {self.title} {self.payload_noun}s back")

    @abstractmethod
    def prove_rule(self, engine: Engine, case: ProofCase) -> None:
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

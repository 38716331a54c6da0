"""The OpenSearch target (Alerting monitors): compile.py turns a Rule into a bucket-level monitor, stored.py reduces a
monitor as Alerting stores it to a comparable form, fields.py checks field types before writing, client.py talks to
one cluster."""

from typing import Any, ClassVar

from deployer.targets.base import Target, TargetKind
from deployer.targets.opensearch.client import OpenSearchTarget, deployed_monitor, locations, open_target
from deployer.targets.opensearch.compile import GROUPS_AGGREGATION, SEVERITY, compile_rule, desired_rule
from deployer.targets.opensearch.stored import comparable


class OpenSearch(TargetKind):
    """OpenSearch Alerting: each rule a bucket-level monitor, one client per cluster; its rules run on OpenSearch."""

    name: ClassVar[str] = "opensearch"
    title: ClassVar[str] = "OpenSearch"
    engine: ClassVar[str] = "opensearch"
    payload_noun: ClassVar[str] = "monitor"

    def compile_rule(self, rule: Any) -> Any:
        return compile_rule(rule)

    def desired_rule(self, rule: Any) -> Any:
        return desired_rule(rule)

    def locations(self, settings: Any) -> tuple[str | None, ...]:
        return locations(settings)

    def open(self, settings: Any, location: str | None, **client_options: Any) -> Target:
        return open_target(settings, location, **client_options)

    def prove_rule(self, engine: Any, case: Any) -> None:
        from deployer.targets.opensearch.executor import prove_rule

        prove_rule(engine, case)

__all__ = [
    "GROUPS_AGGREGATION",
    "SEVERITY",
    "OpenSearch",
    "OpenSearchTarget",
    "comparable",
    "compile_rule",
    "deployed_monitor",
    "desired_rule",
    "locations",
    "open_target",
]

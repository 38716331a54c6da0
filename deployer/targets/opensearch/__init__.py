"""The OpenSearch target (Alerting monitors): compile.py turns a Rule into a bucket-level monitor, stored.py reduces a
monitor as Alerting stores it to a comparable form, fields.py checks field types before writing, client.py talks to
one cluster."""

from collections.abc import Mapping
from typing import Any, ClassVar

from deployer.targets.base import Target, TargetKind
from deployer.targets.opensearch.client import OpenSearchTarget, deployed_monitor, open_target
from deployer.targets.opensearch.compile import GROUPS_AGGREGATION, SEVERITY, compile_rule, desired_rule
from deployer.targets.opensearch.stored import comparable


class OpenSearch(TargetKind):
    """OpenSearch Alerting: each rule a bucket-level monitor, one client per cluster; its rules run on OpenSearch."""

    name: ClassVar[str] = "opensearch"
    title: ClassVar[str] = "OpenSearch"
    engine: ClassVar[str] = "opensearch"
    payload_noun: ClassVar[str] = "monitor"
    # `local` is the node of `detect cluster up` (open_target looks it up).
    settings_schema: ClassVar[Mapping[str, Any]] = {"url": {
        "type": "string", "pattern": "^(https?://|local$)", "description": "A URL, or `local` for the node of `detect cluster up`."}}

    def compile_rule(self, rule: Any) -> Any:
        return compile_rule(rule)

    def desired_rule(self, rule: Any) -> Any:
        return desired_rule(rule)

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
    "open_target",
]

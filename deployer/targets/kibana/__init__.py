"""The Kibana target (Elastic Security's detection engine): compile.py turns a Rule into the API's rule and any rule
into its comparable form, decompile.py reads rules back for `detect import` (kinds.py names what each rule is, so one
detect does not hold is refused for that first), client.py talks to one space."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from deployer.rules.model import JSON
from deployer.targets.base import API_KEY_SETTING, Target, TargetKind
from deployer.targets.kibana.client import IMPORT_THRESHOLD, KibanaTarget, deployed_rule, open_target
from deployer.targets.kibana.compile import (
    API_VERSION,
    EXCLUSION_ALIAS,
    KIBANA_DEFAULTS,
    MANAGED_TAG,
    SERVER_FIELDS,
    comparable,
    compile_rule,
    desired_rule,
)
from deployer.targets.kibana.decompile import decompile_rule, read_export


class Kibana(TargetKind):
    """Elastic Security's detection engine, one client per Kibana space; its rules run on Elasticsearch."""

    name: ClassVar[str] = "kibana"
    title: ClassVar[str] = "Kibana"
    engine: ClassVar[str] = "elasticsearch"
    payload_noun: ClassVar[str] = "rule"
    has_spaces: ClassVar[bool] = True
    settings_schema: ClassVar[Mapping[str, Any]] = API_KEY_SETTING
    engine_table: ClassVar[str | None] = "elasticsearch"
    # Kibana refuses rule imports above 10 MB by default (xpack.securitySolution.maxRuleImportPayloadBytes).
    import_limit_bytes: ClassVar[int | None] = 10 * 1024 * 1024

    def compile_rule(self, rule: Any) -> Any:
        return compile_rule(rule)

    def desired_rule(self, rule: Any) -> Any:
        return desired_rule(rule)

    def open(self, settings: Any, location: str | None, **client_options: Any) -> Target:
        return open_target(settings, location, **client_options)

    def read_export(self, export: Path) -> list[tuple[int, JSON]]:
        return read_export(export)

    def decompile_rule(self, payload: JSON) -> tuple[JSON, list[str]]:
        return decompile_rule(payload)

    def prove_rule(self, engine: Any, case: Any) -> None:
        from deployer.targets.kibana.executor import prove_rule

        prove_rule(engine, case)

__all__ = [
    "API_VERSION",
    "EXCLUSION_ALIAS",
    "IMPORT_THRESHOLD",
    "KIBANA_DEFAULTS",
    "MANAGED_TAG",
    "SERVER_FIELDS",
    "Kibana",
    "KibanaTarget",
    "comparable",
    "compile_rule",
    "decompile_rule",
    "deployed_rule",
    "desired_rule",
    "open_target",
]

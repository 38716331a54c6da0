"""The OpenSearch target (Alerting monitors): compile.py turns a Rule into a bucket-level monitor, stored.py reduces a
monitor as Alerting stores it to a comparable form, fields.py checks field types before writing, client.py talks to
one cluster."""

from deployer.targets.opensearch.client import OpenSearchTarget, deployed_monitor, locations, open_target
from deployer.targets.opensearch.compile import GROUPS_AGGREGATION, SEVERITY, compile_rule, desired_rule
from deployer.targets.opensearch.stored import comparable

__all__ = ["GROUPS_AGGREGATION", "SEVERITY", "OpenSearchTarget", "comparable", "compile_rule", "deployed_monitor", "desired_rule",
           "locations", "open_target"]

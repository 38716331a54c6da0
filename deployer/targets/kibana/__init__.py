"""The Kibana target (Elastic Security's detection engine): compile.py turns a Rule into the API's rule and any rule
into its comparable form, decompile.py reads rules back for `detect import`, client.py talks to one space."""

from deployer.targets.kibana.client import IMPORT_THRESHOLD, KibanaTarget, deployed_rule, locations, open_target
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
from deployer.targets.kibana.decompile import decompile_rule

__all__ = ["API_VERSION", "EXCLUSION_ALIAS", "IMPORT_THRESHOLD", "KIBANA_DEFAULTS", "MANAGED_TAG", "SERVER_FIELDS", "KibanaTarget",
           "comparable", "compile_rule", "decompile_rule", "deployed_rule", "desired_rule", "locations", "open_target"]

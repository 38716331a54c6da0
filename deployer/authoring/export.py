"""`detect export`: every rule compiled for one target, one payload per line (NDJSON), as files to hand over.

Each line is what a deploy would send: Kibana's "Import rules" screen (and its `_import` API) takes its file as it
is, and each line of an Alerting file is a monitor body as POSTed to `_plugins/_alerting/monitors`.
"""

from __future__ import annotations

import json
from pathlib import Path

from deployer.errors import DetectError, InvalidRules, Problem, UnsupportedByTarget, display_path
from deployer.rules.model import JSON, Rule
from deployer.rules.ruleset import require_valid
from deployer.targets import target_kind


def export_payloads(target: str, *, rules_dir: Path, environment: str | None = None,
                    config_path: Path = Path("detect.toml")) -> list[JSON]:
    """The payloads of every valid rule under `rules_dir` (as `environment` runs them, when given), sorted by rule_id."""
    valid = require_valid([rules_dir])
    if not valid:
        raise DetectError(f"no rules under {display_path(rules_dir)}")
    rules: list[Rule] = sorted(valid, key=lambda rule: rule.rule_id)
    if environment is not None:
        from deployer.environments import adapt_rule, load_environment

        # An export connects nowhere, so no credentials; its overrides and exclusions are checked against the rules.
        settings = load_environment(environment, config_path, valid, read_credentials=False)
        rules = [adapt_rule(rule, settings) for rule in rules]
    compile_rule = target_kind(target).compile_rule
    payloads: list[JSON] = []
    problems: list[Problem] = []
    for rule in rules:
        try:
            payloads.append(compile_rule(rule))
        except UnsupportedByTarget as error:
            problems.append(Problem(display_path(rule.path), error.pointer, f"{target}: {error}"))
    if problems:
        raise InvalidRules(problems, where="in the rules")
    return payloads


def to_ndjson(payloads: list[JSON]) -> str:
    return "".join(json.dumps(payload, ensure_ascii=False) + "\n" for payload in payloads)


def write_export(text: str, output: Path) -> None:
    """Write the whole file or nothing: a half-written export must never be imported by mistake."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_text(text, "utf-8")
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DetectError(f"cannot write {display_path(output)}: {error.strerror or error}") from None

"""Environments from detect.toml: where each target lives, how to authenticate, what to override.

Secrets never live in the file: it names environment variables, read here and kept out of every repr.
The file is checked as carefully as a rule file: its schema, then what the schema cannot see (overrides for data
sources and rules that do not exist, exclusions that could never match, URLs and TLS settings that would leak
credentials or fail at the first request). A problem names the key the way the TOML file spells it, for example
`detect.toml: environments.prod.exclusions[0].field: ...`. Those checks live in deployer.environments_checks;
this module holds the settings and loads them. Each registered target has its table, named after it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.environments_checks import (
    config_problems,
    config_warnings,
    key_path,
    schema_problems,
    tls_file_problems,
)
from deployer.errors import DetectError, InvalidRules, Problem, display_path
from deployer.rules.model import Exclusion, Rule
from deployer.targets import names as target_names

DEFAULT_CONFIG = Path("detect.toml")
# Warnings about settings that work but weaken a deploy, one line each; the CLI prints them as `warning: ...`.
warnings_log = logging.getLogger("detect.warnings")
# The keys of a target table this module reads itself; the others are the target's own (TargetSettings.options).
_CONNECTION_KEYS = frozenset({"url", "spaces", "api_key_env", "username_env", "password_env", "allow_plain_http", "tls"})


@dataclass(frozen=True)
class Tls:
    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@dataclass(frozen=True)
class Credentials:
    """Secrets read from the environment; repr shows only which kind is set."""

    api_key: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.api_key, self.password) if value)


@dataclass(frozen=True)
class TargetSettings:
    """One target table of an environment, read: `name` is the target's registry name (the table's key)."""

    name: str
    url: str
    credentials: Credentials
    tls: Tls
    spaces: tuple[str, ...] = ("default",)
    # The table's settings the target declares itself (its settings_schema beyond the connection), as written.
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # The cluster the target's rules run on, when its table names one apart from its URL (its engine_table).
    engine: TargetSettings | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    protected: bool
    enabled: bool | None
    index: dict[str, tuple[str, ...]]
    exclusions: dict[str, tuple[Exclusion, ...]]
    targets: tuple[TargetSettings, ...]


def load_environment(name: str, path: Path = DEFAULT_CONFIG, rules: Sequence[Rule] | None = None, *,
                     read_credentials: bool = True) -> Environment:
    """The named environment; raises InvalidRules (detect.toml + key) or DetectError with one line.

    With `rules`, its index overrides and exclusions are checked against them and their data sources too. Warnings
    (such as `tls.verify = false`) go to the `detect.warnings` logger. Without `read_credentials` (an offline
    export), the credential variables are neither read nor required: only a command that connects needs them.
    """
    shown, document = _read(path)
    problems = schema_problems(shown, document)
    if problems:
        raise InvalidRules(problems, where=f"in {shown}")
    environments = document["environments"]
    if name not in environments:
        raise DetectError(f"{shown}: no environment {name!r} (defined: {', '.join(sorted(environments))})")
    problems = config_problems(document, rules, shown=shown, environments=[name])
    if read_credentials:  # the certificate files matter only to a command that connects
        problems += tls_file_problems(shown, path.parent, name, environments[name])
    if problems:
        raise InvalidRules(sorted(problems), where=f"in {shown}")
    for warning in config_warnings(document, shown=shown, environments=[name]):
        warnings_log.warning(warning)
    return _environment(shown, path.parent, name, environments[name], read_credentials)


def check_config(path: Path, rules: Sequence[Rule]) -> list[Problem]:
    """Every problem of the whole file, checked against `rules` (what `detect validate` reports); warnings are logged.

    Credentials are not read and certificate files not opened: validation runs where neither exists (CI)."""
    if not path.is_file():
        raise DetectError(f"{display_path(path)}: no such file (environments are defined in detect.toml at the repository root)")
    try:
        shown, document = _read(path)
    except InvalidRules as error:
        return error.problems
    problems = schema_problems(shown, document)
    if problems:
        return problems
    for warning in config_warnings(document, shown=shown):
        warnings_log.warning(warning)
    return config_problems(document, rules, shown=shown)


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    shown = display_path(path)
    if not path.is_file():
        raise DetectError(f"{shown}: no such file (environments are defined in detect.toml at the repository root)")
    try:
        return shown, tomllib.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidRules([Problem(shown, "", f"not UTF-8: invalid byte at offset {error.start}")], where=f"in {shown}") from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        problem = Problem(shown, "", f"invalid TOML: {message}")
        if found:
            reason = message[: found.start()].strip()
            problem = Problem(shown, f"line {found.group(1)}", f"invalid TOML at column {found.group(2)}: {reason}")
        raise InvalidRules([problem], where=f"in {shown}") from None


def _environment(shown: str, folder: Path, name: str, table: dict[str, Any], read_credentials: bool = True) -> Environment:
    exclusions: dict[str, list[Exclusion]] = {}
    for item in table.get("exclusions", []):
        exclusions.setdefault(item["rule_id"], []).append(Exclusion(item["field"], tuple(item["values"]), item["reason"]))
    targets = []
    for target_name in target_names():
        if target_name in table:
            targets.append(_target(shown, folder, name, target_name, table[target_name], read_credentials))
    if not targets:
        raise InvalidRules([Problem(shown, key_path(["environments", name]),
                                     f"no target: add a {' or '.join(f'[{target}]' for target in target_names())} table")],
                           where=f"in {shown}")
    return Environment(
        name=name,
        protected=table.get("protected", False),
        enabled=table.get("enabled"),
        index={source: tuple(patterns) for source, patterns in table.get("index", {}).items()},
        exclusions={rule_id: tuple(items) for rule_id, items in exclusions.items()},
        targets=tuple(targets),
    )


def _target(shown: str, folder: Path, environment: str, name: str, table: dict[str, Any],
            read_credentials: bool = True) -> TargetSettings:
    from deployer.targets import target_kind

    engine_table = target_kind(name).engine_table
    settings = _connection(shown, folder, ["environments", environment, name], name, table, read_credentials)
    if engine_table and engine_table in table:
        engine = _connection(shown, folder, ["environments", environment, name, engine_table], target_kind(name).engine,
                             table[engine_table], read_credentials)
        settings = dataclasses.replace(settings, engine=engine,
                                       options={key: value for key, value in settings.options.items() if key != engine_table})
    return settings


def engine_connections(environment: Environment) -> dict[str, TargetSettings]:
    """Engine name -> the cluster of this environment its rules run on: a target's own URL, or the cluster its
    table names apart from its URL (its engine_table). What `detect test --env` proves on."""
    from deployer.targets import target_kind

    found: dict[str, TargetSettings] = {}
    for settings in environment.targets:
        kind = target_kind(settings.name)
        connection = settings.engine if kind.engine_table else settings
        if connection is not None:
            found.setdefault(kind.engine, connection)
    return found


def _connection(shown: str, folder: Path, where: list[str | int], name: str, table: dict[str, Any],
                read_credentials: bool) -> TargetSettings:
    values: dict[str, str | None] = {}
    for key in ("api_key_env", "username_env", "password_env"):
        variable = table.get(key)
        if variable is None or not read_credentials:
            values[key] = None
            continue
        value = os.environ.get(variable)
        if not value:
            raise InvalidRules([Problem(shown, key_path([*where, key]), f"environment variable {variable} is not set")],
                               where=f"in the environment variables {shown} names")
        values[key] = value
    tls = table.get("tls", {})

    def file_setting(key: str) -> str | None:
        # Relative to detect.toml, as a user reading the file expects (the same as before when run at its folder).
        return str(folder / tls[key]) if key in tls else None

    return TargetSettings(
        name=name,
        url=table["url"].rstrip("/"),
        credentials=Credentials(values["api_key_env"], values["username_env"], values["password_env"]),
        tls=Tls(tls.get("verify", True), file_setting("ca_cert"), file_setting("client_cert"), file_setting("client_key")),
        spaces=tuple(table.get("spaces", ["default"])),
        options={key: value for key, value in table.items() if key not in _CONNECTION_KEYS},
    )


def adapt_rule(rule: Rule, environment: Environment) -> Rule:
    """The rule as this environment runs it: its enabled flag, index patterns and extra exclusions."""
    extra = environment.exclusions.get(rule.rule_id, ())
    exclusions: tuple[Exclusion, ...] = (*rule.exclusions, *extra)
    return dataclasses.replace(
        rule,
        enabled=rule.enabled if environment.enabled is None else environment.enabled,
        index=environment.index.get(rule.data_source, rule.index) if rule.data_source else rule.index,
        exclusions=exclusions,
    )


__all__ = [
    "DEFAULT_CONFIG",
    "Credentials",
    "Environment",
    "TargetSettings",
    "Tls",
    "adapt_rule",
    "check_config",
    "config_problems",
    "config_warnings",
    "key_path",
    "load_environment",
    "warnings_log",
]

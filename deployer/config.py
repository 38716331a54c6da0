"""Environments from detect.toml: where each target lives, how to authenticate, what to override.

Secrets never live in the file: it names environment variables, read here and kept out of every repr.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from deployer.errors import DetectError, InvalidRules, Problem, display_path, pointer_of
from deployer.model import Exclusion

DEFAULT_CONFIG = Path("detect.toml")


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
    name: str  # "kibana" or "opensearch"
    url: str
    credentials: Credentials
    tls: Tls
    spaces: tuple[str, ...] = ("default",)


@dataclass(frozen=True)
class Environment:
    name: str
    protected: bool
    enabled: bool | None
    index: dict[str, tuple[str, ...]]
    exclusions: dict[str, tuple[Exclusion, ...]]
    targets: tuple[TargetSettings, ...]


def load_environment(name: str, path: Path = DEFAULT_CONFIG, *, read_credentials: bool = True) -> Environment:
    """The named environment; raises InvalidRules (file + JSON pointer) or DetectError with one line.

    Without `read_credentials` (an offline export), the credential variables are neither read nor required:
    only a command that connects needs them.
    """
    shown = display_path(path)
    if not path.is_file():
        raise DetectError(f"{shown}: no such file (environments are defined in detect.toml at the repository root)")
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidRules([Problem(shown, "", f"invalid TOML: {error}")], where=f"in {shown}") from None
    problems = _schema_problems(shown, document)
    if problems:
        raise InvalidRules(problems, where=f"in {shown}")
    environments = document["environments"]
    if name not in environments:
        raise DetectError(f"{shown}: no environment {name!r} (defined: {', '.join(sorted(environments))})")
    return _environment(shown, name, environments[name], read_credentials)


def _environment(shown: str, name: str, table: dict[str, Any], read_credentials: bool = True) -> Environment:
    exclusions: dict[str, list[Exclusion]] = {}
    for item in table.get("exclusions", []):
        exclusions.setdefault(item["rule_id"], []).append(Exclusion(item["field"], tuple(item["values"]), item["reason"]))
    targets = []
    for target_name in ("kibana", "opensearch"):
        if target_name in table:
            targets.append(_target(shown, name, target_name, table[target_name], read_credentials))
    if not targets:
        raise InvalidRules([Problem(shown, pointer_of(["environments", name]), "no target: add a [kibana] or [opensearch] table")],
                           where=f"in {shown}")
    return Environment(
        name=name,
        protected=table.get("protected", False),
        enabled=table.get("enabled"),
        index={source: tuple(patterns) for source, patterns in table.get("index", {}).items()},
        exclusions={rule_id: tuple(items) for rule_id, items in exclusions.items()},
        targets=tuple(targets),
    )


def _target(shown: str, environment: str, name: str, table: dict[str, Any], read_credentials: bool = True) -> TargetSettings:
    where = ["environments", environment, name]
    values: dict[str, str | None] = {}
    for key in ("api_key_env", "username_env", "password_env"):
        variable = table.get(key)
        if variable is None or not read_credentials:
            values[key] = None
            continue
        value = os.environ.get(variable)
        if not value:
            raise InvalidRules([Problem(shown, pointer_of([*where, key]), f"environment variable {variable} is not set")],
                               where=f"in the environment variables {shown} names")
        values[key] = value
    if (table.get("username_env") is None) != (table.get("password_env") is None):
        raise InvalidRules([Problem(shown, pointer_of(where), "username_env and password_env go together")], where=f"in {shown}")
    tls = table.get("tls", {})
    return TargetSettings(
        name=name,
        url=table["url"].rstrip("/"),
        credentials=Credentials(values["api_key_env"], values["username_env"], values["password_env"]),
        tls=Tls(tls.get("verify", True), tls.get("ca_cert"), tls.get("client_cert"), tls.get("client_key")),
        spaces=tuple(table.get("spaces", ["default"])),
    )


@cache
def _validator() -> Any:
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads((resources.files("deployer") / "schema" / "config.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _schema_problems(shown: str, document: Any) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(document):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            if unknown and error.schema.get("properties"):
                problems.append(Problem(shown, pointer_of([*path, unknown[0]]), f"unknown setting {unknown[0]!r}"))
                continue
        if error.validator == "required":
            missing = error.message.split("'")[1]
            problems.append(Problem(shown, pointer_of([*path, missing]), "required setting is missing"))
            continue
        problems.append(Problem(shown, pointer_of(path), error.message))
    return sorted(problems)

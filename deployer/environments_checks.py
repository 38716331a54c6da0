"""What detect.toml's schema cannot see, and the schema itself: overrides for data sources and rules that do not
exist, exclusions that could never match, URLs and TLS settings that would leak credentials or fail at the first
request. Pure over the parsed document (only the certificate checks read files); deployer.environments loads the
file and runs these.

A target's table is checked by what every table holds (CONNECTION_SETTINGS in deployer.targets.base); its schema is
assembled from the registry, so a target added there is validated like the built-in ones.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from deployer.errors import Problem
from deployer.rules.model import Rule
from deployer.targets import every_target
from deployer.targets import names as target_names

if TYPE_CHECKING:
    from deployer.targets.base import TargetKind

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_path(parts: Iterable[str | int]) -> str:
    """A TOML dotted key for a sequence of keys and indexes: `environments.prod.index."windows.sysmon"`, `...exclusions[0]`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        text += f".{key}" if text else key
    return text


def config_problems(document: dict[str, Any], rules: Sequence[Rule] | None, *, shown: str = "detect.toml",
                    environments: Iterable[str] | None = None) -> list[Problem]:
    """What the schema cannot see in a schema-valid document, for every environment (or those named).

    Pure: no environment variable, no file, no network. Without `rules`, only the settings of the targets are checked.
    """
    from deployer.rules.datasource import available_data_sources

    known_sources = available_data_sources()
    by_id = {rule.rule_id: rule for rule in rules} if rules is not None else None
    problems: list[Problem] = []
    tables = document["environments"]
    for name in environments if environments is not None else sorted(tables):
        table = tables[name]
        where: list[str | int] = ["environments", name]
        for source in table.get("index", {}):
            if source not in known_sources:
                problems.append(Problem(shown, key_path([*where, "index", source]),
                                        f"no data source {source!r}: this override would never apply "
                                        f"(known: {', '.join(known_sources)})"))
        if by_id is not None:
            for number, item in enumerate(table.get("exclusions", [])):
                problems += _exclusion_problems(shown, [*where, "exclusions", number], item, by_id)
        for keys, connection in connection_tables(table):
            problems += _target_problems(shown, [*where, *keys], connection)
    return sorted(problems)


def connection_tables(environment: dict[str, Any]) -> list[tuple[list[str | int], dict[str, Any]]]:
    """Every connection table of one environment's table, with its keys below it: each target's, and the engine
    cluster a target names apart from its URL (its engine_table)."""
    from deployer.targets import target_kind

    found: list[tuple[list[str | int], dict[str, Any]]] = []
    for target in target_names():
        if target in environment:
            found.append(([target], environment[target]))
            engine_table = target_kind(target).engine_table
            if engine_table and engine_table in environment[target]:
                found.append(([target, engine_table], environment[target][engine_table]))
    return found


def config_warnings(document: dict[str, Any], *, shown: str = "detect.toml",
                    environments: Iterable[str] | None = None) -> list[str]:
    """Settings that work but weaken every deploy: each one a line to print on every run."""
    warnings = []
    tables = document["environments"]
    for name in environments if environments is not None else sorted(tables):
        for keys, settings in connection_tables(tables[name]):
            if settings.get("tls", {}).get("verify", True) is False:
                warnings.append(f"{shown}: {key_path(['environments', name, *keys, 'tls', 'verify'])} is false: "
                                f"the {keys[-1]} server's certificate is not checked, so anyone on the network path "
                                "can pose as it and read the credentials")
    return warnings


def _exclusion_problems(shown: str, where: list[str | int], item: dict[str, Any], by_id: dict[str, Rule]) -> list[Problem]:
    from deployer.rules.fields import rule_fields

    rule = by_id.get(item["rule_id"])
    if rule is None:
        return [Problem(shown, key_path([*where, "rule_id"]),
                        f"no valid rule has rule_id {item['rule_id']!r}: this exclusion would never apply")]
    source = rule_fields(rule)
    if source is None:  # the rule itself is reported
        return []
    return [Problem(shown, key_path([*where, "field"] if number is None else [*where, "values", number]),
                    message.replace(": this exclusion", f" (of rule {rule.rule_id}): this exclusion", 1))
            for number, message in source.exclusion_findings(item["field"], item["values"])]


def _target_problems(shown: str, where: list[str | int], table: dict[str, Any]) -> list[Problem]:
    problems = []
    uses_key = "api_key_env" in table
    uses_password = "username_env" in table or "password_env" in table
    if uses_key and uses_password:
        problems.append(Problem(shown, key_path([*where, "api_key_env"]),
                                "api_key_env together with username_env/password_env is ambiguous: keep one way to "
                                "authenticate"))
    for present, missing in (("username_env", "password_env"), ("password_env", "username_env")):
        if present in table and missing not in table:
            problems.append(Problem(shown, key_path([*where, present]), f"{present} needs {missing} too"))
    tls = table.get("tls", {})
    for present, missing in (("client_cert", "client_key"), ("client_key", "client_cert")):
        if present in tls and missing not in tls:
            problems.append(Problem(shown, key_path([*where, "tls", present]),
                                    f"tls.{present} needs tls.{missing} too (a client certificate is a pair)"))
    url = table["url"]
    if url != "local":  # a target whose schema admits `local` means a node on this machine: no URL to check
        url_problem = _url_problem(url, credentials=uses_key or uses_password,
                                   allow_plain_http=table.get("allow_plain_http", False))
        if url_problem:
            problems.append(Problem(shown, key_path([*where, "url"]), url_problem))
    return problems


def _url_problem(url: str, *, credentials: bool, allow_plain_http: bool) -> str | None:
    """What is wrong with a target URL, without repeating it: it may hold a password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"not a valid URL ({error})"
    if "@" in parts.netloc:
        return ("a URL must not hold credentials (user:password@): it is printed and logged; name environment "
                "variables in username_env/password_env or api_key_env instead")
    if parts.scheme not in ("http", "https"):
        return "not a valid URL: it starts with http:// or https://"
    if not parts.hostname or any(character.isspace() for character in url) or (port is not None and port == 0):
        return "not a valid URL: it names no host (or holds spaces, or port 0)"
    if parts.query or parts.fragment:
        return "not a valid URL for a target: it must not hold a query (?) or fragment (#)"
    if parts.scheme == "http" and credentials and not allow_plain_http and not _loopback(parts.hostname):
        return (f"plain http:// would send the credentials in clear to {parts.hostname}: use https://, or set "
                "allow_plain_http = true on this target if the network path is trusted")
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_file_problems(shown: str, folder: Path, environment: str, table: dict[str, Any]) -> list[Problem]:
    """The certificate files of one environment's targets exist and are PEM (read only when they will be used)."""
    import ssl

    problems = []
    for keys, connection in connection_tables(table):
        tls = connection.get("tls", {})
        where = ["environments", environment, *keys, "tls"]
        if "ca_cert" in tls:
            message = _pem_problem(folder / tls["ca_cert"], "CERTIFICATE")
            if message is None:
                try:
                    ssl.create_default_context().load_verify_locations(cafile=str(folder / tls["ca_cert"]))
                except ssl.SSLError as error:
                    message = f"{tls['ca_cert']!r} holds no certificate OpenSSL can read ({error.reason or error})"
            if message:
                problems.append(Problem(shown, key_path([*where, "ca_cert"]), message))
        if "client_cert" in tls and "client_key" in tls:
            messages = {key: _pem_problem(folder / tls[key], "CERTIFICATE" if key == "client_cert" else "PRIVATE KEY")
                        for key in ("client_cert", "client_key")}
            for key, message in messages.items():
                if message:
                    problems.append(Problem(shown, key_path([*where, key]), message))
            if not any(messages.values()):
                try:
                    # A password callback that gives none: an encrypted key fails here instead of prompting later.
                    ssl.create_default_context().load_cert_chain(str(folder / tls["client_cert"]), str(folder / tls["client_key"]),
                                                                 password=lambda: b"")
                except ssl.SSLError as error:
                    problems.append(Problem(shown, key_path([*where, "client_key"]),
                                            f"{tls['client_key']!r} is not the unencrypted key of {tls['client_cert']!r} "
                                            f"({error.reason or error})"))
    return problems


def _pem_problem(path: Path, label: str) -> str | None:
    try:
        text = path.read_bytes()[: 1024 * 1024].decode("ascii", errors="replace")
    except OSError as error:
        return f"cannot read {str(path)!r}: {error.strerror or error}"
    if not re.search(rf"-----BEGIN [A-Z ]*{label}-----", text):
        return f"{str(path)!r} is not a PEM file (no '-----BEGIN ...{label}-----' line)"
    return None


def config_schema() -> dict[str, Any]:
    """detect.toml's JSON schema: the environments' own keys from schema/config.schema.json, one table per registered
    target from its descriptor."""
    schema: dict[str, Any] = json.loads((resources.files("deployer") / "schema" / "config.schema.json").read_text("utf-8"))
    tables = schema["$defs"]["environment"]["properties"]
    for kind in every_target():
        tables[kind.name] = kind.table_schema()
    return schema


def schema_problems(shown: str, document: Any) -> list[Problem]:
    """Schema errors named by TOML key. Messages never repeat a value: a URL or a misplaced secret would be printed."""
    problems = []
    for error in _validator(tuple(type(kind) for kind in every_target())).iter_errors(document):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            if unknown and error.schema.get("properties"):
                problems.append(Problem(shown, key_path([*path, unknown[0]]), f"unknown setting {unknown[0]!r}"))
                continue
        if error.validator == "required":
            missing = error.message.split("'")[1]
            problems.append(Problem(shown, key_path([*path, missing]), "required setting is missing"))
            continue
        problems.append(Problem(shown, key_path(path), _schema_message(error)))
    return sorted(problems)


def _schema_message(error: Any) -> str:
    validator, expected = error.validator, error.validator_value
    if validator == "type":
        kinds = {"string": "a string", "boolean": "true or false", "array": "a list", "object": "a table",
                 "integer": "a whole number"}
        wanted = [expected] if isinstance(expected, str) else list(expected)
        return "expected " + " or ".join(kinds.get(kind, kind) for kind in wanted)
    if validator == "pattern":
        if str(error.absolute_path[-1] if error.absolute_path else "").endswith("_env"):
            return "expected the name of an environment variable (letters, digits, _), not the secret itself"
        if error.absolute_path and error.absolute_path[-1] == "url":
            return "expected a URL starting with http:// or https://" + (" (or `local`)" if "local" in expected else "")
        return f"does not have the expected form ({expected})"
    if validator == "minLength":
        return "must not be empty"
    if validator == "minItems":
        return f"must list at least {expected} item(s)"
    if validator == "minProperties":
        return f"must hold at least {expected} table(s)"
    if validator == "uniqueItems":
        return "lists an item twice"
    return f"invalid ({validator}: {expected})"




@cache
def _validator(kinds: tuple[type[TargetKind], ...]) -> Any:
    """One validator per set of registered targets (the tests register and unregister one)."""
    import jsonschema  # type: ignore[import-untyped]

    return jsonschema.Draft202012Validator(config_schema())

"""detect.toml checked as carefully as rule files: overrides and exclusions that could never apply, URLs and TLS
settings that would leak credentials or fail at the first request. Each problem is one line naming detect.toml and
the key as the TOML file spells it, in `validate`, `deploy` and `export`, before any connection."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest

from deployer.environments import check_config, config_problems, key_path, load_environment
from deployer.errors import InvalidRules
from deployer.rules.model import Rule
from tests.conftest import DSL_RULE, detect
from tests.support.tripwire import Tripwire, tripwire_port

RULE_ID = json.loads(DSL_RULE.read_text("utf-8"))["rule_id"]
DATA_SOURCE = json.loads(DSL_RULE.read_text("utf-8"))["data_source"]
PASSWORD = "hunter2-Zq8vK2mN7x"


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    with tripwire_port() as port:
        yield port


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One rule of the tests' own under detections/, credentials in the environment."""
    (tmp_path / "detections").mkdir()
    shutil.copy(DSL_RULE, tmp_path / "detections" / DSL_RULE.name)
    monkeypatch.setenv("TEST_CONFIG_USER", "detect-ci")
    monkeypatch.setenv("TEST_CONFIG_PASSWORD", PASSWORD)
    monkeypatch.setenv("TEST_CONFIG_KEY", "a2V5LWlkOmtleS1zZWNyZXQ=")
    return tmp_path


def _exclusion(field: str = "host.name", values: str = '["LAB-01"]', rule_id: str = RULE_ID) -> str:
    return f'[[environments.ci.exclusions]]\nrule_id = "{rule_id}"\nfield = "{field}"\nvalues = {values}\nreason = "lab"\n'


@dataclass(frozen=True)
class BadConfig:
    name: str
    environment: str  # the [environments.ci] part, with {url} for the tripwire
    kibana: str  # lines of [environments.ci.kibana]
    expected: tuple[str, ...]  # the problem lines, regexps matched whole
    commands: tuple[str, ...] = ("validate", "deploy", "export")
    secret: str | None = None  # must appear nowhere in the output


CI = "environments.ci"
BAD_CONFIGS = [
    BadConfig("index override for an unknown data source", '[environments.ci.index]\n"windows.sysmon" = ["logs-*"]\n', "",
              (rf'detect.toml: {CI}.index."windows.sysmon": no data source \'windows.sysmon\': this override would never '
               rf"apply \(known: .*{DATA_SOURCE}.*\)",)),
    BadConfig("exclusion for an unknown rule_id", _exclusion(rule_id="no-such-rule"), "",
              (rf"detect.toml: {CI}.exclusions\[0\].rule_id: no valid rule has rule_id 'no-such-rule': this exclusion "
               "would never apply",)),
    BadConfig("exclusion on a field not in the data source", _exclusion(field="host.nam"), "",
              (rf"detect.toml: {CI}.exclusions\[0\].field: field 'host.nam' is not in data source {DATA_SOURCE} "
               rf"\(of rule {RULE_ID}\): this exclusion would never match",)),
    BadConfig("exclusion on a text field", _exclusion(field="message", values='["scan"]'), "",
              (rf"detect.toml: {CI}.exclusions\[0\].field: field 'message' is a text field in data source {DATA_SOURCE}: "
               "an exclusion compares whole values, which a text field does not keep; use a keyword field",)),
    BadConfig("exclusion with a word for a number field", _exclusion(field="process.pid", values='[4, "four"]'), "",
              (rf"detect.toml: {CI}.exclusions\[0\].values\[1\]: 'four' is not a whole number, but 'process.pid' is a "
               "long field",)),
    BadConfig("credentials in the URL", "", f'url = "https://detect:{PASSWORD}@kibana.example"\n',
              (rf"detect.toml: {CI}.kibana.url: a URL must not hold credentials \(user:password@\): .+",), secret=PASSWORD),
    BadConfig("credentials in a URL the schema refuses", "", f'url = "ftp://detect:{PASSWORD}@kibana.example"\n',
              (rf"detect.toml: {CI}.kibana.url: expected a URL starting with http:// or https://",), secret=PASSWORD),
    BadConfig("a secret where a variable name belongs", "", 'url = "{url}"\napi_key_env = "a2V5LWlkOmtleS1zZWNyZXQ="\n',
              (rf"detect.toml: {CI}.kibana.api_key_env: expected the name of an environment variable .+",),
              secret="a2V5LWlkOmtleS1zZWNyZXQ"),
    BadConfig("URL without a host", "", 'url = "https://"\n', (rf"detect.toml: {CI}.kibana.url: not a valid URL: .+",)),
    BadConfig("URL with a port out of range", "", 'url = "https://kibana.example:99999"\n',
              (rf"detect.toml: {CI}.kibana.url: not a valid URL \(.+\)",)),
    BadConfig("plain http with credentials to a remote host", "",
              'url = "http://kibana.example:5601"\nusername_env = "TEST_CONFIG_USER"\npassword_env = "TEST_CONFIG_PASSWORD"\n',
              (rf"detect.toml: {CI}.kibana.url: plain http:// would send the credentials in clear to kibana.example: "
               "use https://, or set allow_plain_http = true on this target if the network path is trusted",)),
    BadConfig("an API key and a password", "",
              'url = "{url}"\napi_key_env = "TEST_CONFIG_KEY"\nusername_env = "TEST_CONFIG_USER"\npassword_env = "TEST_CONFIG_PASSWORD"\n',
              (rf"detect.toml: {CI}.kibana.api_key_env: api_key_env together with username_env/password_env is "
               "ambiguous: keep one way to authenticate",)),
    BadConfig("client_cert without client_key", "", 'url = "{url}"\ntls = {{ client_cert = "client.pem" }}\n',
              (rf"detect.toml: {CI}.kibana.tls.client_cert: tls.client_cert needs tls.client_key too .+",)),
    BadConfig("client_key without client_cert", "", 'url = "{url}"\ntls = {{ client_key = "client.key" }}\n',
              (rf"detect.toml: {CI}.kibana.tls.client_key: tls.client_key needs tls.client_cert too .+",)),
    BadConfig("missing ca_cert", "", 'url = "{url}"\ntls = {{ ca_cert = "certs/none.pem" }}\n',
              (rf"detect.toml: {CI}.kibana.tls.ca_cert: cannot read '.*certs/none.pem': No such file or directory",),
              commands=("deploy",)),
    BadConfig("ca_cert not PEM", "", 'url = "{url}"\ntls = {{ ca_cert = "detect.toml" }}\n',
              (rf"detect.toml: {CI}.kibana.tls.ca_cert: '.*detect.toml' is not a PEM file .+",), commands=("deploy",)),
    BadConfig("invalid TOML", "", 'url = "{url}\n',
              (r"detect.toml: line \d+: invalid TOML at column \d+: .+",)),
]


def _write_config(repository: Path, case: BadConfig, url: str) -> None:
    (repository / "detect.toml").write_text(
        case.environment.replace("{url}", url) + "[environments.ci.kibana]\n"
        + (case.kibana.format(url=url) if case.kibana else f'url = "{url}"\n'), "utf-8")


def _arguments(command: str) -> list[str]:
    return {"validate": ["validate"], "deploy": ["deploy", "--env", "ci", "--dry-run"],
            "export": ["export", "--target", "kibana", "--env", "ci", "-o", "out.ndjson"]}[command]


@pytest.mark.parametrize(("case", "command"), [pytest.param(case, command, id=f"{case.name}-{command}")
                                               for case in BAD_CONFIGS for command in case.commands])
def test_a_bad_detect_toml_is_one_line_per_problem(case: BadConfig, command: str, repository: Path, tripwire: Tripwire) -> None:
    _write_config(repository, case, tripwire.url)
    result = detect(*_arguments(command), cwd=repository)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert result.stdout.splitlines() and len(result.stdout.splitlines()) == len(case.expected), output
    for pattern in case.expected:
        assert [line for line in result.stdout.splitlines() if re.fullmatch(pattern, line)], \
            f"no line matches {pattern!r} in:\n{output}"
    assert tripwire.contacts == [], output
    assert not (repository / "out.ndjson").exists()
    if case.secret:
        assert case.secret not in output


def test_the_same_settings_done_right_pass(repository: Path, tripwire: Tripwire) -> None:
    """The control: fixed, every case above validates (and deploy then really tries the network)."""
    shutil.copy(certifi.where(), repository / "ca.pem")
    (repository / "detect.toml").write_text(
        f'[environments.ci.index]\n"{DATA_SOURCE}" = ["logs-windows.sysmon_operational-prod-*"]\n'
        + _exclusion() + _exclusion(field="process.pid", values='[4, "8"]')
        + f'[environments.ci.kibana]\nurl = "{tripwire.url}"\nusername_env = "TEST_CONFIG_USER"\n'
        'password_env = "TEST_CONFIG_PASSWORD"\ntls = { ca_cert = "ca.pem" }\n'
        '[environments.remote.kibana]\nurl = "http://kibana.example:5601"\nallow_plain_http = true\n'
        'api_key_env = "TEST_CONFIG_KEY"\n', "utf-8")
    validated = detect("validate", cwd=repository)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    exported = detect("export", "--target", "kibana", "--env", "ci", cwd=repository)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    deployed = detect("deploy", "--env", "ci", "--dry-run", cwd=repository)
    assert deployed.returncode == 2 and tripwire.contacts, deployed.stdout + deployed.stderr


def test_a_relative_ca_cert_is_found_next_to_detect_toml(repository: Path) -> None:
    # The test runs in another folder: the path is read relative to detect.toml, not to the working folder.
    shutil.copy(certifi.where(), repository / "ca.pem")
    (repository / "detect.toml").write_text('[environments.ci.kibana]\nurl = "https://kibana.example"\n'
                                            'tls = { ca_cert = "ca.pem" }\n')
    environment = load_environment("ci", repository / "detect.toml")
    assert environment.targets[0].tls.ca_cert == str(repository / "ca.pem")


@pytest.mark.parametrize("command", ["validate", "deploy", "export"])
def test_tls_verify_false_warns_on_every_run(command: str, repository: Path, tripwire: Tripwire) -> None:
    https = tripwire.url.replace("http://", "https://")
    (repository / "detect.toml").write_text(f'[environments.ci.kibana]\nurl = "{https}"\ntls = {{ verify = false }}\n')
    for _run in range(2):
        result = detect(*_arguments(command), cwd=repository)
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
        assert warnings == ["warning: detect.toml: environments.ci.kibana.tls.verify is false: the kibana server's "
                            "certificate is not checked, so anyone on the network path can pose as it and read the "
                            "credentials"], result.stderr
        assert result.returncode == (2 if command == "deploy" else 0), result.stdout + result.stderr


def test_validate_checks_an_explicit_config_and_only_the_whole_rules_folder_by_default(repository: Path) -> None:
    (repository / "detect.toml").write_text('[environments.ci.kibana]\nurl = "https://kibana.example"\n'
                                            + _exclusion(rule_id="no-such-rule"))
    (repository / "other.toml").write_text('[environments.lab.kibana]\nurl = "https://kibana.example"\n'
                                           '[[environments.lab.exclusions]]\nrule_id = "gone"\nfield = "host.name"\n'
                                           'values = ["a"]\nreason = "r"\n')
    assert detect("validate", cwd=repository).returncode == 1
    # Some files only: an exclusion for a rule not given is not unknown, so detect.toml is left alone...
    assert detect("validate", f"detections/{DSL_RULE.name}", cwd=repository).returncode == 0
    # ...unless asked for.
    explicit = detect("validate", "--config", "other.toml", "--format", "json", cwd=repository)
    assert explicit.returncode == 1
    assert [problem["file"] for problem in json.loads(explicit.stdout)["problems"]] == ["other.toml"]
    missing = detect("validate", "--config", "none.toml", cwd=repository)
    assert missing.returncode == 2 and missing.stderr.strip().endswith("none.toml: no such file (environments are "
                                                                       "defined in detect.toml at the repository root)")


# ------------------------------------------------------------------------------------------- the functions themselves


def _rules() -> list[Rule]:
    return [Rule.from_document(DSL_RULE, json.loads(DSL_RULE.read_text("utf-8")))]


def test_key_path_reads_as_the_toml_file_spells_it() -> None:
    assert key_path(["environments", "prod", "exclusions", 0, "field"]) == "environments.prod.exclusions[0].field"
    assert key_path(["environments", "prod", "index", "windows.sysmon_operational"]) == \
        'environments.prod.index."windows.sysmon_operational"'


def test_config_problems_is_pure_and_checks_exclusions_only_against_rules() -> None:
    document = {"environments": {"ci": {"exclusions": [{"rule_id": "gone", "field": "x", "values": ["a"], "reason": "r"}],
                                        "kibana": {"url": "https://kibana.example"}}}}
    assert config_problems(document, None) == []
    [problem] = config_problems(document, _rules())
    assert str(problem) == ("detect.toml: environments.ci.exclusions[0].rule_id: no valid rule has rule_id 'gone': "
                            "this exclusion would never apply")


def test_load_environment_checks_against_rules_when_given(tmp_path: Path) -> None:
    config = tmp_path / "detect.toml"
    config.write_text('[environments.ci.kibana]\nurl = "https://kibana.example"\n' + _exclusion(field="host.nam"))
    assert load_environment("ci", config).exclusions  # without rules: as before
    with pytest.raises(InvalidRules) as refused:
        load_environment("ci", config, _rules())
    assert [problem.pointer for problem in refused.value.problems] == ["environments.ci.exclusions[0].field"]
    assert str(refused.value) == "1 problem(s) in " + refused.value.problems[0].file
    # Problems of another environment do not stop this one; `detect validate` reports every environment.
    config.write_text('[environments.ci.kibana]\nurl = "https://kibana.example"\n'
                      '[environments.lab.kibana]\nurl = "https://user:pw@kibana.example"\n')
    assert load_environment("ci", config, _rules()).name == "ci"
    assert [problem.pointer for problem in check_config(config, _rules())] == ["environments.lab.kibana.url"]


def _elasticsearch_config(tmp_path: Path, elasticsearch: str) -> Path:
    config = tmp_path / "detect.toml"
    config.write_text('[environments.staging]\n[environments.staging.kibana]\nurl = "https://kibana.example.internal"\n'
                      'api_key_env = "TEST_CONFIG_KEY"\n[environments.staging.kibana.elasticsearch]\n' + elasticsearch, "utf-8")
    return config


def test_a_kibana_table_may_name_its_elasticsearch_which_test_env_proves_on(repository: Path) -> None:
    from deployer.environments import engine_connections

    config = _elasticsearch_config(repository, 'url = "https://es.example.internal:9200/"\nusername_env = "TEST_CONFIG_USER"\n'
                                               'password_env = "TEST_CONFIG_PASSWORD"\n')
    environment = load_environment("staging", config)
    (kibana,) = environment.targets
    assert kibana.options == {} and kibana.engine is not None
    assert (kibana.engine.url, kibana.engine.credentials.username, kibana.engine.credentials.password) == \
        ("https://es.example.internal:9200", "detect-ci", PASSWORD)
    assert engine_connections(environment) == {"elasticsearch": kibana.engine}
    assert PASSWORD not in repr(environment)


def test_an_opensearch_target_is_its_own_engine_cluster_and_a_kibana_without_one_names_none(tmp_path: Path) -> None:
    from deployer.environments import engine_connections

    config = tmp_path / "detect.toml"
    config.write_text('[environments.a.opensearch]\nurl = "http://127.0.0.1:9200"\n'
                      '[environments.b.kibana]\nurl = "http://127.0.0.1:5601"\n', "utf-8")
    environment = load_environment("a", config)
    assert engine_connections(environment) == {"opensearch": environment.targets[0]}
    assert engine_connections(load_environment("b", config)) == {}


@pytest.mark.parametrize(("lines", "expected"), [
    ('url = "http://es.example.internal:9200"\napi_key_env = "TEST_CONFIG_KEY"\n',
     "detect.toml: environments.staging.kibana.elasticsearch.url: "),
    ('url = "https://es.example.internal"\napi_key_env = "UNSET_VARIABLE_FOR_TEST"\n',
     "detect.toml: environments.staging.kibana.elasticsearch.api_key_env: environment variable UNSET_VARIABLE_FOR_TEST is not set"),
    ('url = "https://es.example.internal"\nspaces = ["x"]\n', "detect.toml: environments.staging.kibana.elasticsearch"),
    ('url = "https://es.example.internal"\nusername_env = "TEST_CONFIG_USER"\n',
     "detect.toml: environments.staging.kibana.elasticsearch.username_env: username_env needs password_env too"),
])
def test_the_elasticsearch_table_is_checked_like_a_target_table(repository: Path, lines: str, expected: str) -> None:
    config = _elasticsearch_config(repository, lines)
    with pytest.raises(InvalidRules) as raised:
        load_environment("staging", config)
    shown = [str(problem) for problem in raised.value.problems]
    assert any(expected in line for line in shown), shown

"""`detect export`: the Kibana file goes through the import API of a Kibana that checks each rule against the
official contract; the OpenSearch file holds the monitors a deploy sends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployer.rules.ruleset import validate_paths
from deployer.targets import kibana as kibana_target
from deployer.targets import opensearch as opensearch_target
from tests.conftest import DETECTIONS, DSL_RULE, detect


def _repository_rules() -> list[Any]:
    return sorted(validate_paths([DETECTIONS]).rules, key=lambda rule: rule.rule_id)


def _import(kibana: Any, ndjson: bytes) -> dict[str, Any]:
    response = httpx.post(f"{kibana.url}/api/detection_engine/rules/_import", params={"overwrite": "true"},
                          headers={"kbn-xsrf": "true", "elastic-api-version": "2023-10-31"},
                          auth=("analyst", "not-checked"), files={"file": ("rules.ndjson", ndjson, "application/ndjson")})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_kibana_export_is_accepted_by_kibana_import(in_tmp: Path, kibana: Any) -> None:
    result = detect("export", "--target", "kibana", "-o", str(in_tmp / "rules.ndjson"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote 2 rule(s) to {in_tmp / 'rules.ndjson'}"
    answer = _import(kibana, (in_tmp / "rules.ndjson").read_bytes())
    assert (answer["success"], answer["success_count"], answer["errors"]) == (True, 2, [])
    stored = kibana.rules["default"]
    for rule in _repository_rules():
        payload = kibana_target.compile_rule(rule)
        # Kibana answers with its defaults and bookkeeping added: it holds what was sent when the two compare equal.
        assert kibana_target.comparable(stored[rule.rule_id]) == kibana_target.comparable(payload)


def test_a_rule_with_every_kibana_field_is_accepted_and_held_as_sent(kibana: Any) -> None:
    from deployer.rules.model import Rule
    from tests.targets.kibana.whole_rule import with_every_field

    payloads = [kibana_target.compile_rule(Rule.from_document(path, with_every_field(json.loads(path.read_text("utf-8")))))
                for path in sorted(DETECTIONS.glob("*.json"))]
    answer = _import(kibana, "".join(json.dumps(payload) + "\n" for payload in payloads).encode())
    assert (answer["success"], answer["success_count"], answer["errors"]) == (True, 2, [])
    for payload in payloads:
        assert kibana_target.comparable(kibana.rules["default"][payload["rule_id"]]) == kibana_target.comparable(payload)


def test_the_import_check_refuses_a_rule_kibana_would_refuse(in_tmp: Path, kibana: Any) -> None:
    line = json.loads(detect("export", "--target", "kibana").stdout.splitlines()[0])
    line["severity"] = "severe"
    answer = _import(kibana, json.dumps(line).encode())
    assert answer["success_count"] == 0 and answer["errors"][0]["rule_id"] == line["rule_id"]
    kibana.contract_errors.clear()  # expected here; any other test that sends such a rule fails at teardown


def test_opensearch_export_holds_the_monitors_a_deploy_sends() -> None:
    result = detect("export", "--target", "opensearch")
    assert result.returncode == 0, result.stderr
    monitors = [json.loads(line) for line in result.stdout.splitlines()]
    assert monitors == [opensearch_target.compile_rule(rule) for rule in _repository_rules()]


def test_export_for_an_environment_carries_its_settings(in_tmp: Path) -> None:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text('[environments.prod]\nenabled = true\n[environments.prod.kibana]\n'
                                        'url = "https://kibana.invalid"\n')
    plain = [json.loads(line) for line in detect("export", "--target", "kibana", cwd=in_tmp).stdout.splitlines()]
    prod = [json.loads(line) for line in detect("export", "--target", "kibana", "--env", "prod", cwd=in_tmp).stdout.splitlines()]
    assert [rule["enabled"] for rule in plain] == [False, False]
    assert [rule["enabled"] for rule in prod] == [True, True]


def test_export_for_an_environment_reads_no_credentials(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An offline export connects nowhere: the analyst exporting prod's file has no prod secret, and needs none.
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text('[environments.prod]\nenabled = true\n[environments.prod.kibana]\n'
                                        'url = "https://kibana.invalid"\napi_key_env = "DETECT_TEST_PROD_KEY"\n')
    monkeypatch.delenv("DETECT_TEST_PROD_KEY", raising=False)
    result = detect("export", "--target", "kibana", "--env", "prod", cwd=in_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [json.loads(line)["enabled"] for line in result.stdout.splitlines()] == [True, True]
    deploying = detect("deploy", "--env", "prod", "--dry-run", cwd=in_tmp)  # a command that connects still needs it
    assert deploying.returncode == 1 and "environment variable DETECT_TEST_PROD_KEY is not set" in deploying.stdout


def test_invalid_rule_exports_nothing(in_tmp: Path) -> None:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    rule_file = in_tmp / "detections" / "windows_app_layer_protocol_qakbot_namedpipe.json"
    rule_file.write_text(rule_file.read_text().replace('"risk_score": 49', '"risk_score": 490'))
    result = detect("export", "--target", "kibana", "-o", "out.ndjson", cwd=in_tmp)
    assert result.returncode == 1
    assert result.stdout.startswith("detections/windows_app_layer_protocol_qakbot_namedpipe.json: /risk_score: ")
    assert "Traceback" not in result.stderr
    assert not (in_tmp / "out.ndjson").exists()


def test_export_for_an_environment_refuses_what_could_never_apply(in_tmp: Path) -> None:
    # A prod exclusion for a field the data source lacks would export a filter that never matches.
    (in_tmp / "detections").mkdir()
    shutil.copy(DSL_RULE, in_tmp / "detections" / DSL_RULE.name)
    rule_id = json.loads(DSL_RULE.read_text("utf-8"))["rule_id"]
    (in_tmp / "detect.toml").write_text('[environments.prod.kibana]\nurl = "https://kibana.invalid"\n'
                                        f'[[environments.prod.exclusions]]\nrule_id = "{rule_id}"\nfield = "host.nam"\n'
                                        'values = ["LAB-01"]\nreason = "lab"\n'
                                        '[environments.prod.index]\n"windows.sysmon" = ["logs-*"]\n')
    result = detect("export", "--target", "kibana", "--env", "prod", "-o", "out.ndjson", cwd=in_tmp)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"detect.toml: environments.prod.exclusions[0].field: field 'host.nam' is not in data source "
        f"windows.sysmon_operational (of rule {rule_id}): this exclusion would never match",
        'detect.toml: environments.prod.index."windows.sysmon": no data source \'windows.sysmon\': this override would '
        "never apply (known: windows.sysmon_operational)"]
    assert result.stderr.splitlines()[-1] == "error: 2 problem(s) in detect.toml"
    assert not (in_tmp / "out.ndjson").exists()


def test_export_for_an_environment_warns_when_tls_is_not_verified(in_tmp: Path) -> None:
    (in_tmp / "detections").mkdir()
    shutil.copy(DSL_RULE, in_tmp / "detections" / DSL_RULE.name)
    (in_tmp / "detect.toml").write_text('[environments.prod.kibana]\nurl = "https://kibana.invalid"\n'
                                        'tls = { verify = false }\n')
    result = detect("export", "--target", "kibana", "--env", "prod", cwd=in_tmp)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: detect.toml: environments.prod.kibana.tls.verify is false: the kibana server's certificate is not "
        "checked, so anyone on the network path can pose as it and read the credentials"]

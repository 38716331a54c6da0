"""Deploys against a Kibana that checks every request with the official API description: idempotence,
versions, prune, faults and convergence, protected environments, secrets."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployer.config import Environment
from deployer.deploy import DeployReport, deploy_environment
from deployer.errors import DetectError, InvalidRules
from deployer.http import RetryPolicy
from deployer.plan import Action, PlanEntry
from deployer.targets.kibana import MANAGED_TAG, KibanaTarget
from tests.conftest import DETECTIONS, detect
from tests.support.kibana_server import Fault

SECRET = "c2VjcmV0LWlkOnNlY3JldC1rZXktOTk5"
DSL_ID = "4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11"


@pytest.fixture
def workspace(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, kibana: Any) -> Path:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text(f"""
[environments.staging]
[environments.staging.kibana]
url = "{kibana.url}"
spaces = ["default", "soc"]
username_env = "TEST_KIBANA_USER"
password_env = "TEST_KIBANA_PASSWORD"

[environments.prod]
protected = true
enabled = true
[environments.prod.kibana]
url = "{kibana.url}"
username_env = "TEST_KIBANA_USER"
password_env = "TEST_KIBANA_PASSWORD"
[[environments.prod.exclusions]]
rule_id = "{DSL_ID}"
field = "host.name"
values = ["LAB-01"]
reason = "malware analysis lab"
""")
    # Basic auth: the only scheme Kibana's published contract declares (API keys work too, undeclared there).
    monkeypatch.setenv("TEST_KIBANA_USER", "detect-ci")
    monkeypatch.setenv("TEST_KIBANA_PASSWORD", SECRET)
    return in_tmp


def _no_sleep_factory(settings: Any, space: str | None) -> KibanaTarget:
    return KibanaTarget(settings, space or "default", retry=RetryPolicy(sleep=lambda _seconds: None))


def run(environment: str = "staging", *, dry_run: bool = False, prune: bool = False, force: bool = False,
        yes: bool = True) -> DeployReport:
    def confirm(env: Environment, entries: list[PlanEntry]) -> bool:
        if env.protected and not yes:
            raise DetectError("protected")
        return True

    return deploy_environment(environment, config_path=Path("detect.toml"), rules_dir=Path("detections"), dry_run=dry_run,
                              prune=prune, force=force, confirm=confirm, progress=lambda _m: None, factory=_no_sleep_factory)


def _actions(report: DeployReport) -> list[tuple[str, str, str]]:
    return sorted((entry.target, entry.rule_id[:8], entry.action.value) for entry in report.entries)


def _edit(path: Path, **changes: Any) -> None:
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document, indent=2))


DSL_FILE = Path("detections/windows_app_layer_protocol_qakbot_namedpipe.json")


def test_first_deploy_creates_then_rerun_changes_nothing(workspace: Path, kibana: Any) -> None:
    first = run()
    assert first.ok
    assert _actions(first) == [("kibana:default", "4c0b7e61", "create"), ("kibana:default", "9d3f6a2e", "create"),
                               ("kibana:soc", "4c0b7e61", "create"), ("kibana:soc", "9d3f6a2e", "create")]
    assert sorted(kibana.rules) == ["default", "soc"] and all(len(rules) == 2 for rules in kibana.rules.values())
    assert MANAGED_TAG in kibana.rules["soc"][DSL_ID]["tags"]
    writes_before = len(kibana.writes())
    second = run()
    assert second.ok and {entry.action for entry in second.entries} == {Action.unchanged}
    assert len(kibana.writes()) == writes_before  # a rerun sends no writes
    assert second.requests == 2  # one _find per space


def test_dry_run_writes_nothing(workspace: Path, kibana: Any) -> None:
    report = run(dry_run=True)
    assert report.ok and {entry.action for entry in report.entries} == {Action.create}
    assert kibana.writes() == [] and kibana.rules.get("default", {}) == {}


def test_version_bump_updates_only_that_rule(workspace: Path, kibana: Any) -> None:
    run()
    _edit(DSL_FILE, risk_score=50, version=2)
    report = run()
    assert report.ok
    assert [(e.target, e.action.value) for e in report.entries if e.rule_id == DSL_ID] == [
        ("kibana:default", "update"), ("kibana:soc", "update")]
    assert kibana.rules["default"][DSL_ID]["risk_score"] == 50 and kibana.rules["default"][DSL_ID]["version"] == 2


def test_changed_content_without_version_bump_is_refused_and_nothing_is_written(workspace: Path, kibana: Any) -> None:
    run()
    writes = len(kibana.writes())
    _edit(DSL_FILE, risk_score=50)
    report = run()
    assert not report.ok
    assert {(e.target, e.action.value) for e in report.refused} == {("kibana:default", "refuse"), ("kibana:soc", "refuse")}
    assert "the version was not raised" in report.refused[0].reason
    assert len(kibana.writes()) == writes


def test_downgrade_is_refused_unless_forced(workspace: Path, kibana: Any) -> None:
    _edit(DSL_FILE, version=3)
    run()
    _edit(DSL_FILE, version=2)
    assert [e.action for e in run().entries if e.rule_id == DSL_ID] == [Action.refuse, Action.refuse]
    forced = run(force=True)
    assert forced.ok and kibana.rules["soc"][DSL_ID]["version"] == 2


def test_prune_removes_only_managed_rules(workspace: Path, kibana: Any) -> None:
    run()
    kibana.rules["default"]["hand-made"] = {"rule_id": "hand-made", "id": "x", "tags": ["SOC"], "version": 1, "name": "theirs"}
    Path("detections/windows_app_layer_protocol_qakbot_namedpipe_eql.json").unlink()
    kept = run()
    assert [(e.target, e.action.value) for e in kept.entries if e.rule_id.startswith("9d3f")] == [
        ("kibana:default", "unchanged"), ("kibana:soc", "unchanged")]
    pruned = run(prune=True)
    assert pruned.ok
    assert sorted(kibana.rules["default"]) == [DSL_ID, "hand-made"]
    assert sorted(kibana.rules["soc"]) == [DSL_ID]


def test_environment_overrides_enabled_and_exclusions(workspace: Path, kibana: Any) -> None:
    assert run("prod").ok
    deployed = kibana.rules["default"][DSL_ID]
    assert deployed["enabled"] is True
    assert deployed["filters"][-1] == {"meta": {"type": "custom", "alias": "exclusion: host.name: malware analysis lab", "negate": True, "disabled": False},
                                       "query": {"terms": {"host.name": ["LAB-01"]}}}


def test_protected_environment_needs_consent(workspace: Path, kibana: Any) -> None:
    with pytest.raises(DetectError, match="protected"):
        run("prod", yes=False)
    assert kibana.writes() == []


def test_invalid_rule_stops_before_any_request(workspace: Path, kibana: Any) -> None:
    _edit(DSL_FILE, risk_score="high")
    with pytest.raises(InvalidRules):
        run()
    assert kibana.log == []


@pytest.mark.parametrize("fault", ["500", "429", "reset"])
def test_transient_faults_are_retried(workspace: Path, kibana: Any, fault: str) -> None:
    kibana.faults.extend([Fault(fault, "POST"), Fault(fault, "GET")])
    report = run()
    assert report.ok, [outcome.message for outcome in report.failed]
    assert len(kibana.rules["soc"]) == 2


def test_persistent_failure_is_partial_then_a_rerun_converges(workspace: Path, kibana: Any) -> None:
    kibana.faults.extend([Fault("500", "POST", "/s/soc/")] * 5)  # five attempts, all refused: this create fails
    partial = run()
    assert not partial.ok
    assert [(o.entry.target, o.applied) for o in partial.outcomes].count(("kibana:soc", False)) == 1
    assert sum(o.applied for o in partial.outcomes) == 3
    converged = run()
    assert converged.ok
    assert [(e.target, e.action.value) for e in converged.entries if e.action is not Action.unchanged] == [("kibana:soc", "create")]
    assert run().entries and all(e.action is Action.unchanged for e in run().entries)


def test_many_rules_go_through_import_in_one_request(workspace: Path, kibana: Any) -> None:
    template = json.loads(DSL_FILE.read_text())
    for number in range(30):
        template.update(rule_id=f"generated-{number:03d}", name=f"Generated {number}")
        Path(f"detections/generated_{number:03d}.json").write_text(json.dumps(template))
    report = run()
    assert report.ok
    imports = [entry for entry in kibana.writes() if entry[1].endswith("/_import")]
    assert len(imports) == 2  # one per space, 32 rules each
    assert len(kibana.rules["soc"]) == 32
    before = len(kibana.log)
    rerun = run()
    assert all(entry.action is Action.unchanged for entry in rerun.entries)
    # A no-op deploy reads each space once, whatever the number of rules, and writes nothing.
    assert [(method, path) for method, path, _ in kibana.log[before:]] == [
        ("GET", "/api/detection_engine/rules/_find"), ("GET", "/s/soc/api/detection_engine/rules/_find")]


def test_cli_json_plan_and_no_secret_in_any_output(workspace: Path, kibana: Any) -> None:
    kibana.faults.extend([Fault("500", "POST", "/s/soc/")] * 5)
    result = detect("deploy", "--env", "staging", "--format", "json", cwd=workspace)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert {entry["action"] for entry in report["plan"]} == {"create"}
    failed = [entry for entry in report["plan"] if not entry["outcome"]["applied"]]
    assert len(failed) == 1 and failed[0]["target"] == "kibana:soc" and "HTTP 500" in failed[0]["outcome"]["message"]
    token = base64.b64encode(f"detect-ci:{SECRET}".encode()).decode()
    assert SECRET not in result.stdout + result.stderr and token not in result.stdout + result.stderr


def test_verbose_shows_each_request_but_no_credential(workspace: Path, kibana: Any) -> None:
    kibana.faults.append(Fault("500", "POST", "/s/soc/"))  # one retried failure: its record is printed too
    result = detect("deploy", "--env", "staging", "--verbose", cwd=workspace)
    assert result.returncode == 0, result.stderr
    records = [line for line in result.stderr.splitlines() if line.startswith("detect.http: ")]
    assert any("POST /api/detection_engine/rules: HTTP 500" in line for line in records)
    assert any("'***'" in line and "/api/detection_engine/rules/_find" in line for line in records)  # the masked header
    token = base64.b64encode(f"detect-ci:{SECRET}".encode()).decode()
    assert SECRET not in result.stdout + result.stderr and token not in result.stdout + result.stderr


def test_protected_cli_run_without_yes_is_one_line(workspace: Path, kibana: Any) -> None:
    result = detect("deploy", "--env", "prod", cwd=workspace)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("error: environment 'prod' is protected: rerun with --yes to apply (nothing was changed)")
    assert kibana.writes() == []


def test_opensearch_without_alerting_stops_before_any_write(in_tmp: Path, opensearch_node: Any) -> None:
    # The Maven-served OpenSearch has no Alerting plugin: deploy must say so in one line, not half-apply.
    plugins = httpx.get(f"{opensearch_node.url}/_cat/plugins?format=json", timeout=30).json()
    if any(plugin["component"] == "opensearch-alerting" for plugin in plugins):
        pytest.skip("this node has Alerting (DETECT_OPENSEARCH_PLUGIN_ZIPS)")
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text(f'[environments.lab]\n[environments.lab.opensearch]\nurl = "{opensearch_node.url}"\n')
    result = detect("deploy", "--env", "lab", cwd=in_tmp)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {opensearch_node.url} has no Alerting plugin: detect deploys OpenSearch rules as Alerting monitors "
        "(install opensearch-alerting there)")
    assert "Traceback" not in result.stderr

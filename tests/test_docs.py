"""Every command the README and docs/ show works as written.

Each line of a fenced `sh`, `bash` or `console` block (a `$ ` prompt is dropped; blank and comment lines are not
commands) is run, in the order a reader meets it, with bash (pipes and `$VARIABLES` as a shell has them), in a
throwaway repository: the tests' rules, a git history with `origin/main`, and a detect.toml whose environments
point at a loopback Kibana checked against Kibana's official contract. The local cluster (`detect test` without
--cluster-url, `cluster status`) is the session's real OpenSearch and Elasticsearch, and the docs' example hosts
are mapped to them (HOSTS). Credentials are in the environment only for commands that connect to a target
(CONNECTING): an analyst exporting on a laptop has no production secret.

Where the docs leave an edit to the reader, the test makes it (READER_EDITS): after `detect new`, the text only a
person can write (validation refuses the `TODO:` placeholders the scaffold leaves).

A command must exit 0 unless its comment promises another code, written `(exit N)`. A command that cannot run
here is in NOT_RUN with the reason, one run differently in RUN_AS; anything else found in a block fails the test,
so a command added to the docs later is covered without touching this file (or named here, with a reason).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.node import RunningNode
from tests.conftest import REPO, detect
from tests.support.repository import copy_tests_rules, generated_rules

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|console)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PROMISED_EXIT = re.compile(r"\(exit (\d+)\)")

NOT_RUN = {
    "./scripts/test": "the whole suite, of which this test is a part",
    "pip install -e .": "installs detect into the environment this suite runs from (./scripts/test does that install "
                        "before the suite starts)",
    "pip install pre-commit": "installs a third-party tool; the hook it runs is run by tests/test_workflows.py",
}
RUN_AS = {
    # Its first step is `pip install -e .` of the folder it lives in: here that is the throwaway copy, which is
    # not the project. Everything after the install runs as written.
    "./scripts/demo": "./scripts/demo --no-install",
}
# The docs' example hosts: the pull-request workflow's service containers and "a cluster of yours".
HOSTS = {"http://localhost:9200": "opensearch", "http://localhost:9201": "elasticsearch", "https://siem-lab:9200": "opensearch"}
CONNECTING = {"deploy", "diff"}
# Files the docs' commands read that a reader brings along.
INPUTS = ("kibana_export.ndjson",)  # a Kibana rules export (Kibana's "Export rules")
# Kibana's contract authenticates with BasicAuth: both environments name a user and a password.
CREDENTIALS = {"DETECT_TEST_CI_USER": "docs-ci-user", "DETECT_TEST_CI_PASSWORD": "docs-ci-password",
               "DETECT_TEST_PROD_USER": "docs-prod-user", "DETECT_TEST_PROD_PASSWORD": "docs-prod-password"}


@dataclass(frozen=True)
class Command:
    document: str
    line: int
    text: str  # the line as the docs show it, comment included
    command: str  # without the comment, whitespace collapsed
    expected_exit: int

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.text}"


def _without_comment(line: str) -> tuple[str, str]:
    """(command, comment): the comment starts at a `#` outside quotes that begins a word, as in sh."""
    quote = ""
    for index, character in enumerate(line):
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip(), line[index + 1:].strip()
    return line.strip(), ""


def commands_in(document: Path) -> list[Command]:
    text = document.read_text("utf-8")
    found = []
    for block in SHELL_BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        for offset, raw in enumerate(block.group(1).splitlines()):
            line = raw.strip().removeprefix("$ ")
            command, comment = _without_comment(line)
            if not command:
                continue
            promised = PROMISED_EXIT.search(comment)
            shown = document.relative_to(REPO).as_posix() if document.is_relative_to(REPO) else document.name
            found.append(Command(shown, first_line + offset, line, " ".join(command.split()),
                                 int(promised.group(1)) if promised else 0))
    return found


def test_the_docs_show_commands_and_this_test_finds_them() -> None:
    every = [command for document in DOCUMENTS for command in commands_in(document)]
    assert len(every) >= 20, every
    assert any(command.command == "detect validate" for command in every)
    listed = {*NOT_RUN, *RUN_AS}
    shown = {command.command for command in every}
    assert listed <= shown, f"listed here but no longer in the docs: {sorted(listed - shown)}"


def test_comments_and_prompts_are_not_part_of_the_command(tmp_path: Path) -> None:
    document = tmp_path / "guide.md"
    document.write_text("text\n```console\n$ detect validate   # every rule (exit 1)\n# only a comment\n\n```\n"
                        "```yaml\nnot: a command\n```\n```sh\ndetect test --name '#not-a-comment' # a comment\n```\n")
    found = [(command.line, command.command, command.expected_exit) for command in commands_in(document)]
    assert found == [(3, "detect validate", 1), (11, "detect test --name '#not-a-comment'", 0)]


def _workspace(root: Path, kibana_url: str) -> Path:
    copy_tests_rules(root)
    shutil.copytree(REPO / "scripts", root / "scripts")
    (root / "detect.toml").write_text(
        "[environments.local]\nenabled = true\n[environments.local.opensearch]\nurl = \"local\"\n\n"
        f"[environments.ci]\n[environments.ci.kibana]\nurl = \"{kibana_url}\"\n"
        "username_env = \"DETECT_TEST_CI_USER\"\npassword_env = \"DETECT_TEST_CI_PASSWORD\"\n\n"
        f"[environments.prod]\nprotected = true\nenabled = true\n[environments.prod.kibana]\nurl = \"{kibana_url}\"\n"
        "spaces = [\"default\"]\nusername_env = \"DETECT_TEST_PROD_USER\"\npassword_env = \"DETECT_TEST_PROD_PASSWORD\"\n",
        "utf-8")
    # A Kibana export of a rule the repository does not have yet (what `detect import` adopts).
    elsewhere = root.parent / f"{root.name}-elsewhere"
    generated_rules(elsewhere, 1)
    exported = detect("export", "--target", "kibana", "--rules-dir", str(elsewhere / "detections"), cwd=root)
    assert exported.returncode == 0, exported.stderr
    (root / INPUTS[0]).write_text(exported.stdout, "utf-8")
    git = ["git", "-c", "user.name=docs test", "-c", "user.email=docs@test.invalid", "-c", "init.defaultBranch=main"]
    for arguments in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the rules"], ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run([*git, *arguments], cwd=root, check=True, capture_output=True, timeout=60)
    return root


def _environment(command: str, cache: Path, root: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items()
                   if name not in CREDENTIALS and not name.startswith(("GITHUB_", "DETECT_CLUSTER_"))}
    environment.update(DETECT_CACHE_DIR=str(cache), BASE_REF="main", GITHUB_STEP_SUMMARY=str(root.parent / "summary.md"),
                       PATH=os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]))
    words = shlex.split(command, comments=True)
    if len(words) > 1 and words[0] == "detect" and words[1] in CONNECTING:
        environment.update(CREDENTIALS)
    return environment


def _write_what_detect_new_leaves(command: str, stdout: str, root: Path) -> None:
    """After `detect new`, what the docs ask the reader to do before validating: write the placeholders' text."""
    if shlex.split(command)[:2] != ["detect", "new"]:
        return
    rule_file = root / stdout.splitlines()[0]
    document = json.loads(rule_file.read_text("utf-8"))
    for key, value in document.items():
        if isinstance(value, str) and value.startswith("TODO:"):
            document[key] = f"Written by the docs test for {document['name']}: the reader's own words go here."
    rule_file.write_text(json.dumps(document, indent=2) + "\n", "utf-8")


READER_EDITS = (_write_what_detect_new_leaves,)


def _runnable(command: Command, urls: dict[str, str]) -> str:
    text = RUN_AS.get(command.command, command.command)
    for url in re.findall(r"https?://[^\s\"']+", text):
        if url not in HOSTS and not re.match(r"https?://(127\.0\.0\.1|localhost)(:|/|$)", url):
            pytest.fail(f"{command}: unknown host {url}: add it to HOSTS with the engine it stands for")
    for placeholder, engine in HOSTS.items():
        text = text.replace(placeholder, urls[engine])
    return text


@pytest.mark.parametrize("document", DOCUMENTS, ids=[path.name for path in DOCUMENTS])
def test_every_command_in_the_docs_works(document: Path, tmp_path: Path, kibana: Any, opensearch_node: RunningNode,
                                         elasticsearch_node: RunningNode, local_clusters: Callable[..., Path]) -> None:
    commands = commands_in(document)
    root = _workspace(tmp_path / "repository", kibana.url)
    cache = local_clusters(opensearch_node, elasticsearch_node)
    urls = {"opensearch": opensearch_node.url, "elasticsearch": elasticsearch_node.url}
    if any("jq " in command.command for command in commands) and shutil.which("jq") is None:
        pytest.fail("jq is not installed: the docs pipe detect's JSON into jq (apt-get install jq)")
    ran = []
    for command in commands:
        if command.command in NOT_RUN:
            continue
        if re.match(r"(python3? -m )?pip\b", command.command):
            pytest.fail(f"{command}: would change the environment this suite runs from: list it in NOT_RUN with the reason")
        if re.match(r"detect cluster (up|down)\b", command.command):
            pytest.fail(f"{command}: would start or stop the session's nodes: give it a node of its own here")
        result = subprocess.run(["bash", "-o", "pipefail", "-c", _runnable(command, urls)], cwd=root, capture_output=True,
                                text=True, timeout=600, stdin=subprocess.DEVNULL, env=_environment(command.command, cache, root))
        shown = f"{command}\n--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        assert result.returncode == command.expected_exit, shown
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, shown
        for secret in CREDENTIALS.values():
            assert secret not in result.stdout + result.stderr, shown
        ran.append(command.command)
        for edit in READER_EDITS:
            edit(command.command, result.stdout, root)
    assert ran, f"{document.name}: no command ran"


"""The command line as users and CI meet it: real processes, exit codes, one line per problem, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DSL_RULE, REPO, detect, mutated


def test_validate_passes_on_the_repository() -> None:
    result = detect("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "2 rule(s) valid in 2 file(s)" in result.stderr


def test_validate_reports_each_problem_on_one_line_and_exits_1(dsl_document: dict[str, Any],
                                                                  write_rule: Callable[..., Path]) -> None:
    write_rule(mutated(dsl_document, lambda d: d.update(risk_score="49", colour="red")), "bad")
    write_rule("{ truncated", "broken")
    result = detect("validate", "rules", cwd=write_rule("{}", "empty").parent.parent)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "rules/bad.json: /colour: unknown field 'colour' (a typo?)" in lines
    assert "rules/bad.json: /risk_score: expected integer, got string" in lines
    assert "rules/broken.json: /: invalid JSON at line 1 column 3: Expecting property name enclosed in double quotes" in lines
    assert "rules/empty.json: /rule_id: required field is missing" in lines
    assert "Traceback" not in result.stderr


def test_validate_json_format_is_machine_readable(write_rule: Callable[..., Path]) -> None:
    path = write_rule("[]", "bad")
    result = detect("validate", str(path), "--format", "json", cwd=path.parent)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["rules"] == []
    assert report["problems"] == [{"file": "bad.json", "pointer": "", "message": "expected object, got array"}]


def test_validate_missing_path_exits_1_with_one_line(in_tmp: Path) -> None:
    result = detect("validate", "nowhere", cwd=in_tmp)
    assert result.returncode == 1
    assert result.stdout == "nowhere: /: no such file or folder\n"


def test_validate_base_outside_git_is_one_line_exit_2(in_tmp: Path) -> None:
    (in_tmp / "r.json").write_text(DSL_RULE.read_text())
    result = detect("validate", "r.json", "--base", "HEAD", cwd=in_tmp)
    assert result.returncode == 2
    assert result.stderr.startswith("error: git rev-parse failed") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("reference", ["4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11", "windows_app_layer_protocol_qakbot_namedpipe",
                                       "detections/windows_app_layer_protocol_qakbot_namedpipe.json"])
def test_show_finds_a_rule_by_id_stem_or_path(reference: str) -> None:
    result = detect("show", reference, "--target", "kibana")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rule_id"] == "4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11"


def test_show_prints_the_golden_payloads() -> None:
    golden = REPO / "tests" / "targets" / "golden"
    for target in ("kibana", "opensearch"):
        for stem in ("windows_app_layer_protocol_qakbot_namedpipe", "windows_app_layer_protocol_qakbot_namedpipe_eql"):
            result = detect("show", stem, "--target", target)
            assert json.loads(result.stdout) == json.loads((golden / f"{stem}.{target}.json").read_text())


def test_show_of_an_invalid_rule_prints_its_problems(dsl_document: dict[str, Any], write_rule: Callable[..., Path]) -> None:
    path = write_rule(mutated(dsl_document, lambda d: d.update(version=0)))
    result = detect("show", str(path), cwd=path.parent)
    assert result.returncode == 1
    assert result.stdout == "rule.json: /version: 0 is less than the minimum of 1\n"
    assert "Traceback" not in result.stderr


def test_show_by_rule_id_of_an_invalid_rule_blames_only_the_file_that_declares_it(
        dsl_document: dict[str, Any], in_tmp: Path) -> None:
    rule_id = dsl_document["rule_id"]
    (in_tmp / "detections").mkdir()
    (in_tmp / "detections" / "broken.json").write_text(json.dumps({**dsl_document, "version": 0}))
    # Another broken file that only mentions the rule_id in its text: it does not declare it.
    (in_tmp / "detections" / "mentions.json").write_text(
        json.dumps({**dsl_document, "rule_id": "other", "version": 0, "note": f"see {rule_id}"}))
    result = detect("show", rule_id, cwd=in_tmp)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "detections/broken.json: /version: 0 is less than the minimum of 1\n"


def test_show_unknown_rule_is_one_line_exit_2() -> None:
    result = detect("show", "no-such-rule")
    assert result.returncode == 2
    assert result.stderr == "error: no rule file 'no-such-rule' and no valid rule with that rule_id under detections\n"


def test_show_eql_sequence_on_opensearch_is_refused_clearly(write_rule: Callable[..., Path],
                                                            eql_document: dict[str, Any]) -> None:
    path = write_rule(mutated(eql_document, lambda d: d.__setitem__(
        "query", 'sequence by host.name [file where event.code == "17"] [file where event.code == "18"]')))
    result = detect("show", str(path), "--target", "opensearch", cwd=path.parent)
    assert result.returncode == 1
    assert result.stdout == ("rule.json: /query: EQL cannot be run on OpenSearch: sequence queries correlate "
                             "several events\n")


def test_help_imports_nothing_heavy() -> None:
    probe = ("import sys, deployer.cli as c\n"
             "from typer.testing import CliRunner\n"
             "r = CliRunner().invoke(c.app, ['--help'])\n"
             "assert r.exit_code == 0, r.output\n"
             "heavy = [m for m in ('eql', 'jsonschema', 'elasticsearch', 'opensearchpy', 'httpx', 'yaml') if m in sys.modules]\n"
             "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def _command_paths() -> list[list[str]]:
    """Every command and subcommand of detect, as the words a user types before --help."""
    from typer.main import get_command

    from deployer.cli import app

    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


def test_help_of_every_command_shows_flags_without_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option, so a type shown next to a flag stays on its line
    paths = _command_paths()
    assert ["cluster", "status"] in paths and ["deploy"] in paths and len(paths) >= 12
    for path in paths:
        result = detect(*path, "--help")
        assert result.returncode == 0, result.stderr
        shown = result.stdout
        assert "--help" in shown, path
        for wrong in ("<bool>", "BOOLEAN", "<boolean>"):
            assert wrong not in shown, f"detect {' '.join(path)} --help shows {wrong}:\n{shown}"
    deploy_help = detect("deploy", "--help").stdout
    assert "<str>" in deploy_help  # options that take a value still say which (the check above is not vacuous)
    assert any("--dry-run" in line and "Print the plan" in line for line in deploy_help.splitlines())


def test_version_comes_from_the_installed_package() -> None:
    from importlib.metadata import version

    result = detect("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"detect {version('detect')}\n"
    assert detect("--version", "validate").stdout == result.stdout  # eager: no command runs

"""`--format github`: annotations on the rule file and line, and the job summary, as GitHub Actions reads them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.node import RunningNode
from deployer.errors import Problem
from deployer.report.github import annotation, line_of
from tests.conftest import DETECTIONS, FIXTURES, detect

STEM = "windows_app_layer_protocol_qakbot_namedpipe"


def test_annotation_escapes_what_the_runner_would_misread() -> None:
    assert annotation("error", "50% done\nnext", file="a,b:c.json", line=3, title="t") == \
        "::error file=a%2Cb%3Ac.json,line=3,title=t::50%25 done%0Anext"


def test_line_of_a_pointer_and_of_its_nearest_parent() -> None:
    rule_file = str(DETECTIONS / f"{STEM}.json")
    lines = Path(rule_file).read_text().splitlines()
    assert '"risk_score"' in lines[line_of(rule_file, "/risk_score") - 1]  # type: ignore[operator]
    assert '"alert_suppression"' in lines[line_of(rule_file, "/alert_suppression/not_there") - 1]  # type: ignore[operator]


def test_validate_annotates_the_line_of_each_problem(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    rule_file = in_tmp / "detections" / f"{STEM}.json"
    rule_file.write_text(rule_file.read_text().replace('"risk_score": 49', '"risk_score": 490'))
    summary = in_tmp / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = detect("validate", "--format", "github", cwd=in_tmp)
    assert result.returncode == 1
    line = next(number for number, text in enumerate(rule_file.read_text().splitlines(), 1) if '"risk_score"' in text)
    annotations = [text for text in result.stdout.splitlines() if text.startswith("::")]
    assert annotations == [f"::error file=detections/{STEM}.json,line={line},title=detect validate::/risk_score: "
                           "490 is greater than the maximum of 100"]
    assert summary.read_text().startswith("### detect validate: 1 problem(s)")


def _ci_repository(in_tmp: Path, kibana: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' rules and an environment `ci` on the test Kibana, with its credentials set."""
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "detect.toml").write_text(f'[environments.ci]\n[environments.ci.kibana]\nurl = "{kibana.url}"\n'
                                        'username_env = "TEST_USER"\npassword_env = "TEST_PASSWORD"\n')
    monkeypatch.setenv("TEST_USER", "ci")
    monkeypatch.setenv("TEST_PASSWORD", "not-a-real-password")


def test_deploy_writes_its_plan_to_the_job_summary(in_tmp: Path, kibana: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _ci_repository(in_tmp, kibana, monkeypatch)
    summary = in_tmp / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = detect("deploy", "--env", "ci", "--format", "github", cwd=in_tmp)
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert text.startswith("### detect deploy to `ci`: deployed")
    assert text.count("| kibana:default | create | applied") == 2
    # A rule edited without a version bump is refused, on its file's version line.
    rule_file = in_tmp / "detections" / f"{STEM}.json"
    document = json.loads(rule_file.read_text())
    document["risk_score"] = 50
    rule_file.write_text(json.dumps(document, indent=2))
    refused = detect("deploy", "--env", "ci", "--format", "github", cwd=in_tmp)
    assert refused.returncode == 1
    version_line = next(number for number, text in enumerate(rule_file.read_text().splitlines(), 1) if '"version"' in text)
    assert f"::error file=detections/{STEM}.json,line={version_line},title=detect deploy::kibana:default: refused: " in refused.stdout


def test_test_annotates_the_fixture_line_that_misbehaved(opensearch_node: RunningNode, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / STEM, tmp_path / STEM)
    match = (tmp_path / STEM / "match.ndjson").read_text().splitlines()
    nomatch = (tmp_path / STEM / "nomatch.ndjson").read_text().splitlines()
    (tmp_path / STEM / "match.ndjson").write_text("\n".join([*match, nomatch[0]]) + "\n")
    result = detect("test", STEM, "--cluster-url", opensearch_node.url, "--fixtures", str(tmp_path), "--format", "github")
    assert result.returncode == 1
    assert (f"::error file={tmp_path / STEM / 'match.ndjson'},line={len(match) + 1},title=detect test::opensearch: "
            "this event should alert but did not") in result.stdout.splitlines()


def test_deploy_annotates_drift_on_the_rule_id_line(in_tmp: Path, kibana: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _ci_repository(in_tmp, kibana, monkeypatch)
    assert detect("deploy", "--env", "ci", cwd=in_tmp).returncode == 0
    rule_id = json.loads((in_tmp / "detections" / f"{STEM}.json").read_text())["rule_id"]
    kibana.edit_in_ui(rule_id, enabled=True)
    drifted = detect("deploy", "--env", "ci", "--format", "github", cwd=in_tmp)
    assert drifted.returncode == 1
    rule_id_line = next(number for number, text in enumerate((in_tmp / "detections" / f"{STEM}.json").read_text().splitlines(), 1)
                        if '"rule_id"' in text)
    assert f"::error file=detections/{STEM}.json,line={rule_id_line},title=detect deploy::kibana:default: drift: " in drifted.stdout


def test_a_problem_on_a_line_is_annotated_on_that_line_even_when_the_path_holds_a_colon() -> None:
    from deployer.report.github import problem_annotation

    problem = Problem("fixtures/lab:2024/match.ndjson", "/process/pid", "not a whole number", line=7)
    assert problem_annotation(problem, "detect test") == (
        "::error file=fixtures/lab%3A2024/match.ndjson,line=7,title=detect test::/process/pid: not a whole number")

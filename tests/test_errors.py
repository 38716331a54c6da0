"""The summary line of invalid input says which input holds the problems: the rules, the fixtures, detect.toml,
the environment variables it names, an export file. A missing API key is not "a problem in the rules"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from deployer.errors import InvalidRules, Problem, display_url
from tests.conftest import DETECTIONS, FIXTURES, detect

STEM = "windows_app_layer_protocol_qakbot_namedpipe"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    shutil.copytree(DETECTIONS, tmp_path / "detections")
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    return tmp_path


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    """The last line on stderr of a run that found invalid input (exit 1)."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    return result.stderr.splitlines()[-1]


def test_the_raiser_says_where_the_problems_are() -> None:
    error = InvalidRules([Problem("detect.toml", "/environments", "x"), Problem("detect.toml", "/y", "z")], where="in detect.toml")
    assert (str(error), error.where) == ("2 problem(s) in detect.toml", "in detect.toml")


def test_a_missing_environment_variable_is_not_a_problem_in_the_rules(repository: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DETECT_TEST_NEVER_SET", raising=False)
    (repository / "detect.toml").write_text('[environments.lab]\n[environments.lab.kibana]\nurl = "http://127.0.0.1:9"\n'
                                            'api_key_env = "DETECT_TEST_NEVER_SET"\n')
    result = detect("deploy", "--env", "lab", "--dry-run", cwd=repository)
    assert _summary(result) == "error: 1 problem(s) in the environment variables detect.toml names"
    assert result.stdout == "detect.toml: environments.lab.kibana.api_key_env: environment variable DETECT_TEST_NEVER_SET is not set\n"


def test_invalid_toml_is_a_problem_in_detect_toml(repository: Path) -> None:
    (repository / "detect.toml").write_text("[environments.lab\n")
    assert _summary(detect("deploy", "--env", "lab", cwd=repository)) == "error: 1 problem(s) in detect.toml"


def test_a_bad_fixture_is_a_problem_in_the_fixtures(repository: Path) -> None:
    with (repository / "fixtures" / STEM / "match.ndjson").open("a") as handle:
        handle.write("{not json\n")
    # The fixtures are read before any cluster is contacted: the closed port is never reached.
    result = detect("test", STEM, "--cluster-url", "http://127.0.0.1:9", cwd=repository)
    assert _summary(result) == "error: 1 problem(s) in the fixtures"


def test_an_invalid_rule_is_a_problem_in_the_rules(repository: Path) -> None:
    rule_file = repository / "detections" / f"{STEM}.json"
    rule_file.write_text(rule_file.read_text().replace('"risk_score": 49', '"risk_score": 490'))
    assert _summary(detect("show", STEM, cwd=repository)) == "error: 1 problem(s) in the rules"
    assert _summary(detect("export", "--target", "kibana", cwd=repository)) == "error: 1 problem(s) in the rules"


def test_a_broken_export_line_is_a_problem_in_that_file(repository: Path) -> None:
    (repository / "broken.ndjson").write_text(json.dumps({"rule_id": "x", "type": "query"}) + "\n{cut off\n")
    result = detect("import", "broken.ndjson", "--into", "imported", cwd=repository)
    assert _summary(result) == "error: 1 problem(s) in broken.ndjson"


@pytest.mark.parametrize(("url", "shown"), [("http://siem:9200", "http://siem:9200"),
                                            ("https://analyst:s3cret@siem:9200/x", "https://***@siem:9200/x"),
                                            ("http://token@[::1", "***@[::1")])
def test_display_url_never_shows_credentials(url: str, shown: str) -> None:
    assert display_url(url) == shown

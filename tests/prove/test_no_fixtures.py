"""A rule without fixtures (an imported one, say) is not proven, and `detect test` says so in every format: not a
failure, and no node started for it, unless --require-fixtures makes its missing folder a problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deployer.cluster.node import RunningNode
from deployer.prove import ProofReport
from deployer.prove.verdict import EngineProof, MatchVerdict, NotProven
from deployer.report import emit
from tests.conftest import EQL_RULE, FIXTURES, detect

DSL_STEM = "windows_app_layer_protocol_qakbot_namedpipe"
EQL_STEM = f"{DSL_STEM}_eql"
UNPROVEN = NotProven("r-eql", f"detections/{EQL_STEM}.json", f"elsewhere/{EQL_STEM}")
UNPROVEN_LINE = (f"○ detections/{EQL_STEM}.json: not proven: no fixtures (no folder elsewhere/{EQL_STEM}: add match.ndjson "
                 "and nomatch.ndjson there)")
# Nothing listens there: a run that tried to reach it would fail.
NOWHERE = "http://127.0.0.1:9"


def _proven() -> EngineProof:
    return EngineProof("r-dsl", f"detections/{DSL_STEM}.json", "opensearch", "2.19.1",
                       matches=MatchVerdict("query DSL", ("match.ndjson:1",), ("match.ndjson:1",)))


def test_rules_without_fixtures_are_not_proven_and_no_engine_is_asked(tmp_path: Path) -> None:
    result = detect("test", EQL_STEM, "--fixtures", str(tmp_path), "--cluster-url", NOWHERE)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == UNPROVEN_LINE.replace("elsewhere", str(tmp_path))
    assert lines[1].startswith("nothing proven: 1 rule(s) have no fixtures (fixtures ")
    assert "all rules proven" not in result.stdout


def test_require_fixtures_makes_a_missing_folder_a_problem(tmp_path: Path) -> None:
    result = detect("test", EQL_STEM, "--fixtures", str(tmp_path), "--cluster-url", NOWHERE, "--require-fixtures")
    assert result.returncode == 1
    rule_id = json.loads(EQL_RULE.read_text("utf-8"))["rule_id"]
    assert result.stdout == f"{tmp_path}/{EQL_STEM}: /: no fixtures for rule {rule_id}: expected match.ndjson and " \
        "nomatch.ndjson here\n"
    assert result.stderr == "error: 1 problem(s) in the fixtures\n"


def test_json_and_github_say_not_proven(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    result = detect("test", EQL_STEM, "--fixtures", str(tmp_path), "--cluster-url", NOWHERE, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert (document["ok"], document["proofs"]) == (True, [])
    assert [(item["file"], item["reason"], item["fixtures"]) for item in document["not_proven"]] == [
        (f"detections/{EQL_STEM}.json", "no fixtures", f"{tmp_path}/{EQL_STEM}")]
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    emit(ProofReport("2026-01-01T00:00:00Z", proofs=[_proven()], not_proven=[UNPROVEN]), "github")
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == (f"::warning file=detections/{EQL_STEM}.json,line=1,title=detect test::not proven: no fixtures (no "
                        f"folder elsewhere/{EQL_STEM}: add match.ndjson and nomatch.ndjson there)")
    text = summary.read_text("utf-8")
    assert text.startswith("### detect test: 1 rule(s) proven, 1 not proven: no fixtures\n")
    assert f"| `detections/{EQL_STEM}.json` | — | not proven: no fixtures |" in text.splitlines()


def test_the_verdict_counts_the_rules_without_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    emit(ProofReport("2026-01-01T00:00:00Z", proofs=[_proven()], not_proven=[UNPROVEN]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [UNPROVEN_LINE, "1 rule(s) proven, 1 not proven: no fixtures ()"]
    failed = EngineProof("r-dsl", f"detections/{DSL_STEM}.json", "opensearch", "2.19.1", error="boom")
    report = ProofReport("2026-01-01T00:00:00Z", proofs=[failed], not_proven=[UNPROVEN])
    assert not report.ok
    emit(report)
    assert capsys.readouterr().out.splitlines()[-1] == "proof failed, 1 rule(s) not proven: no fixtures ()"
    # Every rule proven: the words stay as they were.
    emit(ProofReport("2026-01-01T00:00:00Z", proofs=[_proven()]))
    assert capsys.readouterr().out.splitlines()[-1] == "all rules proven ()"


def test_one_rule_proven_one_without_fixtures_on_a_real_engine(tmp_path: Path, opensearch_node: RunningNode) -> None:
    shutil.copytree(FIXTURES / DSL_STEM, tmp_path / DSL_STEM)
    result = detect("test", "--fixtures", str(tmp_path), "--cluster-url", opensearch_node.url, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert [(proof["file"], proof["ok"]) for proof in document["proofs"]] == [(f"detections/{DSL_STEM}.json", True)]
    assert [item["file"] for item in document["not_proven"]] == [f"detections/{EQL_STEM}.json"]
    required = detect("test", "--fixtures", str(tmp_path), "--cluster-url", opensearch_node.url, "--require-fixtures")
    assert required.returncode == 1
    assert required.stdout.startswith(f"{tmp_path}/{EQL_STEM}: /: no fixtures for rule ")


def test_proof_lines_show_paths_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """rich would read `:100:` as an emoji code and `[bold]` as a style in a rule file's path."""
    odd = NotProven("r", "x:100:y/[bold]rule.json", "fixtures/[bold]rule")
    emit(ProofReport("2026-01-01T00:00:00Z", not_proven=[odd]))
    shown = capsys.readouterr().out
    assert "○ x:100:y/[bold]rule.json: not proven: no fixtures (no folder fixtures/[bold]rule: " in shown
    assert "\N{HUNDRED POINTS SYMBOL}" not in shown

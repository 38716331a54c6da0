"""report.emit: one call shows any step's result in any format its command offers, each from one renderer."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from deployer import report
from deployer.cluster.local import ClusterReport, EngineStatus
from deployer.errors import Problem
from deployer.rules.ruleset import Validation

BROKEN = Validation(rules=[], problems=[Problem("rules/bad.json", "/risk_score", "expected integer, got string")], files=1)


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_a_validation_in_each_format(capsys: pytest.CaptureFixture[str]) -> None:
    report.emit(BROKEN, "text")
    text = capsys.readouterr()
    assert text.out == "rules/bad.json: /risk_score: expected integer, got string\n"
    assert "1 problem(s) in 1 file(s); 0 rule(s) valid" in text.err

    report.emit(BROKEN, "json")
    assert json.loads(capsys.readouterr().out) == {
        "ok": False, "files": 1, "rules": [],
        "problems": [{"file": "rules/bad.json", "pointer": "/risk_score", "message": "expected integer, got string"}]}

    report.emit(BROKEN, "github")
    github = capsys.readouterr()
    annotation, *rest = github.out.splitlines()
    assert annotation.startswith("::error file=rules/bad.json,title=detect validate::/risk_score: expected integer")
    assert rest == text.out.splitlines() and github.err == text.err  # the annotations, then the text as it is


def test_a_result_with_nothing_to_annotate_shows_its_text_under_github(capsys: pytest.CaptureFixture[str]) -> None:
    report.emit([], "github")  # detect diff's result: no RuleDiff at all
    assert capsys.readouterr().err == "no differences (0 compared)\n"
    report.emit([], "json")
    assert json.loads(capsys.readouterr().out) == {"differs": False, "rules": []}


def test_a_cluster_report_as_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = ClusterReport(engines=[EngineStatus("opensearch", "stopped")])
    report.emit(stopped, "text")
    assert capsys.readouterr().out == "opensearch: not running\n"
    report.emit(stopped, "json")
    assert json.loads(capsys.readouterr().out) == stopped.as_json()


def test_a_payload_is_printed_as_the_document_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    report.emit({"name": "Résumé", "risk_score": 49}, "json")
    assert capsys.readouterr().out == '{\n  "name": "Résumé",\n  "risk_score": 49\n}\n'


def test_the_plan_before_confirming_is_for_people_only(capsys: pytest.CaptureFixture[str]) -> None:
    report.plan([], header="Plan for prod", output="json")
    assert capsys.readouterr() == ("", "")
    report.plan([], header="Plan for prod", output="github")
    assert capsys.readouterr().err == "Plan for prod\n"


def test_an_unknown_result_or_format_is_a_bug_that_says_which() -> None:
    with pytest.raises(TypeError, match="no renderer for a int"):
        report.emit(42, "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown output format 'yaml'"):
        report.emit(BROKEN, "yaml")


# Where each result type the renderers know by name is defined.
RESULT_TYPES = {"Validation": "deployer.rules.ruleset", "ProofReport": "deployer.prove", "DeployReport": "deployer.deploy.run",
                "ImportReport": "deployer.authoring.adopt", "ClusterReport": "deployer.cluster.local"}


def test_every_result_type_known_by_name_exists_and_has_its_renderers() -> None:
    from deployer.report import as_json, github, text

    known = report._RENDERER_NAMES
    assert set(RESULT_TYPES) <= set(known), "a result type the renderers should know"
    for type_name, module in RESULT_TYPES.items():
        assert isinstance(getattr(importlib.import_module(module), type_name, None), type), \
            f"{module}.{type_name} is gone: report.emit finds renderers by the result type's name"
    for name in known.values():
        assert hasattr(text, name) or hasattr(as_json, name), name
    annotating = {name for name in ("validation", "proof", "deploy", "diffs", "imported", "cluster") if hasattr(github, name)}
    assert annotating == {"validation", "proof", "deploy"} and annotating <= set(known.values())



def test_an_export_is_counted_in_the_targets_words_and_warned_about_above_its_import_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.report.text import exported
    from deployer.targets import target_kind

    class Small:
        title, payload_noun, import_limit_bytes = "Small", "monitor", 3 * 1024 * 1024

    output = tmp_path / "rules.ndjson"
    exported(output, "{}\n{}\n", target_kind("kibana"))
    assert capsys.readouterr().err == f"wrote 2 rule(s) to {output}\n"
    exported(output, "{}\n" * (1024 * 1024), Small())  # type: ignore[arg-type]  # exactly the limit: 3 bytes a line
    assert capsys.readouterr().err == f"wrote 1048576 monitor(s) to {output}\n"
    exported(output, "{}\n" * (1024 * 1024 + 1), Small())  # type: ignore[arg-type]
    assert capsys.readouterr().err == (f"wrote 1048577 monitor(s) to {output}\n"
                                       f"warning: {output} is over Small's default 3 MB import limit: export fewer rules per file\n")

"""`detect import` tells the truth: each skipped rule is named for what it is, the run ends with counts, re-importing
the same rules changes nothing (exit 0), and the export's own text is never read as rich markup or emoji codes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deployer.authoring.adopt import ImportReport, Skipped, import_export
from deployer.report import emit
from deployer.targets import target_kind
from deployer.targets.kibana.kinds import HELD_KINDS, rule_kind
from tests.conftest import DETECTIONS, REPO, detect

CORPUS = REPO.parent / "shared" / "corpus"
ELASTIC_SAMPLE = CORPUS / "elastic-prebuilt-sample.ndjson"


def _elastic_sample() -> list[dict[str, Any]]:
    if not ELASTIC_SAMPLE.is_file():
        pytest.skip(f"the rule corpus is not here ({ELASTIC_SAMPLE}): it sits beside the repository in CI")
    return [json.loads(line) for line in ELASTIC_SAMPLE.read_text("utf-8").splitlines() if line.strip()]


def _exported_qakbot(cwd: Path) -> list[dict[str, Any]]:
    result = detect("export", "--target", "kibana", "--rules-dir", str(DETECTIONS), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _write_export(path: Path, payloads: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(payload) + "\n" for payload in payloads), "utf-8")
    return path


# What each kind of Elastic rule is called, by its type and language: the words a Kibana user knows it by.
_EXPECTED_CAUSES = {
    ("query", "kuery"): "a KQL (kuery) query rule",
    ("query", "lucene"): "a Lucene query rule",
    ("new_terms", "kuery"): "a new terms rule",
    ("threshold", "kuery"): "a threshold rule",
    ("threat_match", "kuery"): "an indicator match (threat_match) rule",
    ("esql", "esql"): "an ES|QL rule",
    ("machine_learning", None): "a machine learning rule",
}


def test_every_rule_of_the_elastic_sample_is_named_for_what_it_is() -> None:
    rules = _elastic_sample()
    kinds = [(rule, rule_kind(rule)) for rule in rules]
    for rule, kind in kinds:
        key = (rule["type"], rule.get("language"))
        if rule["type"] == "eql":
            assert (kind.held, kind.words) == (True, "an EQL rule"), rule["rule_id"]
            continue
        assert not kind.held, rule["rule_id"]
        assert kind.cause == _EXPECTED_CAUSES[key], rule["rule_id"]
        assert kind.words.startswith(kind.cause), rule["rule_id"]
        # Never the symptoms a rule of another kind has in detect's terms: its type says what it is first.
        assert "data view" not in kind.words and "data source" not in kind.words, kind.words
    # The sample's figures (its README): eql 30, query/kuery 16, new_terms 8, threshold 4, esql 4,
    # machine_learning 2, threat_match 2, query/lucene 1.
    assert Counter(kind.cause for _, kind in kinds) == {
        "an EQL rule": 30, "a KQL (kuery) query rule": 16, "a new terms rule": 8, "a threshold rule": 4, "an ES|QL rule": 4,
        "a machine learning rule": 2, "an indicator match (threat_match) rule": 2, "a Lucene query rule": 1}


def test_the_details_name_what_the_rule_runs_on() -> None:
    threshold = rule_kind({"type": "threshold", "language": "kuery", "query": "x", "threshold": {"field": ["user.name"], "value": 5}})
    assert threshold.words == "a threshold rule (a KQL (kuery) query counted by user.name)"
    new_terms = rule_kind({"type": "new_terms", "query": "x", "new_terms_fields": ["host.id", "user.id"]})
    assert new_terms.words == "a new terms rule (a KQL (kuery) query alerting on values of host.id, user.id not seen before)"
    ml = rule_kind({"type": "machine_learning", "machine_learning_job_id": "rare_process", "anomaly_threshold": 75})
    assert ml.words == "a machine learning rule (anomalies of job rare_process scoring 75 or more)"
    saved = rule_kind({"type": "saved_query", "saved_id": "processes"})
    assert saved.words == "a saved query rule (it runs Kibana's saved query 'processes')"
    assert rule_kind({"type": "query", "query": "x"}).pointer == "/query"  # no language: Kibana reads kuery
    assert rule_kind({"type": "query", "language": "lucene", "query": "x"}).pointer == "/language"
    assert rule_kind({"type": "query", "query": " ", "filters": [{"query": {"match_all": {}}}]}).held
    unknown = rule_kind({"type": "anomaly_of_the_future"})
    assert (unknown.held, unknown.words) == (False, "an anomaly_of_the_future rule (a type Kibana's rule API does not have)")
    assert rule_kind({"type": "query", "language": "esql", "query": "from x"}).cause == "an ES|QL query rule"


def test_importing_the_elastic_sample_counts_what_happened(in_tmp: Path) -> None:
    rules = _elastic_sample()
    export = _write_export(in_tmp / "elastic.ndjson", rules)
    result = detect("import", "elastic.ndjson", "--into", "imported", cwd=in_tmp)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for number, rule in enumerate(rules, start=1):
        if rule["type"] != "eql":
            line = next(line for line in lines if line.startswith(f"✗ elastic.ndjson:{number}: {rule['rule_id']}: skipped: "))
            cause = _EXPECTED_CAUSES[(rule["type"], rule.get("language"))]
            assert line.partition(": skipped: ")[2].startswith(cause), line
            assert f": {HELD_KINDS} (at /" in line, line
    report = import_export(export, in_tmp / "again", source=target_kind("kibana"))
    assert len(report.written) + len(report.unchanged) + len(report.skipped) == len(rules)
    by_cause = dict(report.skipped_by_cause())
    assert by_cause["a KQL (kuery) query rule"] == 16 and by_cause["an ES|QL rule"] == 4
    assert by_cause["a machine learning rule"] == 2
    summary = next(line for line in result.stderr.splitlines() if line.startswith(("imported:", "incomplete:")))
    assert summary.startswith(f"incomplete: {len(report.written)} written, 0 unchanged, {len(report.skipped)} skipped, ")
    assert "     16 skipped: a KQL (kuery) query rule" in result.stderr.splitlines()


def test_reimporting_the_same_rules_changes_nothing_and_succeeds(in_tmp: Path) -> None:
    _write_export(in_tmp / "export.ndjson", _exported_qakbot(in_tmp))
    first = detect("import", "export.ndjson", "--into", "imported", cwd=in_tmp)
    assert first.returncode == 0, first.stderr
    written = {path.name: path.stat().st_mtime_ns for path in (in_tmp / "imported").glob("*.json")}
    again = detect("import", "export.ndjson", "--into", "imported", cwd=in_tmp)
    assert again.returncode == 0, again.stderr
    assert "exists; rerun with --force" not in again.stderr
    assert "imported: 0 written, 2 unchanged, 0 skipped, 0 problem(s) in the written files" in again.stderr
    assert {path.name: path.stat().st_mtime_ns for path in (in_tmp / "imported").glob("*.json")} == written
    forced = detect("import", "export.ndjson", "--into", "imported", "--force", cwd=in_tmp)
    assert forced.returncode == 0 and "0 written, 2 unchanged" in forced.stderr, forced.stderr


def test_a_file_holding_another_document_is_kept_unless_forced(in_tmp: Path) -> None:
    _write_export(in_tmp / "export.ndjson", _exported_qakbot(in_tmp))
    assert detect("import", "export.ndjson", "--into", "imported", cwd=in_tmp).returncode == 0
    edited = sorted((in_tmp / "imported").glob("*.json"))[0]
    document = json.loads(edited.read_text("utf-8"))
    edited.write_text(json.dumps({**document, "description": "edited by hand"}, indent=2) + "\n", "utf-8")
    kept = detect("import", "export.ndjson", "--into", "imported", cwd=in_tmp)
    assert kept.returncode == 1
    assert f"imported/{edited.name} exists; rerun with --force to replace it" in kept.stderr
    assert "incomplete: 0 written, 1 unchanged, 1 skipped" in kept.stderr
    assert "      1 skipped: its file exists and holds another document" in kept.stderr.splitlines()
    assert json.loads(edited.read_text("utf-8"))["description"] == "edited by hand"
    forced = detect("import", "export.ndjson", "--into", "imported", "--force", cwd=in_tmp)
    assert forced.returncode == 0 and "1 written, 1 unchanged" in forced.stderr, forced.stderr
    assert json.loads(edited.read_text("utf-8")) == document


def test_paths_and_names_are_not_read_as_markup_or_emoji(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """rich turns `:100:` into an emoji and `[bold]` into a style; the export's text must come out as written."""
    report = ImportReport(written=[Path("x:100:y/[bold]rule.json")], skipped=[
        Skipped("export.ndjson:100", "[bold]id[/bold]", "a KQL (kuery) query rule: [red]x[/red] :smile:", "[bold]cause")],
        notes=["export.ndjson:100: [bold]r: dropped :100:"])
    emit(report)
    shown = capsys.readouterr().err
    assert "✓ wrote x:100:y/[bold]rule.json" in shown
    assert "✗ export.ndjson:100: [bold]id[/bold]: skipped: a KQL (kuery) query rule: [red]x[/red] :smile:" in shown
    assert "note: export.ndjson:100: [bold]r: dropped :100:" in shown
    assert "      1 skipped: [bold]cause" in shown
    assert "\N{HUNDRED POINTS SYMBOL}" not in shown and "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in shown


def test_the_skip_lines_of_a_long_export_keep_their_line_numbers(in_tmp: Path) -> None:
    """The issue's `file:100:` case end to end: the 100th line of an export, skipped, says so in plain text."""
    dsl = _exported_qakbot(in_tmp)[0]
    kql = [{**dsl, "rule_id": f"kql-{number}", "name": f"KQL {number}", "type": "query", "language": "kuery",
            "query": "process.name : x", "filters": []}
           for number in range(100)]
    _write_export(in_tmp / "long.ndjson", kql)
    result = detect("import", "long.ndjson", "--into", "imported", cwd=in_tmp)
    assert result.returncode == 1
    assert "✗ long.ndjson:100: kql-99: skipped: a KQL (kuery) query rule: " in result.stderr
    assert "\N{HUNDRED POINTS SYMBOL}" not in result.stderr


def test_the_json_report_holds_the_counts(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = ImportReport(written=[Path("a.json")], unchanged=[Path("b.json")], skipped=[
        Skipped("e.ndjson:2", "r2", "an ES|QL rule: ...", "an ES|QL rule"), Skipped("e.ndjson:3", "r3", "...", "an ES|QL rule")])
    emit(report, "json")
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["summary"] == {"written": 1, "unchanged": 1, "skipped": 2, "skipped_by_cause": {"an ES|QL rule": 2},
                                   "problems": 0}
    assert document["skipped"][0] == {"where": "e.ndjson:2", "rule_id": "r2", "reason": "an ES|QL rule: ...",
                                      "cause": "an ES|QL rule"}

"""`detect import`: Kibana exports become rule files; export → import → export gives back the same payloads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer.rules.model import content_of
from tests.conftest import DETECTIONS, detect

QAKBOT_FILES = sorted(DETECTIONS.glob("*.json"))


def _export(rules_dir: Path, cwd: Path) -> str:
    result = detect("export", "--target", "kibana", "--rules-dir", str(rules_dir), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _as_kibana_exports_it(line: str) -> dict[str, Any]:
    """A rule as Kibana's own _export writes it: server-side fields around what detect sent."""
    rule: dict[str, Any] = json.loads(line)
    rule.update(id="8f1d3a60-0000-4000-8000-000000000001", created_at="2026-11-01T10:00:00.000Z", created_by="elastic",
                updated_at="2026-11-02T10:00:00.000Z", updated_by="elastic", immutable=False, revision=3,
                rule_source={"type": "internal"}, output_index="", related_integrations=[], actions=[],
                exceptions_list=[], setup=rule.get("setup", ""))
    rule["meta"] = {**rule["meta"], "kibana_siem_app_url": "https://kibana.example/app/security"}
    return rule


def test_export_then_import_round_trips_the_qakbot_rules(in_tmp: Path) -> None:
    exported = _export(DETECTIONS, in_tmp)
    (in_tmp / "export.ndjson").write_text(exported)
    result = detect("import", "export.ndjson", "--into", "imported", cwd=in_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _export(in_tmp / "imported", in_tmp) == exported
    originals = {json.loads(path.read_text())["rule_id"]: json.loads(path.read_text()) for path in QAKBOT_FILES}
    for path in sorted((in_tmp / "imported").glob("*.json")):
        imported = json.loads(path.read_text())
        assert content_of(imported) == content_of(originals[imported["rule_id"]])
        assert imported["version"] == originals[imported["rule_id"]]["version"]
    assert detect("validate", "imported", cwd=in_tmp).returncode == 0


def test_a_real_kibana_export_file_imports_with_its_extra_lines(in_tmp: Path) -> None:
    exported = _export(DETECTIONS, in_tmp)
    lines = [json.dumps(_as_kibana_exports_it(line)) for line in exported.splitlines()]
    summary = {"exported_count": 2, "exported_rules_count": 2, "missing_rules": [], "missing_rules_count": 0,
               "exported_exception_list_count": 0, "exported_exception_list_item_count": 0}
    (in_tmp / "rules_export.ndjson").write_text("\n".join([*lines, json.dumps(summary)]) + "\n")
    result = detect("import", "rules_export.ndjson", "--into", "imported", cwd=in_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _export(in_tmp / "imported", in_tmp) == exported


def test_elastic_rules_export_back_as_they_were_imported(in_tmp: Path) -> None:
    """The corpus's eql and query DSL rules through the CLI: import, then export what validates, gives back each
    source rule (Kibana's defaults and detect's own tag, marker and derived required fields aside)."""
    from deployer.rules.ruleset import validate_paths
    from tests.targets.kibana.whole_rule import as_kibana_runs_it, corpus_rules

    sources = {rule["rule_id"]: rule for rule in corpus_rules()}
    (in_tmp / "elastic.ndjson").write_text("".join(json.dumps(rule) + "\n" for rule in sources.values()))
    detect("import", "elastic.ndjson", "--into", "imported", cwd=in_tmp)
    written = sorted((in_tmp / "imported").glob("*.json")) if (in_tmp / "imported").is_dir() else []
    # Rules whose fields no data source knows fail validation, which is not what this test is about: set them aside.
    invalid = {Path(problem.file).resolve() for problem in validate_paths(written).problems}
    for path in written:
        if path.resolve() in invalid:
            path.unlink()
    kept = [path for path in written if path.resolve() not in invalid]
    if not kept:
        pytest.skip(f"none of the {len(sources)} rules imports and validates yet (data sources): nothing to export")
    exported = [json.loads(line) for line in _export(in_tmp / "imported", in_tmp).splitlines()]
    assert len(exported) == len(kept)
    for payload in exported:
        source = sources[payload["rule_id"]]
        derived = "required_fields" not in source
        assert as_kibana_runs_it(payload, derived_required_fields=derived) == as_kibana_runs_it(source), payload["rule_id"]


def test_rules_detect_cannot_express_are_skipped_and_named(in_tmp: Path) -> None:
    dsl, eql = (json.loads(line) for line in _export(DETECTIONS, in_tmp).splitlines())  # sorted by rule_id
    kql = {**dsl, "rule_id": "kql-rule", "name": "A KQL rule", "query": 'process.name : "calc.exe"', "filters": []}
    kql.pop("meta")
    (in_tmp / "mixed.ndjson").write_text("".join(json.dumps(rule) + "\n" for rule in (eql, kql)))
    result = detect("import", "mixed.ndjson", "--into", "imported", cwd=in_tmp)
    assert result.returncode == 1
    assert ("mixed.ndjson:2: kql-rule: skipped: a KQL (kuery) query rule: detect holds EQL and query DSL rules today"
            in result.stderr)
    assert [path.name for path in (in_tmp / "imported").iterdir()] == ["windows_app_layer_protocol_qakbot_namedpipe_eql.json"]
    assert "Traceback" not in result.stderr


def test_a_line_that_is_not_json_stops_the_import_before_any_file(in_tmp: Path) -> None:
    exported = _export(DETECTIONS, in_tmp)
    (in_tmp / "broken.ndjson").write_text(exported + '{"rule_id": "cut-off", "type": "eq\n')
    result = detect("import", "broken.ndjson", "--into", "imported", cwd=in_tmp)
    assert result.returncode == 1
    assert result.stdout.strip().startswith("broken.ndjson:3: /: not JSON: ")
    assert not (in_tmp / "imported").exists()


def test_existing_rule_files_are_kept_unless_forced(in_tmp: Path) -> None:
    shutil.copytree(DETECTIONS, in_tmp / "detections")
    (in_tmp / "export.ndjson").write_text(_export(DETECTIONS, in_tmp))
    kept = detect("import", "export.ndjson", cwd=in_tmp)
    assert kept.returncode == 1 and kept.stderr.count("exists; rerun with --force to replace it") == 2
    assert [path.read_bytes() for path in sorted((in_tmp / "detections").glob("*.json"))] == \
        [path.read_bytes() for path in QAKBOT_FILES]
    forced = detect("import", "export.ndjson", "--force", cwd=in_tmp)
    assert forced.returncode == 0, forced.stderr

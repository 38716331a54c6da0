"""`detect test` end to end as CI runs it: a real cluster, JSON report, exit codes, file:line in failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from deployer.cluster.node import RunningNode
from tests.conftest import FIXTURES, RULES


def detect(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deployer", *arguments], cwd=RULES, capture_output=True, text=True,
                          timeout=300)


def test_detect_test_passes_and_reports_json(opensearch_node: RunningNode) -> None:
    result = detect("test", "--cluster-url", opensearch_node.url, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert {(proof["file"], proof["engine"]) for proof in report["proofs"]} == {
        ("detections/windows_app_layer_protocol_qakbot_namedpipe.json", "opensearch"),
        ("detections/windows_app_layer_protocol_qakbot_namedpipe_eql.json", "opensearch")}
    for proof in report["proofs"]:
        assert proof["matches"]["expected"] == sorted(proof["matches"]["actual"], key=lambda e: int(e.split(":")[1]))
        assert [run["triggered"] for run in proof["monitor"]] == [True, False]


def test_misfiled_fixture_fails_with_file_and_line(opensearch_node: RunningNode, tmp_path: Path) -> None:
    stem = "windows_app_layer_protocol_qakbot_namedpipe"
    shutil.copytree(FIXTURES / stem, tmp_path / stem)
    match = (tmp_path / stem / "match.ndjson").read_text().splitlines()
    nomatch = (tmp_path / stem / "nomatch.ndjson").read_text().splitlines()
    # A near miss claimed as a match, and a real match claimed as a near miss.
    (tmp_path / stem / "match.ndjson").write_text("\n".join([*match[1:], nomatch[0]]) + "\n")
    (tmp_path / stem / "nomatch.ndjson").write_text("\n".join([*nomatch[1:], match[0]]) + "\n")
    result = detect("test", stem, "--cluster-url", opensearch_node.url, "--fixtures", str(tmp_path))
    assert result.returncode == 1
    assert f"missing: fixtures/{stem}/match.ndjson:{len(match)} should alert but did not" in result.stdout
    assert f"unexpected: fixtures/{stem}/nomatch.ndjson:{len(nomatch)} alerted but should not" in result.stdout
    assert "proof failed" in result.stdout
    assert "Traceback" not in result.stderr


def test_bad_fixture_line_stops_before_any_cluster_work(tmp_path: Path) -> None:
    stem = "windows_app_layer_protocol_qakbot_namedpipe"
    shutil.copytree(FIXTURES / stem, tmp_path / stem)
    with (tmp_path / stem / "nomatch.ndjson").open("a") as handle:
        handle.write("{not json\n")
    lines = len((tmp_path / stem / "nomatch.ndjson").read_text().splitlines())
    result = detect("test", stem, "--cluster-url", "http://127.0.0.1:9", "--fixtures", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.strip().endswith(f"nomatch.ndjson:{lines}: /: invalid JSON at column 2: "
                                          "Expecting property name enclosed in double quotes")
    assert "Traceback" not in result.stderr


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    result = detect("test", "--cluster-url", "http://127.0.0.1:9", "--format", "json")
    assert result.returncode == 2  # as a deploy to an unreachable target; tests/prove/test_clusters.py has the cases
    assert (result.stdout, result.stderr) == ("", "error: cannot reach opensearch at http://127.0.0.1:9: connection refused\n")


def _environments(tmp_path: Path, text: str) -> str:
    config = tmp_path / "detect.toml"
    config.write_text(text, "utf-8")
    return str(config)


def test_env_proves_on_the_environments_own_clusters(opensearch_node: RunningNode, elasticsearch_node: RunningNode,
                                                      tmp_path: Path) -> None:
    """Each engine on the cluster the environment names for it: OpenSearch at its target's URL, Elasticsearch at
    the cluster the Kibana table names; without --engine, every engine the environment has."""
    config = _environments(tmp_path, f'[environments.lab.opensearch]\nurl = "{opensearch_node.url}"\n'
                                     '[environments.lab.kibana]\nurl = "http://127.0.0.1:9"\n'
                                     f'[environments.lab.kibana.elasticsearch]\nurl = "{elasticsearch_node.url}"\n')
    result = detect("test", "--env", "lab", "--config", config, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    proofs = json.loads(result.stdout)["proofs"]
    assert sorted({proof["engine"] for proof in proofs}) == ["elasticsearch", "opensearch"]
    assert all(proof["ok"] for proof in proofs)


def test_env_without_a_cluster_for_the_engine_is_one_line(tmp_path: Path) -> None:
    config = _environments(tmp_path, '[environments.lab.kibana]\nurl = "https://kibana.example.internal"\n')
    result = detect("test", "--env", "lab", "--config", config, "--engine", "elasticsearch")
    assert result.returncode == 2
    assert result.stderr == ("error: elasticsearch: no cluster given for it (no target of the environment runs on it)\n")


def test_env_and_cluster_url_together_are_refused(tmp_path: Path) -> None:
    config = _environments(tmp_path, '[environments.lab.opensearch]\nurl = "http://127.0.0.1:9"\n')
    result = detect("test", "--env", "lab", "--config", config, "--cluster-url", "http://127.0.0.1:9")
    assert (result.returncode, result.stderr) == (2, "error: --env and --cluster-url both say where to prove: give one of them\n")

"""What depends on the number of rules a team keeps, run with 0, 2 and 50 rules in detections/: validate, test (on
the session's real OpenSearch), export and the README's demo (./scripts/demo).

No rules at all is refused by every command that checks or ships rules (exit 1, one line naming the folder): an
empty rules folder is a mistake far more often than a state, and passing it would let an empty checkout go green or
be deployed with --prune. Nothing claims "all rules proven". The demo only says there is nothing to show (exit 0).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.cluster.node import RunningNode
from tests.conftest import REPO, detect
from tests.support.repository import generated_rules

NO_RULES = "detections: /: no rule files (*.json) in this folder\n"


def _demo(repository: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """./scripts/demo as the README runs it, in `repository`, detect being installed already (the suite's own)."""
    script = repository / "scripts" / "demo"
    script.parent.mkdir()
    shutil.copy(REPO / "scripts" / "demo", script)
    environment = {**os.environ, "DETECT_CACHE_DIR": str(cache),
                   "PATH": os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])}
    return subprocess.run([str(script), "--no-install"], cwd=repository, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env=environment)


@pytest.mark.parametrize("count", [0, 2, 50])
def test_any_number_of_rules(count: int, tmp_path: Path, opensearch_node: RunningNode,
                             local_clusters: Callable[..., Path]) -> None:
    rules = generated_rules(tmp_path, count)
    validated = detect("validate", cwd=tmp_path)
    proved = detect("test", "--cluster-url", opensearch_node.url, "--format", "json", cwd=tmp_path)
    exported = detect("export", "--target", "kibana", cwd=tmp_path)
    demo = _demo(tmp_path, local_clusters(opensearch_node))
    for result in (validated, proved, exported, demo):
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        assert "all rules proven" not in result.stdout or count > 0
    assert demo.returncode == 0, demo.stdout + demo.stderr
    if count == 0:
        for result in (validated, proved, exported):
            assert (result.returncode, result.stdout) == (1, NO_RULES), result
        assert proved.stderr == "error: 1 problem(s) in the rules\n"
        assert demo.stdout == 'No rules in detections/ yet: nothing to validate or prove. Scaffold one with: detect new "Rule name"\n'
        return
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"{count} rule(s) valid in {count} file(s)" in validated.stderr
    assert proved.returncode == 0, proved.stdout + proved.stderr
    report = json.loads(proved.stdout)
    assert report["ok"] is True
    assert sorted(proof["file"] for proof in report["proofs"]) == [f"detections/{path.name}" for path in rules]
    assert all(proof["ok"] and proof["engine"] == "opensearch" for proof in report["proofs"])
    assert exported.returncode == 0, exported.stderr
    assert len({json.loads(line)["rule_id"] for line in exported.stdout.splitlines()}) == count
    assert "all rules proven" in demo.stdout
    assert f"The Alerting monitor detect compiles for detections/{rules[0].name} (what a deploy sends):" in demo.stdout

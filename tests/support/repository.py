"""Throwaway rule repositories for tests that run detect as a team does: detections/ and fixtures/ (and whatever
else the test adds), built from the tests' own rules, never from the repository's."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from deployer.authoring.naming import schema_reference
from tests.conftest import DETECTIONS, DSL_RULE, EQL_RULE, FIXTURES

# Generated rule_ids are fixed (uuid5 of the number): a failure names the same rule in every run.
_NAMESPACE = uuid.UUID("6f4d0c9e-5b7a-4f3e-9d2c-1a8b7e6f5d40")


def copy_tests_rules(root: Path) -> Path:
    """`root` with a copy of the tests' rules and their fixtures."""
    shutil.copytree(DETECTIONS, root / "detections", dirs_exist_ok=True)
    shutil.copytree(FIXTURES, root / "fixtures", dirs_exist_ok=True)
    return root


def generated_rules(root: Path, count: int) -> list[Path]:
    """`count` valid rules under root/detections (an empty folder for 0), each a copy of one of the tests' rules
    (query DSL and EQL in turn) with its own rule_id, name and file, and that rule's fixtures under its stem."""
    detections = root / "detections"
    detections.mkdir(parents=True, exist_ok=True)
    (root / "fixtures").mkdir(exist_ok=True)
    written = []
    for number in range(1, count + 1):
        template = (DSL_RULE, EQL_RULE)[number % 2]
        document = json.loads(template.read_text("utf-8"))
        document["$schema"] = schema_reference(detections)
        document["rule_id"] = str(uuid.uuid5(_NAMESPACE, str(number)))
        document["name"] = f"{document['name']} (copy {number})"
        stem = f"generated_{number:03d}_{document['language']}"
        path = detections / f"{stem}.json"
        path.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        shutil.copytree(FIXTURES / template.stem, root / "fixtures" / stem)
        written.append(path)
    return written

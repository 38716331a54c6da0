"""ECS field data: generated from the pinned @elastic/ecs npm package (never hand-written), Elastic's types for the
fields rules use, and a loader that reads nothing until asked and then reads quickly."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from deployer.rules.ecs import DATA_FILE, ECS_VERSION, EcsField, MultiField, ecs_field_types, ecs_fields
from tests.conftest import REPO

GENERATOR = REPO / "scripts" / "generate_ecs.py"
DATA = REPO / "deployer" / "rules" / DATA_FILE
PACKAGE_ENV = "DETECT_ECS_PACKAGE"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_ecs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package() -> Path:
    """The unpacked npm package ./scripts/test installs; a test needing it skips only when it is not installed."""
    if not os.environ.get(PACKAGE_ENV):
        pytest.skip(f"${PACKAGE_ENV} is not set: ./scripts/test installs @elastic/ecs@{ECS_VERSION} and sets it")
    package = Path(os.environ[PACKAGE_ENV])
    if not (package / "package.json").is_file():
        pytest.fail(f"${PACKAGE_ENV}={package} holds no npm package: ./scripts/test installs it")
    return package


def test_committed_data_is_what_the_pinned_package_generates() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--package", str(_package()), "--check", "--output", str(DATA)],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_field_count_is_the_packages() -> None:
    counted = subprocess.run(["node", "-e", "console.log(Object.keys(require(process.argv[1]).EcsFlat).length)",
                              str(_package().resolve())], capture_output=True, text=True, timeout=60, check=True)
    assert len(ecs_fields()) == int(counted.stdout) == 2605


def test_the_generator_loader_data_and_header_agree_on_version_and_licence() -> None:
    header = json.loads(DATA.read_text("utf-8"))
    assert _generator().ECS_PACKAGE_VERSION == header["ecs_version"] == ECS_VERSION
    assert header["license"] == "Apache-2.0"
    assert "Elasticsearch B.V." in header["notice"]
    assert header["field_count"] == len(header["fields"]) == len(ecs_fields())


def test_known_fields_have_elastics_types() -> None:
    fields = ecs_fields()
    assert fields["process.command_line"] == EcsField(
        "process.command_line", "wildcard", multi_fields=(MultiField("process.command_line.text", "match_only_text"),))
    assert fields["process.name"] == EcsField(
        "process.name", "keyword", ignore_above=1024, multi_fields=(MultiField("process.name.text", "match_only_text"),))
    assert fields["@timestamp"].type == "date"
    assert fields["source.ip"].type == "ip"
    assert (fields["event.code"].type, fields["event.code"].ignore_above) == ("keyword", 1024)
    assert fields["labels"].object_type == "keyword"
    assert fields["tags"].array
    assert not fields["event.original"].indexed and not fields["event.original"].doc_values
    assert "winlog.event_data.CommandLine" not in fields  # integration fields are not ECS


def test_field_types_hold_fields_and_multi_fields() -> None:
    types = ecs_field_types()
    assert types["process.command_line"] == "wildcard"
    assert types["process.command_line.text"] == "match_only_text"
    multi_field_count = sum(len(field.multi_fields) for field in ecs_fields().values())
    assert multi_field_count > 0
    assert len(types) == len(ecs_fields()) + multi_field_count  # no multi-field shadows an ECS field


def test_the_generator_keeps_only_mapping_facts_and_refuses_a_misplaced_multi_field() -> None:
    generator = _generator()
    flat = {"flat_name": "a.b", "type": "keyword", "ignore_above": 1024, "normalize": ["array"], "index": False,
            "description": "dropped", "multi_fields": [{"flat_name": "a.b.text", "name": "text", "type": "match_only_text"}]}
    assert generator.compact_field("a.b", flat) == {
        "type": "keyword", "ignore_above": 1024, "array": True, "index": False, "multi_fields": {"text": "match_only_text"}}
    flat["multi_fields"] = [{"flat_name": "elsewhere.text", "name": "text", "type": "match_only_text"}]
    with pytest.raises(generator.GenerationError, match="not under the field"):
        generator.compact_field("a.b", flat)


def test_the_data_file_ships_in_the_package() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]
    shipped = DATA.relative_to(REPO / "deployer").as_posix()
    assert any(fnmatch.fnmatch(shipped, pattern) for pattern in package_data["deployer"])


# Run in a fresh interpreter: an audit hook sees every file opened, from the import on.
LAZY_AND_TIMED = """
import sys, time
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and "{data}" in str(args[0]) else None)
import deployer.rules.ecs as ecs
after_import = len(opened)
started = time.perf_counter()
fields = ecs.ecs_fields()
elapsed = time.perf_counter() - started
ecs.ecs_fields()
print(after_import, len(opened), len(fields), elapsed)
"""


def test_importing_reads_nothing_and_the_first_load_is_cheap() -> None:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", LAZY_AND_TIMED.replace("{data}", DATA_FILE)], capture_output=True,
                            text=True, timeout=60, env=environment, check=True)
    opened_at_import, opened_in_all, field_count, seconds = result.stdout.split()
    assert (int(opened_at_import), int(opened_in_all), int(field_count)) == (0, 1, len(ecs_fields()))
    # About 10 ms on this machine (json and importlib.resources imported, the file read, 2,605 fields built); the
    # bound leaves room for a loaded CI runner, not for a slower format.
    assert float(seconds) < 0.25, f"loading ECS took {float(seconds) * 1000:.0f} ms"

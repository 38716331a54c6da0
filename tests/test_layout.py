"""The layout keeps its promises: the target boundary holds, modules stay small, tests mirror the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "deployer"
# Engines are not targets: the throwaway nodes and the proof's engine clients name OpenSearch and Elasticsearch as
# the software they run or talk to. The CLI names targets in its help texts.
_ENGINE_MODULES = ("cluster/", "prove/engines.py", "prove/clusters.py")
_MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _target_names_in_code(path: Path) -> list[str]:
    """Where a module outside targets/ names a target in code: a string literal equal to its name, or an import of
    the target's package. Docstrings and comments are prose and may name them."""
    from deployer.targets import names

    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and node.value in names():
            found.append(f"line {node.lineno}: {node.value!r}")
        elif isinstance(node, ast.ImportFrom) and node.module and (any(
                node.module == f"deployer.targets.{name}" or node.module.startswith(f"deployer.targets.{name}.") for name in names())
                or (node.module == "deployer.targets" and any(alias.name in names() for alias in node.names))):
            found.append(f"line {node.lineno}: from {node.module} import ...")
    return sorted(found, key=lambda where: int(where.split(":")[0].removeprefix("line ")))


@pytest.mark.parametrize("path", [path for path in _modules()
                                  if not str(path.relative_to(PACKAGE)).startswith(("targets/", *_ENGINE_MODULES))
                                  and path.name != "cli.py" and "cli/" not in str(path.relative_to(PACKAGE))],
                         ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_outside_targets_names_a_target(path: Path) -> None:
    assert _target_names_in_code(path) == []


def test_the_check_finds_a_target_named_in_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Mentions kibana in prose."""\nfrom deployer.targets.kibana import compile_rule\nTARGET = "opensearch"\n'
                      'from deployer.targets import kibana\n')
    assert _target_names_in_code(sample) == ["line 2: from deployer.targets.kibana import ...", "line 3: 'opensearch'",
                                             "line 4: from deployer.targets import ..."]


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= _MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines: split it by what it holds"


def test_tests_mirror_the_package() -> None:
    """Every package folder has its test folder (tests/<same path>/)."""
    folders = {path.parent.relative_to(PACKAGE) for path in _modules()} - {Path(".")}
    missing = [str(folder) for folder in sorted(folders) if not (REPO / "tests" / folder).is_dir()]
    assert missing == []

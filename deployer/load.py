"""Step 1: read rule files from disk into JSON documents, reporting unreadable input as Problems."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import Problem, display_path

# Larger files are not hand-written rules; refusing them early keeps memory bounded.
MAX_RULE_BYTES = 1024 * 1024
DEFAULT_RULES_DIR = Path("detections")


@dataclass(frozen=True)
class RuleSource:
    """A rule file parsed as JSON (not yet validated)."""

    path: Path
    document: Any

    @property
    def display(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True)
class Loaded:
    sources: list[RuleSource]
    problems: list[Problem]


def find_rule_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand folders to the *.json files below them (sorted), keep files as given."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(display_path(path), "", "no such file or folder"))
    return files, problems


def load_rules(paths: Iterable[Path]) -> Loaded:
    files, problems = find_rule_files(paths)
    sources: list[RuleSource] = []
    for path in files:
        source = read_rule_file(path)
        if isinstance(source, Problem):
            problems.append(source)
        else:
            sources.append(source)
    return Loaded(sources, problems)


def read_rule_file(path: Path) -> RuleSource | Problem:
    shown = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RULE_BYTES:
            return Problem(shown, "", f"file is {size} bytes; a rule file may hold at most {MAX_RULE_BYTES}")
        raw = path.read_bytes()
    except OSError as error:
        return Problem(shown, "", f"cannot read: {error.strerror or error}")
    return parse_rule_text(path, raw)


def parse_rule_text(path: Path, raw: bytes) -> RuleSource | Problem:
    shown = display_path(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(shown, "", f"not UTF-8: invalid byte at offset {error.start}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return Problem(shown, "", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
    except RecursionError:
        return Problem(shown, "", "invalid JSON: nested too deeply")
    return RuleSource(path, document)

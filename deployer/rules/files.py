"""Step 1: read rule files from disk into JSON documents, reporting unreadable input as Problems."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from deployer.errors import Problem, display_path
from deployer.rules.jsontext import InvalidJson, parse_json

# Larger files are not hand-written rules; refusing them early keeps memory bounded (README: the rule format).
MAX_RULE_BYTES = 1024 * 1024
DEFAULT_RULES_DIR = Path("detections")


@dataclass(frozen=True)
class RuleSource:
    """A rule file parsed as JSON (not yet validated)."""

    path: Path
    document: Any
    digest: str = ""  # sha256 of the file's bytes: what the record of valid documents is keyed by

    @cached_property
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
            found, refused = _rule_files_in(path)
            files += found
            problems += refused
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(display_path(path), "", "no such file or folder"))
    return files, problems


def _rule_files_in(folder: Path) -> tuple[list[Path], list[Problem]]:
    """The *.json files below `folder`; a symlink may not lead out of it (rules would come from elsewhere)."""
    files: list[Path] = []
    problems: list[Problem] = []
    inside = folder.resolve()
    for path in sorted(folder.rglob("*.json")):
        if not path.is_symlink():  # rglob does not follow symlinked folders: only the file itself can lead out
            if path.is_file():  # not a folder named like a rule: rglob lists the files in it
                files.append(path)
            continue
        target = path.resolve()
        if target.is_dir():
            continue
        if not target.is_file():
            problems.append(Problem(display_path(path), "", "not a regular file (a broken symlink?)"))
        elif not target.is_relative_to(inside):
            problems.append(Problem(display_path(path), "", f"symlink to {target}, outside {display_path(folder)}: "
                                                            "rule files must live in the rules folder"))
        else:
            files.append(path)
    if not files and not problems:
        problems.append(Problem(display_path(folder), "", "no rule files (*.json) in this folder"))
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
    raw = read_bounded(path, MAX_RULE_BYTES, "a rule file")
    return raw if isinstance(raw, Problem) else parse_rule_text(path, raw)


# display_path resolves the path (system calls): only problems need it, so it is not computed up front.
def read_bounded(path: Path, limit: int, what: str) -> bytes | Problem:
    """The bytes of an input file, or why not: unreadable, or larger than `limit` (input that big is a mistake, and
    refusing it before reading keeps memory bounded)."""
    try:
        size = path.stat().st_size
        if size > limit:
            return Problem(display_path(path), "", f"file is {size} bytes; {what} may hold at most {limit}")
        return path.read_bytes()
    except OSError as error:
        return Problem(display_path(path), "", f"cannot read: {error.strerror or error}")


def parse_rule_text(path: Path, raw: bytes) -> RuleSource | Problem:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(display_path(path), "", f"not UTF-8: invalid byte at offset {error.start}")
    try:
        document = parse_json(text)
    except InvalidJson as error:
        return Problem(display_path(path), error.pointer, error.message)
    return RuleSource(path, document, hashlib.sha256(raw).hexdigest())

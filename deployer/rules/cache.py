"""The rule documents already found valid, so validating an unchanged repository again costs little (as linters
such as ruff and mypy keep theirs).

A rule file is recorded by the sha256 of its bytes (with those of its fixture files when validate checks them),
under a fingerprint of everything else that decides validity: detect's own code and data files (schema, data
sources) and the versions of the libraries that check (eql, jsonschema, jsonschema-rs). Any change to those starts a
new, empty record. Only valid documents are recorded:
an invalid one is checked again each time, so its problems are always reported in full. Cross-file checks
(duplicate rule_ids, versions against --base) never use the record.

$DETECT_VALIDATION_CACHE names the folder (default: <detect cache>/validated); `off` disables the record.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import metadata
from pathlib import Path

import deployer

_CHECKERS = ("eql", "jsonschema", "jsonschema-rs", "rfc3986-validator")


def cache_folder() -> Path | None:
    setting = os.environ.get("DETECT_VALIDATION_CACHE", "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    from deployer.cache import cache_root

    return cache_root() / "validated"


@cache
def fingerprint() -> str:
    """sha256 of detect's package files and of the checking libraries' versions."""
    digest = hashlib.sha256()
    package = Path(deployer.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name in _CHECKERS:
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing\0".encode())
    return digest.hexdigest()


def record_key(digest: str, *contents: bytes) -> str:
    """The record's key for a rule file (`digest`) checked together with other files' `contents` (its fixtures)."""
    combined = hashlib.sha256(digest.encode())
    for content in contents:
        combined.update(b"\0" + hashlib.sha256(content).digest())
    return combined.hexdigest()


def load_valid() -> set[str]:
    """The digests recorded as valid under the current fingerprint; empty when there is no usable record."""
    folder = cache_folder()
    if folder is None:
        return set()
    try:
        text = (folder / f"{fingerprint()}.txt").read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.split() if len(line) == 64}


def record_valid(digests: set[str], known: set[str]) -> None:
    """Add `digests` to the record; a record that cannot be written only costs speed, never correctness."""
    folder = cache_folder()
    if folder is None or not digests - known:
        return
    path = folder / f"{fingerprint()}.txt"
    partial = folder / f".{fingerprint()}.{os.getpid()}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.txt"):
            if stale != path:  # records of earlier code or libraries are never read again
                stale.unlink(missing_ok=True)
        partial.write_text("\n".join(sorted(known | digests)) + "\n", "ascii")
        partial.replace(path)  # atomic: a concurrent run (pre-commit) reads the old or the new record, never half
    except OSError:
        partial.unlink(missing_ok=True)

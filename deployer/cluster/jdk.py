"""Pick a JDK that the engine version accepts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import ClusterError

# OpenSearch 2.x still installs a SecurityManager, which Java 24 removed, so
# its upper bound is real; Elasticsearch 9 needs 21+ and has no upper bound.
JAVA_RANGE: dict[str, tuple[int, int | None]] = {
    "opensearch": (11, 23),
    "elasticsearch": (21, None),
}

_OVERRIDE_ENV = {
    "opensearch": "DETECT_OPENSEARCH_JAVA_HOME",
    "elasticsearch": "DETECT_ELASTICSEARCH_JAVA_HOME",
}


def java_major(home: Path) -> int | None:
    """Major version from a JDK's `release` file, or None if unreadable."""
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            value = line.split("=", 1)[1].strip().strip('"')
            head = value.split(".", 1)[0]
            # Java 8 reports itself as 1.8.x
            if head == "1" and "." in value:
                head = value.split(".")[1]
            return int(head) if head.isdigit() else None
    return None


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        found.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        found.append(Path(os.path.realpath(java)).parent.parent)
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        found.extend(sorted(p for p in jvm_dir.iterdir() if p.is_dir()))
    return found


def java_home_for(engine: str) -> Path:
    """A JDK home for `engine`: the override variable, else the newest fitting one found."""
    low, high = JAVA_RANGE[engine]
    override = os.environ.get(_OVERRIDE_ENV[engine])
    if override:
        return Path(override)
    best: tuple[int, Path] | None = None
    for home in _candidates():
        major = java_major(home)
        if major is None or major < low or (high is not None and major > high):
            continue
        if not (home / "bin" / "java").exists():
            continue
        if best is None or major > best[0]:
            best = (major, home)
    if best is None:
        wanted = f"{low}..{high}" if high else f"{low}+"
        raise ClusterError(f"no JDK {wanted} found for {engine}; set {_OVERRIDE_ENV[engine]} to one")
    return best[1]

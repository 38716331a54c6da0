"""What the commands that write rule files (detect new, detect import) name them and point their `$schema` at."""

from __future__ import annotations

import os
import re
from pathlib import Path


def rule_file_stem(name: str) -> str:
    """The file name (without .json) a rule of this name gets: its name in ASCII snake_case.

    Letters outside ASCII are transliterated (Überwachung → uberwachung, Größe → grosse), not dropped.
    """
    from anyascii import anyascii

    return re.sub(r"[^a-z0-9]+", "_", anyascii(name).lower()).strip("_")


def schema_reference(folder: Path) -> str:
    """The `$schema` of a rule file written into `folder`: the schema's path relative to it, so editors check it."""
    import deployer

    schema = Path(deployer.__file__).resolve().parent / "schema" / "rule.schema.json"
    return Path(os.path.relpath(schema, folder.resolve())).as_posix()

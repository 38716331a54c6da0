"""Golden payloads: reviewed JSON files next to the tests. DETECT_UPDATE_GOLDEN=1 rewrites them for review."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, payload: Any) -> None:
    path = GOLDEN / name
    rendered = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("DETECT_UPDATE_GOLDEN") == "1":
        path.write_text(rendered, "utf-8")
    assert path.is_file(), f"no golden file {path}; run with DETECT_UPDATE_GOLDEN=1 and review it"
    assert json.loads(path.read_text("utf-8")) == payload, f"payload differs from {path.name}"

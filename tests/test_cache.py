"""The one cache folder (deployer/cache.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from deployer.cache import cache_root

    monkeypatch.setenv("DETECT_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "a"
    assert cache_root(tmp_path / "b") == tmp_path / "b"
    monkeypatch.delenv("DETECT_CACHE_DIR")
    assert cache_root() == tmp_path / "x" / "detect"
    monkeypatch.delenv("XDG_CACHE_HOME")
    expected = Path("/var/cache/detect") if os.geteuid() == 0 else Path.home() / ".cache" / "detect"
    assert cache_root() == expected

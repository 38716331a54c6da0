"""Where everything detect fetches or keeps lives: engine distributions, node state, the record of valid rules, test tools."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache_dir: Path | None = None) -> Path:
    """Resolve the cache folder; nothing is created here.

    Precedence: explicit argument, $DETECT_CACHE_DIR, $XDG_CACHE_HOME/detect,
    then a per-user default.  For root the default is /var/cache/detect rather
    than ~/.cache/detect because the node runs as an unprivileged user that
    cannot traverse /root (mode 700), and it must read the engine home.
    """
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("DETECT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "detect"
    if os.geteuid() == 0:
        return Path("/var/cache/detect")
    return Path.home() / ".cache" / "detect"

"""`detect cluster up|status|down`: one local node per engine that outlives a command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from deployer.errors import DetectError

if TYPE_CHECKING:
    from deployer.cluster.node import RunningNode


def cluster_up(engine: str, progress: Callable[[str], None]) -> RunningNode:
    from deployer.cluster.distribution import ensure_distribution
    from deployer.cluster.errors import ClusterError
    from deployer.cluster.node import start_node
    from deployer.cluster.state import load_state, save_state

    running = load_state(engine)
    if running is not None:
        progress(f"{engine} is already running at {running.url}")
        return running
    try:
        node = start_node(engine, ensure_distribution(engine, progress=progress), progress=progress)
    except ClusterError as error:
        raise DetectError(f"{engine}: {error}") from None
    save_state(node)
    return node


def cluster_status(engine: str) -> RunningNode | None:
    from deployer.cluster.state import load_state

    return load_state(engine)


def cluster_down(engine: str) -> bool:
    """Stop the recorded node (alive or not, its folder is removed); False when there was none."""
    from deployer.cluster.node import stop_node
    from deployer.cluster.state import clear_state, load_state

    node = load_state(engine, check=False)
    if node is None:
        return False
    stop_node(node)
    clear_state(engine)
    return True

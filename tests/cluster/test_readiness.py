"""A node that does not come up fails in one line: its own last error, and the log to read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deployer.cluster.errors import ClusterError
from deployer.cluster.node import start_node
from tests.cluster.test_processes import processes_using


def test_failed_start_names_the_log(opensearch_home: Path) -> None:
    with pytest.raises(ClusterError) as caught:
        start_node("opensearch", opensearch_home, settings={"detect.no.such.setting": "x"}, timeout=120)
    message = str(caught.value)
    assert "\n" not in message
    assert "unknown setting [detect.no.such.setting]" in message
    log = Path(message.rsplit("(log: ", 1)[1].rstrip(")"))
    assert log.is_file()
    # the failed node's folder is kept for reading, and nothing is left running
    workdir = log.parent.parent
    assert workdir.name.startswith("detect-opensearch-")
    assert processes_using(workdir) == []
    shutil.rmtree(workdir)

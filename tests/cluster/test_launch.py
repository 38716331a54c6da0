"""A node's work folder and settings: on loopback, on free ports, and named where processes.py looks for the node."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cluster.launch import node_settings, prepare_workdir
from deployer.cluster.processes import _node_arguments

STOCK_JVM_OPTIONS = """-Xms1g
-Xmx1g
-XX:+HeapDumpOnOutOfMemoryError
-XX:HeapDumpPath=data
-XX:ErrorFile=logs/hs_err_pid%p.log
9-:-Xlog:gc*,gc+age=trace,safepoint:file=logs/gc.log:utctime,pid,tags:filecount=32,filesize=64m
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    (config / "jvm.options").write_text(STOCK_JVM_OPTIONS)
    (config / "opensearch.yml").write_text("")
    return tmp_path / "home"


def test_the_work_folder_holds_its_own_config_and_state(home: Path, tmp_path: Path) -> None:
    workdir = prepare_workdir("opensearch", home, None, tmp_path / "node")
    assert sorted(path.name for path in workdir.iterdir()) == ["config", "data", "logs", "tmp"]
    assert (workdir / "config" / "opensearch.yml").is_file()
    assert (home / "config" / "jvm.options").read_text() == STOCK_JVM_OPTIONS  # the cached home is left alone


def test_crash_and_gc_logs_go_to_the_folder_and_heap_dumps_nowhere(home: Path, tmp_path: Path) -> None:
    workdir = prepare_workdir("opensearch", home, None, tmp_path / "node")
    options = (workdir / "config" / "jvm.options").read_text().splitlines()
    assert options[:2] == ["-Xms1g", "-Xmx1g"]
    assert not any("HeapDump" in line for line in options)
    assert [line for line in options if "ErrorFile" in line or "-Xlog:gc" in line] == [
        f"-XX:ErrorFile={workdir}/logs/hs_err_pid%p.log",
        f"-Xlog:gc*:file={workdir}/logs/gc.log:utctime,pid,tags:filecount=2,filesize=8m",
    ]


def test_every_jvm_and_the_launcher_name_the_folder_as_processes_py_expects(home: Path, tmp_path: Path) -> None:
    workdir = prepare_workdir("elasticsearch", home, None, tmp_path / "node")
    markers = _node_arguments(workdir)
    launcher_arguments = [f"-E{key}={value}".encode() for key, value in node_settings("elasticsearch", workdir).items()]
    jvm_options = [line.encode() for line in (workdir / "config" / "jvm.options").read_text().splitlines()]
    assert any(argument.startswith(markers) for argument in launcher_arguments)
    assert sum(option.startswith(markers) for option in jvm_options) == 2


@pytest.mark.parametrize("engine", ["opensearch", "elasticsearch"])
def test_a_node_listens_on_loopback_on_free_ports(engine: str, tmp_path: Path) -> None:
    settings = node_settings(engine, tmp_path)
    assert settings["network.host"] == "127.0.0.1"
    assert settings["http.port"] == settings["transport.port"] == "0"
    assert settings["node.portsfile"] == "true"  # how readiness.py learns the port
    assert settings["path.data"] == f"{tmp_path}/data"


def test_an_existing_folder_is_not_reused(home: Path, tmp_path: Path) -> None:
    (tmp_path / "node").mkdir()
    with pytest.raises(FileExistsError):
        prepare_workdir("opensearch", home, None, tmp_path / "node")

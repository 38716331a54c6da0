"""The CLI's command groups: `detect cluster` (a local throwaway node) and `detect datasource` (the team's data
sources). Each command parses, calls one step and hands the result to report/."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from deployer import report
from deployer.cli_options import (
    ENGINES,
    ClusterFormatName,
    ConfigOption,
    DatasourcesOption,
    EngineName,
    EnvOption,
    Group,
    VerboseOption,
)

cluster_app = typer.Typer(help="A local throwaway cluster that outlives one command.", no_args_is_help=True, cls=Group)
EngineOption = Annotated[EngineName, typer.Option(help="Which engine.")]
ClusterFormatOption = Annotated[ClusterFormatName, typer.Option("--format", help="text: one line per engine for people; "
                                                                "json: one document for machines.")]


@cluster_app.command("up")
def cluster_up(engine: EngineOption = ENGINES[0], output: ClusterFormatOption = "text",
               verbose: VerboseOption = False) -> None:
    """Start a local single-node cluster on loopback (downloads the engine once) and leave it running.

    A node a killed `cluster up` left behind, and its folder, are removed first.
    """
    from deployer.cluster.local import cluster_up as up

    with report.progress_bar(output, verbose=verbose) as progress:
        started = up(engine, progress=progress)
    report.emit(started, output)


@cluster_app.command("status")
def cluster_status(
    engine: Annotated[Optional[EngineName], typer.Option(help="Only this engine.", show_default="every engine")] = None,
    output: ClusterFormatOption = "text",
) -> None:
    """Show, per engine, whether the local cluster is running and where it listens.

    Exit 0 when a node runs (of --engine, or of any engine without it), 1 when none does.

    A node a killed `cluster up` left behind, and its folder, are removed on the way.
    """
    from deployer.cluster.local import cluster_status as status

    found = status([engine] if engine else list(ENGINES))
    report.emit(found, output)
    raise typer.Exit(0 if found.running else 1)


@cluster_app.command("down")
def cluster_down(engine: EngineOption = ENGINES[0], output: ClusterFormatOption = "text") -> None:
    """Stop the local cluster and remove its data folder (and whatever a killed `cluster up` left behind)."""
    from deployer.cluster.local import cluster_down as down

    # Its one progress line says why it waits (a `cluster up` at work), so it shows in CI too.
    report.emit(down(engine, progress=report.progress_lines(output, verbose=True)), output)


datasource_app = typer.Typer(help="The team's data sources (datasources/): what its indices hold beyond ECS.",
                             no_args_is_help=True, cls=Group)


@datasource_app.command("pull")
def datasource_pull(
    name: Annotated[str, typer.Argument(help="The data source's name; it is written to datasources/NAME.json.")],
    env: EnvOption,
    index: Annotated[str, typer.Option("--index", metavar="PATTERN", help="The index pattern its indices match.")],
    engine: Annotated[Optional[EngineName], typer.Option(help="Which of the environment's clusters to read.",
                                                         show_default="the first it has")] = None,
    force: Annotated[bool, typer.Option(help="Replace the data source's file if it exists.")] = False,
    config: ConfigOption = Path("detect.toml"),
    datasources: DatasourcesOption = None,
) -> None:
    """Write a data source from a real cluster's field capabilities: the fields that differ from ECS or add to it."""
    from deployer.authoring.datasource import pull_data_source

    sys.stdout.write(pull_data_source(env, index, name, config_path=config, engine=engine, force=force).text())


@datasource_app.command("list")
def datasource_list(datasources: DatasourcesOption = None) -> None:
    """List the data sources: name, index patterns, how many fields each adds to ECS."""
    from deployer.authoring.datasource import list_text

    sys.stdout.write(list_text())


@datasource_app.command("show")
def datasource_show(name: Annotated[str, typer.Argument(help="A data source's name.")],
                    datasources: DatasourcesOption = None) -> None:
    """Print one data source as JSON: its index patterns and the fields it declares beyond ECS, with their types."""
    from deployer.authoring.datasource import show_document

    report.emit(show_document(name), "json")

"""The CLI's shared parts: choices (each list declared once elsewhere), the options several commands take, and a
help layout that shows flags without a value type."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeAlias

import typer

from deployer import report, targets
from deployer.cluster import ENGINES as ENGINES  # re-exported: the commands take their engine choices from here


def plain_flags(params: list[Any]) -> list[Any]:
    """Give flags an empty metavar. typer 0.29's rich help prints every option's type, flags too (`--dry-run <bool>`,
    `--help <bool>`), though a flag takes no value; its plain help already leaves them out."""
    from typer.core import TyperOption

    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Group(typer.core.TyperGroup):
    """A command group whose help, and every subcommand's help, shows flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            # get_params also builds the command's --help option, which is cached: patched once, it stays so.
            plain_flags(command.get_params(ctx))
        return command


class _Choice(StrEnum):
    """A value typer offers as a choice (typer reads choices from an Enum). A member is its str value in comparisons,
    formatting and JSON; its repr is the str's too, so a message quoting it reads as the user typed it."""

    def __repr__(self) -> str:
        return str.__repr__(self)


def _choices(name: str, values: Iterable[str]) -> Any:
    return _Choice(name, [(value, value) for value in values])  # type: ignore[call-arg]  # Enum's functional API


# Each list is declared once, elsewhere: targets by the registry (names only: no target is imported), engines by
# cluster/, formats by report/. A target's or engine's default is the first of its list (kibana, opensearch).
TARGETS = targets.names()
# deployer.rules.model.Language, spelled out here: importing the rule model would slow every start-up.
LANGUAGES = ("dsl", "eql")
if TYPE_CHECKING:  # to the type checker a choice is its value; typer sees the Enums below
    TargetName: TypeAlias = str
    EngineName: TypeAlias = str
    EngineSet: TypeAlias = str
    FormatName: TypeAlias = str
    ClusterFormatName: TypeAlias = str
    LanguageName: TypeAlias = str
else:
    TargetName = _choices("TargetName", TARGETS)
    EngineName = _choices("EngineName", ENGINES)
    EngineSet = _choices("EngineSet", (*ENGINES, "all"))
    FormatName = _choices("FormatName", report.FORMATS)
    ClusterFormatName = _choices("ClusterFormatName", report.PLAIN_FORMATS)
    LanguageName = _choices("LanguageName", LANGUAGES)

FormatOption = Annotated[FormatName, typer.Option("--format", help="text for people, json for machines, github for "
                                                  "annotations and a job summary in GitHub Actions.")]
EnvOption = Annotated[str, typer.Option("--env", help="Environment from detect.toml.")]
ConfigOption = Annotated[Path, typer.Option(help="The environments file.")]
RulesDirOption = Annotated[Path, typer.Option(help="Folder of rule files.")]


def _use_datasources(folder: Optional[Path]) -> Optional[Path]:
    if folder is not None:  # read where the step needs fields, so it is set before the step runs
        from deployer.rules.datasource import use_datasources

        use_datasources(folder)
    return folder


DatasourcesOption = Annotated[Optional[Path], typer.Option("--datasources", callback=_use_datasources,
                              show_default="datasources/, or $DETECT_DATASOURCES", help="Folder of data sources.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=1.0, help="Give up after this long in "
                          "all (each request is bounded too); what was and was not applied is reported.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show every step (even in CI) and, for deploys, each "
                                             "HTTP request with credentials masked.")]

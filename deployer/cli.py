"""The `detect` command line: parse arguments, call one step, render its result. No logic lives here."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from deployer.errors import DetectError

app = typer.Typer(
    name="detect",
    help="Detection-as-code for Elastic Security and OpenSearch: validate, prove and deploy rules kept in git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Format(str, Enum):
    text = "text"
    json = "json"


class Target(str, Enum):
    kibana = "kibana"
    opensearch = "opensearch"


FormatOption = Annotated[Format, typer.Option("--format", help="text for people, json for machines.")]


@app.command()
def validate(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Rule files or folders.", show_default="detections/")] = None,
    base: Annotated[Optional[str], typer.Option(help="Git revision: rules changed since it must raise their version.")] = None,
    output: FormatOption = Format.text,
) -> None:
    """Check rule files: JSON Schema, query dialects, fields, versions. Exit 1 when any rule is invalid."""
    from deployer import render
    from deployer.load import DEFAULT_RULES_DIR
    from deployer.validate import validate_paths

    validation = validate_paths(paths or [DEFAULT_RULES_DIR], base=base)
    if output is Format.json:
        render.dump_json(render.validation_json(validation))
    else:
        render.validation_text(validation)
    raise typer.Exit(0 if validation.ok else 1)


@app.command()
def show(
    rule: Annotated[str, typer.Argument(help="A rule file, or the rule_id of a rule under detections/.")],
    target: Annotated[Target, typer.Option(help="Which engine's payload to print.")] = Target.kibana,
) -> None:
    """Print the exact payload a deploy would send for one rule."""
    from deployer import render
    from deployer.show import payload_for

    render.dump_json(payload_for(rule, target.value))


def main() -> None:
    """Entry point: every DetectError becomes one line on stderr and exit code 2 (1 for invalid rules)."""
    from deployer.errors import InvalidRules

    try:
        app()
    except InvalidRules as error:
        for problem in error.problems:
            sys.stdout.write(f"{problem}\n")
        sys.stderr.write(f"error: {error}\n")
        sys.exit(1)
    except DetectError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)

"""The `detect` command line: parse arguments, call one step, hand its result to deployer.report. No logic here."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeAlias

import typer

from deployer import report, targets
from deployer.cluster import ENGINES


def _plain_flags(params: list[Any]) -> list[Any]:
    """Give flags an empty metavar. typer 0.29's rich help prints every option's type, flags too (`--dry-run <bool>`,
    `--help <bool>`), though a flag takes no value; its plain help already leaves them out."""
    from typer.core import TyperOption

    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Group(typer.core.TyperGroup):
    """A command group whose help, and every subcommand's help, shows flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            # get_params also builds the command's --help option, which is cached: patched once, it stays so.
            _plain_flags(command.get_params(ctx))
        return command


app = typer.Typer(
    name="detect",
    help="Detection-as-code for Elastic Security and OpenSearch: validate, prove and deploy rules kept in git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_Group,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from deployer.errors import DetectError

        try:
            sys.stdout.write(f"detect {version('detect')}\n")
        except PackageNotFoundError:
            raise DetectError("detect is not installed as a package (pip install -e .), so it has no version") from None
        raise typer.Exit(0)


@app.callback()
def _detect(
    version: Annotated[bool, typer.Option("--version", help="Print detect's version and exit.", callback=_print_version,
                                          is_eager=True)] = False,
) -> None:
    """Detection-as-code for Elastic Security and OpenSearch: validate, prove and deploy rules kept in git."""


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


@app.command()
def validate(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Rule files or folders.", show_default="detections/")] = None,
    base: Annotated[Optional[str], typer.Option(help="Git revision: rules changed since it must raise their version.")] = None,
    fixtures: Annotated[Path, typer.Option(help="Fixtures root: each rule's <rule file stem>/ folder is checked too.")] = Path("fixtures"),
    config: Annotated[Optional[Path], typer.Option(help="The environments file, checked against the rules.",
                                                   show_default="detect.toml, when it exists and no paths are given")] = None,
    output: FormatOption = "text",
    datasources: DatasourcesOption = None,
) -> None:
    """Check rule files: JSON Schema, query dialects, fields, versions, fixtures; and detect.toml. Exit 1 on any problem."""
    import dataclasses

    from deployer.environments import DEFAULT_CONFIG, check_config
    from deployer.rules.files import DEFAULT_RULES_DIR
    from deployer.rules.ruleset import validate_paths

    validation = validate_paths(paths or [DEFAULT_RULES_DIR], base=base, fixtures=fixtures)
    # Only against every rule: an exclusion for a rule left out of the paths given is not unknown.
    config = config or (DEFAULT_CONFIG if not paths and DEFAULT_CONFIG.is_file() else None)
    if config is not None:
        validation = dataclasses.replace(validation, problems=[*validation.problems, *check_config(config, validation.rules)])
    report.emit(validation, output)
    raise typer.Exit(0 if validation.ok else 1)


@app.command()
def show(
    rule: Annotated[str, typer.Argument(help="A rule file, or the rule_id of a rule under detections/.")],
    target: Annotated[TargetName, typer.Option(help="Which engine's payload to print.")] = TARGETS[0],
) -> None:
    """Print the exact payload a deploy would send for one rule."""
    from deployer.authoring.show import payload_for

    report.emit(payload_for(rule, target), "json")


@app.command("test")
def test_rules(
    rules: Annotated[Optional[list[str]], typer.Argument(help="Rule files, stems or rule_ids.", show_default="all")] = None,
    fixtures: Annotated[Path, typer.Option(help="Fixtures root: <rule file stem>/match.ndjson, nomatch.ndjson.")] = Path("fixtures"),
    engine: Annotated[Optional[EngineSet], typer.Option(help="Engine(s) to prove the rules on.",
                                                         show_default=f"{ENGINES[0]}; with --env, the environment's")] = None,
    cluster_url: Annotated[Optional[str], typer.Option(help="Use this cluster instead of a local throwaway node.")] = None,
    ca_cert: Annotated[Optional[Path], typer.Option(help="CA bundle for --cluster-url.")] = None,
    insecure: Annotated[bool, typer.Option(help="Do not verify TLS certificates of --cluster-url.")] = False,
    env: Annotated[Optional[str], typer.Option("--env", help="Prove on this environment's own clusters (detect.toml), "
                                               "with its TLS settings and credentials.")] = None,
    config: ConfigOption = Path("detect.toml"),
    require_fixtures: Annotated[bool, typer.Option("--require-fixtures", help="Fail when a rule has no fixture folder; "
                                "without it such a rule is reported as not proven: no fixtures.")] = False,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Prove on a real engine that each rule alerts on exactly its match fixtures. Exit 1 on any failure.

    Credentials for --cluster-url come from DETECT_CLUSTER_USERNAME / DETECT_CLUSTER_PASSWORD or
    DETECT_CLUSTER_API_KEY; with --env, from the variables detect.toml names. The proof writes throwaway indices
    (detect-proof-*) and removes them.
    """
    from deployer.authoring.show import select_rules
    from deployer.prove import prove
    from deployer.prove.engines import connection_from_environment

    selected = select_rules(rules or [])
    # Where the proof runs: --cluster-url's cluster, an environment's own clusters (by engine), or (None) a running
    # `detect cluster up` node or a throwaway one.
    connection = connection_from_environment(cluster_url, ca_cert, insecure) if cluster_url else None
    by_engine = _environment_clusters(env, config, selected, cluster_url) if env else None
    if engine is None:  # an environment's engines, else the first
        engines = tuple(name for name in ENGINES if by_engine and name in by_engine) or ENGINES[:1]
    else:
        engines = ENGINES if engine == "all" else (engine,)
    report.verbose_logging(verbose)
    with report.progress_bar(output, verbose=verbose) as progress:
        proof = prove(selected, engines=engines, fixtures_root=fixtures, connection=connection,
                      settings_for_engine=by_engine, progress=progress, require_fixtures=require_fixtures)
    report.emit(proof, output, fixtures_root=fixtures)
    raise typer.Exit(0 if proof.ok else 1)


def _environment_clusters(env: str, config: Path, rules: list[Any], cluster_url: str | None) -> dict[str, Any]:
    """Engine -> the environment's cluster its rules run on (`detect test --env`)."""
    from deployer.environments import engine_connections, load_environment
    from deployer.errors import DetectError

    if cluster_url:
        raise DetectError("--env and --cluster-url both say where to prove: give one of them")
    return engine_connections(load_environment(env, config, rules))


@app.command()
def deploy(
    env: EnvOption,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
    prune: Annotated[bool, typer.Option(help="Delete deployed rules detect manages that are no longer in the repository.")] = False,
    force: Annotated[bool, typer.Option(help="Allow downgrades (a deployed version newer than the file's).")] = False,
    adopt: Annotated[Optional[list[str]], typer.Option("--adopt", metavar="RULE_ID", help="Take over the rule with this "
                     "rule_id that was made outside detect (planned as `conflict` otherwise). Repeatable.")] = None,
    overwrite_drift: Annotated[bool, typer.Option("--overwrite-drift", help="Replace rules changed outside detect since "
                               "it deployed them (planned as `drift` otherwise; `detect diff` shows the changes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Apply to a protected environment without asking.")] = False,
    config: ConfigOption = Path("detect.toml"),
    rules_dir: RulesDirOption = Path("detections"),
    datasources: DatasourcesOption = None,
    timeout: TimeoutOption = 300.0,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Plan, then apply, the repository's rules to one environment's Kibana spaces and OpenSearch clusters.

    Every rule is validated before the first network call; the plan is printed before anything is written.
    A rule made outside detect with the same rule_id (conflict) and a rule changed outside detect since it was
    deployed (drift) are left alone, and so is the rest of the plan: nothing is written until the plan is clean.
    Exit 0 when everything planned was applied (or --dry-run), 1 when anything was refused, in conflict, drifted or
    failed, 2 when the deploy could not start.
    """
    from deployer.deploy.plan import PlanOptions
    from deployer.deploy.run import deploy_environment
    from deployer.errors import DetectError

    def confirm(environment: Any, entries: Any) -> bool:
        report.plan(entries, header=f"Plan for {environment.name}", output=output)
        if not environment.protected or yes:
            return True
        if not sys.stdin.isatty():
            raise DetectError(f"environment {environment.name!r} is protected: rerun with --yes to apply (nothing was changed)")
        return typer.confirm(f"Apply this plan to {environment.name}?", default=False)

    report.verbose_logging(verbose)
    options = PlanOptions(prune=prune, force=force, overwrite_drift=overwrite_drift, adopt=frozenset(adopt or ()))
    deployed = deploy_environment(env, config_path=config, rules_dir=rules_dir, dry_run=dry_run, options=options,
                                  timeout=timeout, confirm=confirm,
                                  progress=report.progress_lines(output, verbose=verbose))
    report.emit(deployed, output)
    raise typer.Exit(0 if deployed.ok else 1)


@app.command()
def diff(
    env: EnvOption,
    rules: Annotated[Optional[list[str]], typer.Argument(metavar="[RULE]...", help="rule_ids or rule file stems.",
                                                         show_default="all")] = None,
    config: ConfigOption = Path("detect.toml"),
    rules_dir: RulesDirOption = Path("detections"),
    datasources: DatasourcesOption = None,
    timeout: TimeoutOption = 300.0,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Show, per rule and target, what differs between the repository and what is deployed (drift included), as a
    unified diff from the deployed rule to the repository's. Exit 0 when nothing differs, 1 when anything does."""
    from deployer.deploy.run import diff_environment

    report.verbose_logging(verbose)
    diffs = diff_environment(env, config_path=config, rules_dir=rules_dir, rule_ids=list(rules or []), timeout=timeout,
                             progress=report.progress_lines(output, verbose=verbose))
    report.emit(diffs, output)
    raise typer.Exit(1 if any(item.text for item in diffs) else 0)


@app.command()
def export(
    target: Annotated[TargetName, typer.Option(help="kibana: NDJSON for Kibana's Import rules screen; opensearch: Alerting monitors.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write; - for stdout.")] = Path("-"),
    env: Annotated[Optional[str], typer.Option("--env", help="Compile as this environment of detect.toml runs the rules.")] = None,
    config: Annotated[Path, typer.Option(help="The environments file (with --env).")] = Path("detect.toml"),
    rules_dir: RulesDirOption = Path("detections"),
    datasources: DatasourcesOption = None,
) -> None:
    """Write every rule as one target's payloads, one per line (NDJSON), the same payloads a deploy sends."""
    from deployer.authoring.export import export_payloads, to_ndjson, write_export
    from deployer.report.text import exported

    ndjson = to_ndjson(export_payloads(target, rules_dir=rules_dir, environment=env, config_path=config))
    if str(output) == "-":
        sys.stdout.write(ndjson)
        return
    write_export(ndjson, output)
    exported(output, ndjson, targets.target_kind(target))


@app.command("import")
def import_rules(
    export_file: Annotated[Path, typer.Argument(metavar="FILE", help="A Kibana rules export (.ndjson).")],
    into: Annotated[Path, typer.Option("--into", help="Folder to write the rule files to.")] = Path("detections"),
    force: Annotated[bool, typer.Option(help="Replace rule files that already exist.")] = False,
) -> None:
    """Turn a Kibana rules export into detect rule files. Exit 1 when any rule was skipped or is invalid."""
    from deployer.authoring.adopt import import_export

    imported = import_export(export_file, into, source=targets.target_kind("kibana"), force=force)
    report.emit(imported)
    raise typer.Exit(0 if imported.ok else 1)


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The rule's name; its file is named after it.")],
    language: Annotated[LanguageName, typer.Option(help="Query language of the rule.")] = LANGUAGES[0],
    rules_dir: RulesDirOption = Path("detections"),
    fixtures: Annotated[Path, typer.Option(help="Fixtures root.")] = Path("fixtures"),
    datasources: DatasourcesOption = None,
) -> None:
    """Scaffold a rule (fresh rule_id, version 1) and its fixture folder. Its TODO: texts are yours to write:
    validation refuses them until then; the query and fixtures prove as written."""
    from deployer.authoring.scaffold import scaffold_rule
    from deployer.report.text import scaffolded

    scaffolded(*scaffold_rule(name, language=language, rules_dir=rules_dir, fixtures_dir=fixtures))


cluster_app = typer.Typer(help="A local throwaway cluster that outlives one command.", no_args_is_help=True, cls=_Group)
app.add_typer(cluster_app, name="cluster")
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
                             no_args_is_help=True, cls=_Group)
app.add_typer(datasource_app, name="datasource")


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


def main() -> None:
    """Entry point: every DetectError becomes one line on stderr and exit code 2 (1 for invalid rules)."""
    report.warnings_to_stderr()
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as error:
        sys.exit(_failure(error))


def _failure(error: Exception) -> int:
    """Say in one line what stopped the command; its exit code. The error classes are imported only once something
    failed, which keeps every start-up (`detect --help`) from loading them."""
    from deployer.errors import DetectError, InvalidRules

    if isinstance(error, InvalidRules):
        from deployer.report.text import problem_lines

        problem_lines(error.problems)
        sys.stderr.write(f"error: {error}\n")
        return 1
    if isinstance(error, DetectError):
        sys.stderr.write(f"error: {error}\n")
        return 2
    if os.environ.get("DETECT_DEBUG"):  # a bug in detect: still one line, the traceback only on request
        raise error
    sys.stderr.write(f"internal error: {type(error).__name__}: {error} (set DETECT_DEBUG=1 for the traceback)\n")
    return 3

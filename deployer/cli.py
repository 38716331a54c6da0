"""The `detect` command line: parse arguments, call one step, hand its result to deployer.report. No logic here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from deployer import report, targets
from deployer.cli_groups import cluster_app, datasource_app
from deployer.cli_options import (
    ENGINES,
    LANGUAGES,
    TARGETS,
    ConfigOption,
    DatasourcesOption,
    EngineSet,
    EnvOption,
    FormatOption,
    Group,
    LanguageName,
    RulesDirOption,
    TargetName,
    TimeoutOption,
    VerboseOption,
)

app = typer.Typer(
    name="detect",
    help="Detection-as-code for Elastic Security and OpenSearch: validate, prove and deploy rules kept in git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=Group,
)
app.add_typer(cluster_app, name="cluster")
app.add_typer(datasource_app, name="datasource")


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
    from deployer.prove import prove
    from deployer.prove.engines import connection_from_environment
    from deployer.rules.ruleset import select_rules

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

"""The `detect` command line: parse arguments, call one step, render its result. No logic lives here."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from deployer.errors import DetectError


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


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class Target(str, Enum):
    kibana = "kibana"
    opensearch = "opensearch"


FormatOption = Annotated[Format, typer.Option("--format", help="text for people, json for machines, github for "
                                               "annotations and a job summary in GitHub Actions.")]
EnvOption = Annotated[str, typer.Option("--env", help="Environment from detect.toml.")]
ConfigOption = Annotated[Path, typer.Option(help="The environments file.")]
RulesDirOption = Annotated[Path, typer.Option(help="Folder of rule files.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=1.0, help="Give up after this long in "
                          "all (each request is bounded too); what was and was not applied is reported.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show every step (even in CI) and, for deploys, each "
                                             "HTTP request with credentials masked.")]


def _verbose_logging(verbose: bool) -> None:
    if verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("detect")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def _warnings_to_stderr() -> None:
    """Settings that weaken a run (`tls.verify = false`) are said on every run, as `warning: ...` lines."""
    import logging

    warnings_log = logging.getLogger("detect.warnings")  # deployer.environments's, named here to keep start-up light
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    warnings_log.addHandler(handler)
    warnings_log.propagate = False  # --verbose's handler on `detect` would print each twice


@app.command()
def validate(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Rule files or folders.", show_default="detections/")] = None,
    base: Annotated[Optional[str], typer.Option(help="Git revision: rules changed since it must raise their version.")] = None,
    fixtures: Annotated[Path, typer.Option(help="Fixtures root: each rule's <rule file stem>/ folder is checked too.")] = Path("fixtures"),
    config: Annotated[Optional[Path], typer.Option(help="The environments file, checked against the rules.",
                                                   show_default="detect.toml, when it exists and no paths are given")] = None,
    output: FormatOption = Format.text,
) -> None:
    """Check rule files: JSON Schema, query dialects, fields, versions, fixtures; and detect.toml. Exit 1 on any problem."""
    import dataclasses

    from deployer.environments import DEFAULT_CONFIG, check_config
    from deployer.report import render
    from deployer.rules.files import DEFAULT_RULES_DIR
    from deployer.rules.ruleset import validate_paths

    validation = validate_paths(paths or [DEFAULT_RULES_DIR], base=base, fixtures=fixtures)
    # Only against every rule: an exclusion for a rule left out of the paths given is not unknown.
    config = config or (DEFAULT_CONFIG if not paths and DEFAULT_CONFIG.is_file() else None)
    if config is not None:
        validation = dataclasses.replace(validation, problems=[*validation.problems, *check_config(config, validation.rules)])
    if output is Format.json:
        render.dump_json(render.validation_json(validation))
    elif output is Format.github:
        from deployer.report.github import validation_github

        validation_github(validation)
        render.validation_text(validation)
    else:
        render.validation_text(validation)
    raise typer.Exit(0 if validation.ok else 1)


@app.command()
def show(
    rule: Annotated[str, typer.Argument(help="A rule file, or the rule_id of a rule under detections/.")],
    target: Annotated[Target, typer.Option(help="Which engine's payload to print.")] = Target.kibana,
) -> None:
    """Print the exact payload a deploy would send for one rule."""
    from deployer.authoring.show import payload_for
    from deployer.report import render

    render.dump_json(payload_for(rule, target.value))


class EngineChoice(str, Enum):
    opensearch = "opensearch"
    elasticsearch = "elasticsearch"
    all = "all"


class ClusterEngine(str, Enum):
    opensearch = "opensearch"
    elasticsearch = "elasticsearch"


@app.command("test")
def test_rules(
    rules: Annotated[Optional[list[str]], typer.Argument(help="Rule files, stems or rule_ids.", show_default="all")] = None,
    fixtures: Annotated[Path, typer.Option(help="Fixtures root: <rule file stem>/match.ndjson, nomatch.ndjson.")] = Path("fixtures"),
    engine: Annotated[EngineChoice, typer.Option(help="Engine(s) to prove the rules on.")] = EngineChoice.opensearch,
    cluster_url: Annotated[Optional[str], typer.Option(help="Use this cluster instead of a local throwaway node.")] = None,
    ca_cert: Annotated[Optional[Path], typer.Option(help="CA bundle for --cluster-url.")] = None,
    insecure: Annotated[bool, typer.Option(help="Do not verify TLS certificates of --cluster-url.")] = False,
    output: FormatOption = Format.text,
    verbose: VerboseOption = False,
) -> None:
    """Prove on a real engine that each rule alerts on exactly its match fixtures. Exit 1 on any failure.

    Credentials for --cluster-url come from DETECT_CLUSTER_USERNAME / DETECT_CLUSTER_PASSWORD or
    DETECT_CLUSTER_API_KEY.
    """
    from deployer.authoring.show import select_rules
    from deployer.prove import prove
    from deployer.prove.engines import connection_from_environment
    from deployer.report import render

    selected = select_rules(rules or [])
    engines = ("opensearch", "elasticsearch") if engine is EngineChoice.all else (engine.value,)
    connection = connection_from_environment(cluster_url, ca_cert, insecure) if cluster_url else None
    _verbose_logging(verbose)
    with render.progress_display(enabled=output is not Format.json, verbose=verbose) as progress:
        report = prove(selected, engines=engines, fixtures_root=fixtures, connection=connection, progress=progress)
    if output is Format.json:
        render.dump_json(render.proof_json(report))
    else:
        if output is Format.github:
            from deployer.report.github import proof_github

            proof_github(report, fixtures)
        render.proof_text(report)
    raise typer.Exit(0 if report.ok else 1)


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
    timeout: TimeoutOption = 300.0,
    output: FormatOption = Format.text,
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
    from deployer.report import render

    def confirm(environment: Any, entries: Any) -> bool:
        if output is not Format.json:
            render.plan_text(entries, header=f"Plan for {environment.name}")
        if not environment.protected or yes:
            return True
        if not sys.stdin.isatty():
            raise DetectError(f"environment {environment.name!r} is protected: rerun with --yes to apply (nothing was changed)")
        return typer.confirm(f"Apply this plan to {environment.name}?", default=False)

    _verbose_logging(verbose)
    options = PlanOptions(prune=prune, force=force, overwrite_drift=overwrite_drift, adopt=frozenset(adopt or ()))
    report = deploy_environment(env, config_path=config, rules_dir=rules_dir, dry_run=dry_run, options=options,
                                timeout=timeout, confirm=confirm,
                                progress=render.progress_printer(enabled=output is not Format.json, verbose=verbose))
    if output is Format.json:
        render.dump_json(render.deploy_json(report))
    else:
        if output is Format.github:
            from deployer.report.github import deploy_github

            deploy_github(report)
        render.deploy_text(report)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def diff(
    env: EnvOption,
    rules: Annotated[Optional[list[str]], typer.Argument(metavar="[RULE]...", help="rule_ids or rule file stems.",
                                                         show_default="all")] = None,
    config: ConfigOption = Path("detect.toml"),
    rules_dir: RulesDirOption = Path("detections"),
    timeout: TimeoutOption = 300.0,
    output: FormatOption = Format.text,
    verbose: VerboseOption = False,
) -> None:
    """Show, per rule and target, what differs between the repository and what is deployed (drift included), as a
    unified diff from the deployed rule to the repository's. Exit 0 when nothing differs, 1 when anything does."""
    from deployer.deploy.run import diff_environment
    from deployer.report import render

    _verbose_logging(verbose)
    diffs = diff_environment(env, config_path=config, rules_dir=rules_dir, rule_ids=list(rules or []), timeout=timeout,
                             progress=render.progress_printer(enabled=output is not Format.json, verbose=verbose))
    if output is Format.json:
        render.dump_json(render.diff_json(diffs))
    else:
        render.diff_text(diffs)
    raise typer.Exit(1 if any(item.text for item in diffs) else 0)


@app.command()
def export(
    target: Annotated[Target, typer.Option(help="kibana: NDJSON for Kibana's Import rules screen; opensearch: Alerting monitors.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write; - for stdout.")] = Path("-"),
    env: Annotated[Optional[str], typer.Option("--env", help="Compile as this environment of detect.toml runs the rules.")] = None,
    config: Annotated[Path, typer.Option(help="The environments file (with --env).")] = Path("detect.toml"),
    rules_dir: RulesDirOption = Path("detections"),
) -> None:
    """Write every rule as one target's payloads, one per line (NDJSON), the same payloads a deploy sends."""
    from deployer.authoring.export import KIBANA_IMPORT_LIMIT, export_payloads, to_ndjson, write_export

    text = to_ndjson(export_payloads(target.value, rules_dir=rules_dir, environment=env, config_path=config))
    if str(output) == "-":
        sys.stdout.write(text)
        return
    write_export(text, output)
    count = text.count("\n")
    sys.stderr.write(f"wrote {count} {'rule' if target is Target.kibana else 'monitor'}(s) to {output}\n")
    if target is Target.kibana and len(text.encode("utf-8")) > KIBANA_IMPORT_LIMIT:
        sys.stderr.write(f"warning: {output} is over Kibana's default 10 MB import limit: export fewer rules per file\n")


@app.command("import")
def import_rules(
    export_file: Annotated[Path, typer.Argument(metavar="FILE", help="A Kibana rules export (.ndjson).")],
    into: Annotated[Path, typer.Option("--into", help="Folder to write the rule files to.")] = Path("detections"),
    force: Annotated[bool, typer.Option(help="Replace rule files that already exist.")] = False,
) -> None:
    """Turn a Kibana rules export into detect rule files. Exit 1 when any rule was skipped or is invalid."""
    from deployer.authoring.adopt import import_kibana_export
    from deployer.report import render

    report = import_kibana_export(export_file, into, force=force)
    render.import_text(report)
    raise typer.Exit(0 if report.ok else 1)


class Language(str, Enum):
    dsl = "dsl"
    eql = "eql"


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The rule's name; its file is named after it.")],
    language: Annotated[Language, typer.Option(help="Query language of the rule.")] = Language.dsl,
    rules_dir: RulesDirOption = Path("detections"),
    fixtures: Annotated[Path, typer.Option(help="Fixtures root.")] = Path("fixtures"),
) -> None:
    """Scaffold a rule (fresh rule_id, version 1) and its fixture folder. Its TODO: texts are yours to write:
    validation refuses them until then; the query and fixtures prove as written."""
    from deployer.authoring.scaffold import scaffold_rule

    rule_path, fixture_folder = scaffold_rule(name, language=language.value, rules_dir=rules_dir, fixtures_dir=fixtures)
    sys.stdout.write(f"{rule_path}\n{fixture_folder / 'match.ndjson'}\n{fixture_folder / 'nomatch.ndjson'}\n")
    sys.stderr.write(f"next: edit the query and the fixtures together, then `detect validate {rule_path}` and "
                     f"`detect test {rule_path}`\n")


cluster_app = typer.Typer(help="A local throwaway cluster that outlives one command.", no_args_is_help=True, cls=_Group)
app.add_typer(cluster_app, name="cluster")
EngineOption = Annotated[ClusterEngine, typer.Option(help="Which engine.")]


class ClusterFormat(str, Enum):
    text = "text"
    json = "json"


ClusterFormatOption = Annotated[ClusterFormat, typer.Option("--format", help="text: one line per engine for people; "
                                                            "json: one document for machines.")]


def _cluster_output(report: Any, output: ClusterFormat) -> None:
    if output is ClusterFormat.json:
        from deployer.report import render

        render.dump_json(report.as_json())
    else:
        sys.stdout.write("".join(f"{line}\n" for line in report.lines()))


@cluster_app.command("up")
def cluster_up(engine: EngineOption = ClusterEngine.opensearch, output: ClusterFormatOption = ClusterFormat.text,
               verbose: VerboseOption = False) -> None:
    """Start a local single-node cluster on loopback (downloads the engine once) and leave it running.

    A node a killed `cluster up` left behind, and its folder, are removed first.
    """
    from deployer.cluster.local import cluster_up as up
    from deployer.report import render

    with render.progress_display(enabled=output is not ClusterFormat.json, verbose=verbose) as progress:
        report = up(engine.value, progress=progress)
    _cluster_output(report, output)


@cluster_app.command("status")
def cluster_status(
    engine: Annotated[Optional[ClusterEngine], typer.Option(help="Only this engine.", show_default="every engine")] = None,
    output: ClusterFormatOption = ClusterFormat.text,
) -> None:
    """Show, per engine, whether the local cluster is running and where it listens.

    Exit 0 when a node runs (of --engine, or of any engine without it), 1 when none does.

    A node a killed `cluster up` left behind, and its folder, are removed on the way.
    """
    from deployer.cluster.local import cluster_status as status

    report = status([engine.value] if engine else [choice.value for choice in ClusterEngine])
    _cluster_output(report, output)
    raise typer.Exit(0 if report.running else 1)


@cluster_app.command("down")
def cluster_down(engine: EngineOption = ClusterEngine.opensearch, output: ClusterFormatOption = ClusterFormat.text) -> None:
    """Stop the local cluster and remove its data folder (and whatever a killed `cluster up` left behind)."""
    from deployer.cluster.local import cluster_down as down
    from deployer.report import render

    # Its one progress line says why it waits (a `cluster up` at work), so it shows in CI too.
    report = down(engine.value, progress=render.progress_printer(enabled=output is not ClusterFormat.json, verbose=True))
    _cluster_output(report, output)


def main() -> None:
    """Entry point: every DetectError becomes one line on stderr and exit code 2 (1 for invalid rules)."""
    from deployer.errors import InvalidRules

    _warnings_to_stderr()
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
    except Exception as error:  # a bug in detect: still one line, the traceback only on request
        if os.environ.get("DETECT_DEBUG"):
            raise
        sys.stderr.write(f"internal error: {type(error).__name__}: {error} (set DETECT_DEBUG=1 for the traceback)\n")
        sys.exit(3)
